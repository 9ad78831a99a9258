#!/usr/bin/env bash
# Installs what scripts/build-image.sh and `npm run test:image` need from Debian's packages: umoci (writes and unpacks
# the OCI image) and runc (runs it; Debian's crun 1.8 refuses this machine kind's hybrid cgroup layout). dpkg-deb and
# apt-get come with Debian. Needs root; does nothing when both are installed.
set -euo pipefail
missing=()
command -v umoci >/dev/null || missing+=(umoci)
command -v runc >/dev/null || missing+=(runc)
[ ${#missing[@]} -eq 0 ] && { echo "[image-tools] umoci and runc are installed" >&2; exit 0; }
if [ "$(id -u)" -ne 0 ]; then
  echo "[image-tools] missing ${missing[*]}: run as root, or apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "[image-tools] apt-get install ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
