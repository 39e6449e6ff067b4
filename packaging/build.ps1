# Build the one-folder app with PyInstaller on Windows. Output: dist\studio\ (studio.exe + studio-gui.exe).
#
#   powershell -ExecutionPolicy Bypass -File packaging\build.ps1
#
# Environment: PYTHON (default: py -3.12 if the launcher exists, else python), STUDIO_BUILD_VENV (default:
# build\venv), STUDIO_BUILD_REINSTALL=1, STUDIO_WEIGHTS_ARGS (e.g. "--rows 96 128"), STUDIO_SKIP_WEIGHTS=1.
$ErrorActionPreference = "Stop"
$Root = Split-Path -Parent $PSScriptRoot
Set-Location $Root

$Venv = if ($env:STUDIO_BUILD_VENV) { $env:STUDIO_BUILD_VENV } else { Join-Path $Root "build\venv" }
$Py = Join-Path $Venv "Scripts\python.exe"

function Invoke-Checked {
    param([string]$Exe, [string[]]$Arguments)
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

if (-not (Test-Path $Py)) {
    Write-Host "== creating build venv $Venv"
    if ($env:PYTHON) { Invoke-Checked $env:PYTHON @("-m", "venv", $Venv) }
    elseif (Get-Command py -ErrorAction SilentlyContinue) { Invoke-Checked "py" @("-3.12", "-m", "venv", $Venv) }
    else { Invoke-Checked "python" @("-m", "venv", $Venv) }
}

& $Py -c "import studio, PyInstaller, tensorflow, tf_keras" 2>$null
if ($env:STUDIO_BUILD_REINSTALL -or $LASTEXITCODE -ne 0) {
    Write-Host "== installing Studio and PyInstaller into $Venv"
    Invoke-Checked $Py @("-m", "pip", "install", "--quiet", "--upgrade", "pip")
    Invoke-Checked $Py @("-m", "pip", "install", "--quiet", "pyinstaller>=6.10,<7", "-e", $Root)
}

if (-not $env:STUDIO_SKIP_WEIGHTS) {
    Write-Host "== fetching MobileNetV2 ImageNet weights into resources\weights"
    $extra = if ($env:STUDIO_WEIGHTS_ARGS) { $env:STUDIO_WEIGHTS_ARGS -split " " } else { @() }
    Invoke-Checked $Py (@("packaging\fetch_weights.py") + $extra)
}

Write-Host "== PyInstaller"
Invoke-Checked $Py @("-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
    "--distpath", (Join-Path $Root "dist"), "--workpath", (Join-Path $Root "build\pyinstaller"),
    "packaging\studio.spec")

$size = (Get-ChildItem -Recurse (Join-Path $Root "dist\studio") | Measure-Object -Property Length -Sum).Sum
Write-Host ("== built {0:N0} MB in dist\studio" -f ($size / 1MB))
