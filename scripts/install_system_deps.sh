#!/usr/bin/env bash
# Debian packages the browser test of the Gradio demo needs (tests/test_demo_web.py).
# Idempotent: installs only what is missing. Run as root (CI image) or through sudo.
# Chromium comes from the distribution, never from playwright's own downloader.
set -euo pipefail

PACKAGES=(chromium fonts-dejavu-core)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install_system_deps: already installed: ${PACKAGES[*]}"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install_system_deps: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
echo "install_system_deps: installed ${missing[*]}; chromium at $(command -v chromium)"
