#!/bin/sh
# Assembles the operator image's root filesystem in ROOTFS, distroless-style: the Debian packages in DEBS (libc6,
# libgcc-s1, libstdc++6, ca-certificates) extracted without maintainer scripts, the node binary NODE, the staged app
# APP (scripts/image/stage-app.sh), and a nonroot user; no shell, no package manager, no npm.
# scripts/build-image.sh and the Dockerfile's rootfs stage both run this script, so both images hold the same files.
# Usage: assemble-rootfs.sh ROOTFS DEBS NODE APP
set -eu

ROOTFS="$1"
DEBS="$2"
NODE="$3"
APP="$4"

mkdir -p "$ROOTFS/var/lib/dpkg/status.d"
for deb in "$DEBS"/*.deb; do
  dpkg-deb -x "$deb" "$ROOTFS"
  # What distroless records, so image scanners (trivy, grype) see which Debian packages and versions are inside.
  dpkg-deb -f "$deb" >"$ROOTFS/var/lib/dpkg/status.d/$(dpkg-deb -f "$deb" Package)"
done

# What no program here uses: maintainer tools (shell scripts), debugger helpers, translations, iconv modules (ICU in
# node does conversions), and documentation except the licences.
rm -rf "$ROOTFS/usr/sbin" "$ROOTFS/usr/share/gcc" "$ROOTFS/usr/share/gdb" "$ROOTFS/usr/share/lintian" \
  "$ROOTFS/usr/share/locale" "$ROOTFS/usr/lib/"*-linux-gnu/gconv "$ROOTFS/etc/ca-certificates" \
  "$ROOTFS/etc/ld.so.conf.d"
find "$ROOTFS/usr/share/doc" -type f ! -name copyright -exec rm -f {} +
find "$ROOTFS/usr/share/doc" -type d -empty -delete

# update-ca-certificates would build this bundle; it is the concatenation of the certificates, in name order.
mkdir -p "$ROOTFS/etc/ssl/certs"
find "$ROOTFS/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | while read -r crt; do
  cat "$crt"
done >"$ROOTFS/etc/ssl/certs/ca-certificates.crt"

mkdir -p "$ROOTFS/usr/local/bin" "$ROOTFS/usr/local/share/doc/node"
cp "$NODE" "$ROOTFS/usr/local/bin/node"
chmod 0755 "$ROOTFS/usr/local/bin/node"
if [ -f "$(dirname "$NODE")/../share/LICENSE" ]; then
  cp "$(dirname "$NODE")/../share/LICENSE" "$ROOTFS/usr/local/share/doc/node/LICENSE"
fi

cp -R "$APP" "$ROOTFS/app"

# The distroless users: root, and nonroot (65532), which the image runs as. No login shell exists.
cat >"$ROOTFS/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$ROOTFS/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
GROUP
# Without it glibc asks DNS before /etc/hosts.
echo "hosts: files dns" >"$ROOTFS/etc/nsswitch.conf"
mkdir -p "$ROOTFS/tmp" "$ROOTFS/root" "$ROOTFS/home/nonroot"
chmod 1777 "$ROOTFS/tmp"
chmod 0700 "$ROOTFS/root" "$ROOTFS/home/nonroot"
chown 65532:65532 "$ROOTFS/home/nonroot"
