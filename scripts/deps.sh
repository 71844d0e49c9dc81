#!/usr/bin/env bash
# Installs the Debian packages hvagent needs, only those that are missing.
set -euo pipefail

# gcc, libc6-dev: cgo (SQLite). qemu-system-x86, qemu-utils: the QEMU and
# storage drivers and their tests. iproute2: tap devices on bridges. cpio,
# busybox-static: the tiny test guest (scripts/guest-image.sh).
packages=(gcc libc6-dev qemu-system-x86 qemu-utils iproute2 cpio busybox-static)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing missing packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
