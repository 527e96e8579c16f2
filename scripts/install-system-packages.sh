#!/usr/bin/env bash
# Install the Debian packages the project needs (Qt runtime, Xvfb, poppler, dicom3tools, mdbtools,
# unixODBC with the SQLite ODBC driver, Orthanc).
# Idempotent: does nothing when every package is already installed. Needs root (or sudo).
set -euo pipefail
PKGS=(
  # Qt runtime (offscreen and xcb)
  libegl1 libgl1 libopengl0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libfreetype6 libdbus-1-3
  libglib2.0-0 fonts-dejavu-core libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libcups2
  # virtual display and screenshots
  xvfb xauth imagemagick
  # PDF checks (pdftotext, pdftoppm, pdfsig)
  poppler-utils
  # DICOM validation (dciodvfy) and a reference toolkit (dcmtk)
  dicom3tools dcmtk
  # Hologic APEX database (mdb-export); ODBC (the Windows path of the APEX reader, tested
  # through the SQLite ODBC driver)
  mdbtools unixodbc libsqliteodbc
  # PACS peer for integration tests
  orthanc
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "error: missing Debian packages (${missing[*]}) and not root; run this script as root" >&2; exit 1
  fi
fi
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends --no-upgrade "${missing[@]}" >/dev/null
echo "system packages: done"
