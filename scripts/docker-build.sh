#!/usr/bin/env bash
# `make docker`: the images, assembled from the binaries `make build` produced
# (target/dist/) and from Debian's binaries for the local stand-ins:
#   openclaw/edge:VERSION, :latest        docker/images/edge.Dockerfile
#   openclaw/gateway:VERSION, :latest     docker/images/gateway.Dockerfile
#   openclaw-local/redis:debian           stand-in for the official redis image
#   openclaw-local/prometheus:debian      stand-in for prom/prometheus
# Each is FROM scratch: the binary, the shared libraries `ldd` lists (copied
# with their paths, loader included), busybox-static for healthchecks.
# Starts the engine if none runs (and stops it after).
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=${OPENCLAW_DIST:-target/dist}   # where the binaries are (make build)
BUILD=docker/.build
for b in openclaw-edge openclaw; do
  [ -x "$DIST/$b" ] || { echo "docker-build: $DIST/$b is missing: run make build"; exit 1; }
done
. scripts/docker-lib.sh
# Standalone (make docker): start the engine if needed, and stop it after.
if [ -z "${OPENCLAW_ENGINE_KEPT:-}" ]; then
  trap engine_down EXIT
  engine_up
fi

VERSION=$("$DIST/openclaw-edge" --version 2>/dev/null | awk '{print $NF}' | sed 's/^v//')
[ -n "$VERSION" ] || VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml proxy/Cargo.toml | head -1)
REVISION=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# add_bin ROOT SRC DEST: the binary at ROOT/DEST and every library ldd lists,
# at the same path as on this machine.
add_bin() {
  local root=$1 src=$2 dest=$3 lib
  install -D -m 0755 "$src" "$root$dest"
  for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
# strip_debug FILE: the dist profile keeps line tables (debug = 1) for
# backtraces on the host; the image does without them (~60 MB -> ~10 MB).
strip_debug() {
  if command -v strip >/dev/null 2>&1; then strip --strip-debug "$1"; else echo "docker-build: no strip (binutils); $1 keeps its debug info"; fi
}
# base ROOT UID NAME: /etc/passwd and /etc/group naming the image's user,
# a world-writable /tmp, and busybox with the applets healthchecks use.
base() {
  local root=$1 uid=$2 name=$3 a
  rm -rf "$root"
  mkdir -p "$root/etc" "$root/bin" "$root/tmp"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/:/bin/sh\n%s:x:%s:%s:%s:/:/bin/sh\n' "$name" "$uid" "$uid" "$name" > "$root/etc/passwd"
  printf 'root:x:0:\n%s:x:%s:\n' "$name" "$uid" > "$root/etc/group"
  install -m 0755 /bin/busybox "$root/bin/busybox"
  for a in sh wget nc; do ln -sf busybox "$root/bin/$a"; done
}

# build NAME DOCKERFILE TAG... (the context is docker/.build/NAME)
build() {
  local name=$1 file=$2; shift 2
  local tags=() t
  for t in "$@"; do tags+=(-t "$t"); done
  tar -C "$BUILD/$name/rootfs" --numeric-owner -cf "$BUILD/$name/rootfs.tar" .
  echo rootfs > "$BUILD/$name/.dockerignore"   # the context is the tar
  # The legacy builder (no buildx here): quiet, its deprecation notice dropped.
  if ! docker build -q -f "$file" "${tags[@]}" \
    --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" --build-arg CREATED="$CREATED" \
    "$BUILD/$name" >"$BUILD/$name.log" 2>&1 </dev/null; then
    echo "docker-build: building $1 failed:"; cat "$BUILD/$name.log"; exit 1
  fi
  printf '  %-34s %s\n' "$1" "$(docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.1f MB", $1/1e6}')"
}

echo "images (version $VERSION, revision $REVISION):"
r=$BUILD/edge/rootfs
base "$r" 65532 nonroot
add_bin "$r" "$DIST/openclaw-edge" /usr/local/bin/openclaw-edge
strip_debug "$r/usr/local/bin/openclaw-edge"
install -D -m 0644 docker/edge/edge.yaml "$r/etc/openclaw-edge/edge.yaml"
build edge docker/images/edge.Dockerfile "openclaw/edge:$VERSION" openclaw/edge:latest

r=$BUILD/gateway/rootfs
base "$r" 65532 nonroot
add_bin "$r" "$DIST/openclaw" /usr/local/bin/openclaw
strip_debug "$r/usr/local/bin/openclaw"
install -D -m 0644 docker/gateway/openclaw.json "$r/etc/openclaw/openclaw.json"
install -d -m 0700 "$r/data"
chown -R 65532:65532 "$r/data"
build gateway docker/images/gateway.Dockerfile "openclaw/gateway:$VERSION" openclaw/gateway:latest

r=$BUILD/redis/rootfs
base "$r" 999 redis
add_bin "$r" "$(command -v redis-server)" /usr/local/bin/redis-server
add_bin "$r" "$(command -v redis-cli)" /usr/local/bin/redis-cli
install -d -m 0755 "$r/data"
chown 999:999 "$r/data"
build redis docker/images/redis.Dockerfile openclaw-local/redis:debian

r=$BUILD/prometheus/rootfs
base "$r" 65534 nobody
add_bin "$r" "$(command -v prometheus)" /bin/prometheus
install -D -m 0644 docker/prometheus/prometheus.yml "$r/etc/prometheus/prometheus.yml"
install -d -m 0755 "$r/prometheus"
chown 65534:65534 "$r/prometheus"
build prometheus docker/images/prometheus.Dockerfile openclaw-local/prometheus:debian
