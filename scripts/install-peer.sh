#!/usr/bin/env bash
# install-peer.sh: installs the NumPy peer's dependencies (Debian packages): NumPy and the
# pthread build of OpenBLAS that NumPy's BLAS calls then go to. Idempotent: does nothing when
# both are installed. Needs root (or sudo) and apt-get.
#
#   scripts/install-peer.sh
set -euo pipefail

readonly PACKAGES=(python3-numpy libopenblas0-pthread)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    echo "install-peer: already installed: ${PACKAGES[*]}"
    exit 0
fi

sudo=()
if ((EUID != 0)); then
    command -v sudo >/dev/null || { echo "install-peer: needs root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "install-peer: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "${missing[@]}"
