#!/usr/bin/env bash
# Wrap dist/Studio.app (from build.sh on macOS) as a compressed disk image with an /Applications link.
#
#   packaging/make_dmg.sh [VERSION]        -> dist/SmallModelStudio-VERSION-macos-arm64.dmg
#
# Signing and notarization happen around this script (packaging/README.md): sign the .app before, then sign,
# notarize and staple the .dmg after. With CODESIGN_IDENTITY set, this script signs both itself.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VERSION="${1:-$(python3 -c "import tomllib; print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")}"
APP="$ROOT/dist/Studio.app"
ARCH="$(uname -m | sed 's/x86_64/x64/')"
DMG="$ROOT/dist/SmallModelStudio-$VERSION-macos-$ARCH.dmg"
[ -d "$APP" ] || { echo "make_dmg: $APP is missing; run packaging/build.sh first" >&2; exit 1; }

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
  echo "== signing Studio.app as $CODESIGN_IDENTITY (hardened runtime)"
  codesign --force --deep --options runtime --timestamp \
    --entitlements "$ROOT/packaging/entitlements.plist" --sign "$CODESIGN_IDENTITY" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
fi

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
echo "== creating $DMG"
hdiutil create -volname "Small Model Studio" -srcfolder "$STAGE" -fs HFS+ -format UDZO -imagekey zlib-level=9 -ov "$DMG"

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --sign "$CODESIGN_IDENTITY" "$DMG"
fi
echo "== $(du -h "$DMG" | cut -f1) $DMG"
