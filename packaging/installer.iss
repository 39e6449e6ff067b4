; Inno Setup script: wraps the PyInstaller one-folder build (dist\studio) as a Windows installer.
;
;   iscc /DAppVersion=0.1.0 packaging\installer.iss      -> dist\SmallModelStudio-0.1.0-win64-setup.exe
;
; Installs per user by default (no admin rights needed on locked-down factory PCs); an administrator can choose
; "install for all users" in the first dialog. Silent install: setup.exe /VERYSILENT /CURRENTUSER /DIR="C:\x".
; Sign the result with signtool (see packaging/README.md); set SignTool below to sign the uninstaller too.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Small Model Studio"
#define AppExe "studio-gui.exe"

[Setup]
AppId={{6C3E1F2A-8B5D-4E7F-9A21-5D0C4B7E9F13}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=Small Model Studio contributors
AppPublisherURL=https://github.com/small-model-studio/studio
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\dist
OutputBaseFilename=SmallModelStudio-{#AppVersion}-win64-setup
SetupIconFile=..\resources\icons\app.ico
LicenseFile=..\LICENSE
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
; TensorFlow makes the bundle ~1.5 GB; lzma2 brings the installer to roughly a third of that.
Compression=lzma2/normal
SolidCompression=yes
LZMANumBlockThreads=4
WizardStyle=modern
ChangesEnvironment=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the 'studio' command to PATH (for the command line)"; Flags: unchecked

[Files]
Source: "..\dist\studio\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; \
  Tasks: addtopath; Check: not IsAdminInstallMode and NeedsAddPath(ExpandConstant('{app}'))
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; ValueType: expandsz; \
  ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; \
  Check: IsAdminInstallMode and NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the app itself wrote inside its folder; the user's projects and %LOCALAPPDATA% data are kept.
Type: filesandordirs; Name: "{app}\_internal\__pycache__"

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Paths: string;
  Root: Integer;
  Key: string;
begin
  if IsAdminInstallMode then begin
    Root := HKEY_LOCAL_MACHINE;
    Key := 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment';
  end else begin
    Root := HKEY_CURRENT_USER;
    Key := 'Environment';
  end;
  if not RegQueryStringValue(Root, Key, 'Path', Paths) then begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;
