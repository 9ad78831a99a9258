#!/usr/bin/env bash
# Builds the Dockerfile with buildah (no Docker daemon) and checks that it holds the same files, with the same modes,
# owners and sizes, and the same configuration as the image scripts/build-image.sh builds. Registries cannot be pulled
# from here, so the Dockerfile's two base images are stood in for by local ones: Debian bookworm from mmdebstrap, and
# the same with Node.js (.node-version) and npm 10 (what node:22-bookworm-slim carries).
# Needs root, buildah and mmdebstrap (installed with apt when missing); about 3 minutes. Not part of .ci/run:
# test/unit/dockerfile.test.ts checks the key facts on every run; this checks the files, on demand.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
log() { echo "[check-dockerfile] $*" >&2; }
missing=()
for tool in buildah mmdebstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work="$(mktemp -d)"
B=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)
trap '"${B[@]}" rm --all >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

log "base images: Debian bookworm (mmdebstrap), and Node.js $(cat "$ROOT/.node-version") with npm 10 on it"
mmdebstrap --quiet --variant=minbase bookworm "$work/debian.tar" "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian bookworm-updates main" "deb http://deb.debian.org/debian-security bookworm-security main"
c="$("${B[@]}" from scratch)"
"${B[@]}" add "$c" "$work/debian.tar" / >/dev/null
"${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
"${B[@]}" commit -q "$c" localhost/debian:bookworm-slim >/dev/null
node_bin="$(bash "$ROOT/scripts/install-node.sh" | tail -1)/node"
(cd "$work" && npm pack --silent npm@10 >/dev/null)
c="$("${B[@]}" from localhost/debian:bookworm-slim)"
mnt="$("${B[@]}" mount "$c")"
install -D -m 0755 "$node_bin" "$mnt/usr/local/bin/node"
mkdir -p "$mnt/usr/local/lib/node_modules/npm"
tar -xzf "$work"/npm-*.tgz -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
# A machine whose egress re-signs TLS names its CA in NODE_EXTRA_CA_CERTS; npm inside the build needs it too.
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  cp "$NODE_EXTRA_CA_CERTS" "$mnt/etc/host-extra-ca.crt"
  "${B[@]}" config --env NODE_EXTRA_CA_CERTS=/etc/host-extra-ca.crt "$c"
fi
"${B[@]}" umount "$c" >/dev/null
"${B[@]}" commit -q "$c" localhost/node:22-bookworm-slim >/dev/null

log "building the Dockerfile with buildah"
revision="$(git -C "$ROOT" rev-parse HEAD)"
[ -z "$(git -C "$ROOT" status --porcelain)" ] || revision="$revision-dirty"
(cd "$ROOT" && "${B[@]}" bud -q --isolation chroot --pull-never --layers=false \
  --build-arg BUILD_IMAGE=localhost/node:22-bookworm-slim --build-arg DEBIAN_IMAGE=localhost/debian:bookworm-slim \
  --build-arg REVISION="$revision" -t localhost/bird-operator:dockerfile . >/dev/null)
"${B[@]}" push -q localhost/bird-operator:dockerfile "oci:$work/dockerfile:latest" >/dev/null 2>&1

log "building with scripts/build-image.sh"
bash "$ROOT/scripts/build-image.sh" --out "$work/script" >/dev/null

# Each layout's files (path, mode, owner, size; not times) and configuration, as comparable text.
describe() {
  local layout="$1"
  node --input-type=module - "$layout" <<'JS'
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
const layout = process.argv[2];
const blob = (digest) => `${layout}/blobs/${digest.replace(":", "/")}`;
const index = JSON.parse(readFileSync(`${layout}/index.json`, "utf8"));
const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), "utf8"));
const { config } = JSON.parse(readFileSync(blob(manifest.config.digest), "utf8"));
delete config.Labels?.["io.buildah.version"];
const keys = ["User", "Env", "Entrypoint", "Cmd", "WorkingDir", "ExposedPorts", "Labels"];
for (const key of keys) console.log(`config ${key} ${JSON.stringify(config[key] ?? null, Object.keys(config[key] ?? {}).sort())}`);
const files = manifest.layers.flatMap((layer) =>
  execFileSync("tar", ["-tvzf", blob(layer.digest)], { maxBuffer: 256 * 1024 * 1024, encoding: "utf8" }).split("\n").filter(Boolean),
);
const lines = files
  .map((line) => line.split(/\s+/))
  .map(([mode, owner, size, , , ...path]) => [path.join(" ").replace(/^\.?\//, "").replace(/\/$/, ""), mode, owner, mode.startsWith("d") ? "-" : size])
  .filter(([path]) => path && path !== ".")
  .map((fields) => fields.join(" "))
  .sort();
for (const line of lines) console.log(line);
JS
}
describe "$work/dockerfile" >"$work/dockerfile.txt"
describe "$work/script/oci" >"$work/script.txt"
if diff -u "$work/script.txt" "$work/dockerfile.txt" >"$work/diff.txt"; then
  log "the same: $(grep -vc '^config ' "$work/script.txt") files and the configuration"
else
  log "the Dockerfile's image differs from scripts/build-image.sh's (- script, + Dockerfile):"
  head -100 "$work/diff.txt" >&2
  exit 1
fi
