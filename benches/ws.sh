#!/usr/bin/env bash
# benches/ws.sh: WebSocket tunnels through openclaw-edge, nginx and HAProxy.
#
# Same method as benches/load.sh: the three proxies do identical work
# (least_conn over two raw `101` echo backends, one worker/thread, no access
# log), the proxy under test pinned to one CPU, the load client and backends
# (tests/src/bin/ws_bench.rs) to the other; runs rotated (edge, nginx,
# haproxy, then nginx, haproxy, edge ...) and medians reported with the
# edge's ratios. Measured per proxy and run:
#   - memory per idle tunnel: RSS of the proxy's processes (started afresh)
#     with N tunnels open minus before, over the tunnels opened (N = BENCH_WS_SMALL and
#     BENCH_WS_BIG tried); every
#     tunnel must still echo afterwards;
#   - 64-byte round trips per proxy CPU-second, BENCH_WS_RTT_TUNNELS tunnels;
#   - bulk bytes per proxy CPU-second, both ways at once through one tunnel.
# Proxy CPU time is utime+stime of its processes (/proc/PID/stat).
#
# The block of benches/RESULTS.md between the BEGIN/END WS MEASURED markers
# is regenerated; the rest of the file is kept.
#
# Environment: BENCH_RUNS [3] BENCH_SECONDS [5] BENCH_WS_SMALL [1000]
#   BENCH_WS_BIG [9800] BENCH_WS_RTT_TUNNELS [50] BENCH_EDGE_BIN
#   BENCH_WS_CLIENT (the ws_bench binary) BENCH_OUT BENCH_PROXY_CPU [0]
#   BENCH_CLIENT_CPU [1] BENCH_KEEP=1 (keep the scratch directory)
# BENCH_WS_BIG: each tunnel holds two descriptors in the proxy; with the
# open-file hard limit of 20,000 of this machine 10,000 tunnels cannot fit
# in any of the three, so the default is the most that fits with margin.

set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

die() {
    echo "ws.sh: error: $*" >&2
    exit 1
}
note() { echo "ws.sh: $*" >&2; }

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,27p' "$0"
    exit 0
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-5}
SMALL=${BENCH_WS_SMALL:-1000}
BIG=${BENCH_WS_BIG:-9800}
RTT_TUNNELS=${BENCH_WS_RTT_TUNNELS:-50}
EDGE_BIN=${BENCH_EDGE_BIN:-$ROOT/target/release/openclaw-edge}
CLIENT=${BENCH_WS_CLIENT:-$ROOT/target/release/ws_bench}
OUT=${BENCH_OUT:-$HERE/RESULTS.md}
PROXY_CPU=${BENCH_PROXY_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
HZ=$(getconf CLK_TCK)
PAGE=$(getconf PAGESIZE)
PROXIES=(edge nginx haproxy)

for v in RUNS SECS SMALL BIG RTT_TUNNELS PROXY_CPU CLIENT_CPU; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v='${!v}' is not a whole number"
done
[[ -x $EDGE_BIN ]] || die "no edge binary at $EDGE_BIN (cargo build --release -p openclaw-edge)"
[[ -x $CLIENT ]] || die "no ws_bench at $CLIENT (cargo build --release -p openclaw-e2e --bin ws_bench)"
find_tool() { command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; }; }
NGINX=$(find_tool nginx) || die "nginx not found (apt-get install nginx)"
HAPROXY=$(find_tool haproxy) || die "haproxy not found (apt-get install haproxy)"
NOFILE=$(ulimit -Hn)
ulimit -Sn "$NOFILE"

WORK=$(mktemp -d /tmp/openclaw-bench-ws.XXXXXX)
declare -a STARTED=() TRANSIENT=()
declare -A PID=() PORT=() LOG=() TAKEN=([8080]=1 [9901]=1 [18789]=1 [18790]=1 [18791]=1)

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_port NAME PORT: polls until something accepts on 127.0.0.1:PORT (15 s).
wait_port() {
    local deadline=$(($(now_ms) + 15000))
    while (($(now_ms) < deadline)); do
        alive "${PID[$1]}" || die "$1 exited during start-up (log: ${LOG[$1]})"
        (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
        sleep 0.05
    done
    die "$1 did not listen on $2 within 15 s (log: ${LOG[$1]})"
}
rss_bytes() { # summed over the tree of $1
    local p s=0 r
    for p in $(tree "$1"); do
        r=$(awk '{print $2}' "/proc/$p/statm" 2>/dev/null || echo 0)
        s=$((s + r * PAGE))
    done
    echo "$s"
}

# settle PROXY: waits (at most 30 s) until the proxy holds no more sockets
# than it did at start, so one measurement never starts with the last one's
# connections still closing.
settle() {
    local p=$1 deadline=$(($(now_ms) + 30000))
    while (($(sockets "${PID[$p]}") > BASE_SOCKETS[$p])) && (($(now_ms) < deadline)); do
        sleep 0.1
    done
}
sockets() { # open sockets of the tree of $1
    local p s=0
    for p in $(tree "$1"); do
        s=$((s + $(find "/proc/$p/fd" -lname 'socket:*' 2>/dev/null | wc -l)))
    done
    echo "$s"
}

# ------------------------------------------------------------ backends
B1=$(free_port)
B2=$(free_port)
for b in 1 2; do
    port=$B1
    ((b == 2)) && port=$B2
    start "backend$b" "$CLIENT_CPU" "$CLIENT" backend --listen "127.0.0.1:$port" --secs 7200
    wait_port "backend$b" "$port"
done

# ------------------------------------------------------------ proxies
config_edge() {
    cat <<EOF
threads: 1
work_stealing: false
access_log: "off"
admin: { listen: "127.0.0.1:$ADMIN" }
upstreams:
  backends:
    balance: least_conn
    keepalive: 0
    servers:
      - { address: "127.0.0.1:$B1" }
      - { address: "127.0.0.1:$B2" }
servers:
  - listen: ["127.0.0.1:$1"]
    locations:
      - path: /
        proxy_pass: http://backends
        tunnel_idle_timeout: 1h
EOF
}
config_nginx() {
    local d=$WORK/nginx
    cat <<EOF
worker_processes 1;
worker_rlimit_nofile $NOFILE;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections $NOFILE; }
http {
    access_log off;
    client_body_temp_path $d/cb; proxy_temp_path $d/p; fastcgi_temp_path $d/f;
    uwsgi_temp_path $d/u; scgi_temp_path $d/s;
    upstream backends { least_conn; server 127.0.0.1:$B1; server 127.0.0.1:$B2; }
    server {
        listen 127.0.0.1:$1 backlog=4096;
        location / {
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }
    }
}
EOF
}
config_haproxy() {
    cat <<EOF
global
    nbthread 1
    maxconn $(((NOFILE - 100) / 2))

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h

frontend fe
    bind 127.0.0.1:$1
    default_backend backends

backend backends
    balance leastconn
    server b1 127.0.0.1:$B1
    server b2 127.0.0.1:$B2
EOF
}

ADMIN=$(free_port)
for p in "${PROXIES[@]}"; do
    PORT[$p]=$(free_port)
    mkdir -p "$WORK/$p"
done
config_edge "${PORT[edge]}" >"$WORK/edge/edge.yaml"
config_nginx "${PORT[nginx]}" >"$WORK/nginx/nginx.conf"
config_haproxy "${PORT[haproxy]}" >"$WORK/haproxy/haproxy.cfg"
# launch PROXY: a fresh process (each measurement gets one: allocators and
# HAProxy's pools keep freed memory, which would hide the next one's cost).
declare -A BASE_SOCKETS=()
launch() {
    local p=$1
    case $p in
    edge) start edge "$PROXY_CPU" "$EDGE_BIN" -c "$WORK/edge/edge.yaml" ;;
    nginx) start nginx "$PROXY_CPU" "$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" ;;
    haproxy) start haproxy "$PROXY_CPU" "$HAPROXY" -db -f "$WORK/haproxy/haproxy.cfg" ;;
    esac
    wait_port "$p" "${PORT[$p]}"
    BASE_SOCKETS[$p]=$(sockets "${PID[$p]}")
}
halt() { stop_tree "${PID[$1]}"; }

# ------------------------------------------------------------ measurements
client() { bounded $((SECS + 120)) taskset -c "$CLIENT_CPU" "$CLIENT" "$@"; }
json() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

# metric NAME LABELS: the edge's value of one series (admin /metrics), empty if absent.
metric() {
    curl -s --max-time 5 "http://127.0.0.1:$ADMIN/metrics" |
        awk -v n="$1" -v l="$2" '$1 == n l { print $2 }'
}
# edge_reloads N: five SIGHUP reloads of the edge while N tunnels are held,
# each waited for; then least_conn must still count all N tunnels.
edge_reloads() {
    local n=$1 i deadline v base
    base=$(metric openclaw_edge_config_reloads_total '{result="ok"}')
    for ((i = 1; i <= 5; i++)); do
        kill -HUP "${PID[edge]}"
        deadline=$(($(now_ms) + 15000))
        until [[ $(metric openclaw_edge_config_reloads_total '{result="ok"}') == $((${base:-0} + i)) ]]; do
            (($(now_ms) < deadline)) || die "edge: reload $i not applied within 15 s"
            sleep 0.1
        done
    done
    v=$(curl -s --max-time 5 "http://127.0.0.1:$ADMIN/metrics" |
        awk '$1 ~ /^openclaw_edge_upstream_server_inflight\{/ { s += $2 } END { print s + 0 }')
    [[ $v == "$n" ]] || die "edge: least_conn counts $v tunnels in flight after 5 reloads, not $n"
    note "  edge: 5 reloads with $n tunnels open; least_conn still counts $v"
}

# mem_per_tunnel PROXY N: bytes of proxy RSS per idle tunnel (prints "bytes echoed/opened").
mem_per_tunnel() {
    local p=$1 n=$2 before after out opened ready=$WORK/ready release=$WORK/release deadline
    rm -f "$ready" "$release"
    settle "$p"
    before=$(rss_bytes "${PID[$p]}")
    taskset -c "$CLIENT_CPU" "$CLIENT" hold --proxy "127.0.0.1:${PORT[$p]}" --tunnels "$n" \
        --ready-file "$ready" --release-file "$release" --secs 300 >"$WORK/hold.out" &
    local hold=$!
    TRANSIENT+=("$hold")
    deadline=$(($(now_ms) + 300000))
    while [[ ! -s $ready ]] && (($(now_ms) < deadline)); do sleep 0.05; done
    [[ -s $ready ]] || die "$p: $n tunnels not open within 300 s"
    sleep 1 # let the proxy settle after the last open: a measurement window
    after=$(rss_bytes "${PID[$p]}")
    [[ $p == edge && $n == "$BIG" ]] && edge_reloads "$n"
    touch "$release"
    wait "$hold" || true
    out=$(cat "$WORK/hold.out")
    opened=$(json opened <<<"$out")
    ((${opened:-0} > 0)) || die "$p: no tunnel opened (ws_bench: $out)"
    echo "$(((after - before) / opened)) $(json echoed <<<"$out")/$opened"
}
# per_cpu PROXY CMD...: runs the client, prints "count-per-proxy-cpu-second" for its JSON figure $FIGURE.
per_cpu() {
    local p=$1 t0 t1 out v n f
    shift
    settle "$p"
    t0=$(cpu_ticks "${PID[$p]}")
    out=$(client "$@" --proxy "127.0.0.1:${PORT[$p]}" --secs "$SECS")
    t1=$(cpu_ticks "${PID[$p]}")
    v=0
    for f in $FIGURE; do
        n=$(json "$f" <<<"$out")
        [[ -n $n ]] || { note "$p: no $f from ws_bench ($*); counted as 0"; n=0; }
        v=$((v + n))
    done
    awk -v v="$v" -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN{ printf "%.0f", (t > 0 ? v * hz / t : 0) }'
}

declare -A R=()
order=("${PROXIES[@]}")
for ((run = 1; run <= RUNS; run++)); do
    for p in "${order[@]}"; do
        note "run $run/$RUNS: $p"
        launch "$p"
        read -r m1 e1 < <(mem_per_tunnel "$p" "$SMALL")
        halt "$p"
        launch "$p"
        read -r m2 e2 < <(mem_per_tunnel "$p" "$BIG")
        [[ -n $m2 ]] || die "$p: the $BIG-tunnel measurement failed"
        halt "$p"
        launch "$p"
        rtt=$(FIGURE=round_trips per_cpu "$p" rtt --tunnels "$RTT_TUNNELS")
        bulk=$(FIGURE="bytes_up bytes_down" per_cpu "$p" bulk)
        halt "$p"
        R[$p,small]+="$m1 "
        R[$p,big]+="$m2 "
        R[$p,rtt]+="$rtt "
        R[$p,bulk]+="$bulk "
        R[$p,echo]+="$e1,$e2 "
        note "  $p: ${m1} B/tunnel at $SMALL ($e1 echoed), ${m2} B/tunnel at $BIG ($e2 echoed), $rtt rt/cpu-s, $bulk B/cpu-s"
    done
    order=("${order[@]:1}" "${order[0]}")
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{ print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2) }'; }
declare -A M=()
for p in "${PROXIES[@]}"; do
    for k in small big rtt bulk; do M[$p,$k]=$(median <<<"${R[$p,$k]}"); done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.2f", (b > 0 ? a / b : 0) }'; }
kb() { awk -v b="$1" 'BEGIN{ printf "%.1f kB", b / 1000 }'; }
mbs() { awk -v b="$1" 'BEGIN{ printf "%.0f MB", b / 1e6 }'; }

BLOCK=$WORK/block.md
{
    echo "<!-- BEGIN WS MEASURED: written by benches/ws.sh; edit outside these markers -->"
    echo "## WebSocket tunnels, measured $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Medians of $RUNS rotated runs, each measurement on a freshly started proxy; proxy pinned to CPU $PROXY_CPU, ws_bench and the two raw 101 echo"
    echo "backends to CPU $CLIENT_CPU; least_conn over both backends, one worker, no access log; ${SECS} s per"
    echo "throughput run. Open-file hard limit $NOFILE. $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $("$HAPROXY" -v | awk 'NR==1{print $1, $3}'),"
    echo "openclaw-edge git $(git -C "$ROOT" rev-parse --short=12 HEAD)$([[ -n $(git -C "$ROOT" status --porcelain -- proxy) ]] && echo ' + uncommitted changes')."
    echo
    echo "| | edge | nginx | HAProxy | edge/nginx | edge/HAProxy |"
    echo "|---|---:|---:|---:|---:|---:|"
    for k in small big; do
        n=$SMALL
        [[ $k == big ]] && n=$BIG
        echo "| memory per idle tunnel, $n tunnels (lower is better) | $(kb "${M[edge,$k]}") | $(kb "${M[nginx,$k]}") | $(kb "${M[haproxy,$k]}") | $(ratio "${M[edge,$k]}" "${M[nginx,$k]}") | $(ratio "${M[edge,$k]}" "${M[haproxy,$k]}") |"
    done
    echo "| 64-byte round trips per proxy CPU-second, $RTT_TUNNELS tunnels | ${M[edge,rtt]} | ${M[nginx,rtt]} | ${M[haproxy,rtt]} | $(ratio "${M[edge,rtt]}" "${M[nginx,rtt]}") | $(ratio "${M[edge,rtt]}" "${M[haproxy,rtt]}") |"
    echo "| bulk bytes per proxy CPU-second, both ways at once, 1 tunnel | $(mbs "${M[edge,bulk]}") | $(mbs "${M[nginx,bulk]}") | $(mbs "${M[haproxy,bulk]}") | $(ratio "${M[edge,bulk]}" "${M[nginx,bulk]}") | $(ratio "${M[edge,bulk]}" "${M[haproxy,bulk]}") |"
    echo
    echo "The edge held its $BIG tunnels across 5 SIGHUP reloads in each run, least_conn counting all of"
    echo "them after the last; the echo column below shows every tunnel still echoing afterwards. A proxy"
    echo "that could not open all $BIG (nginx near the open-file limit: \"worker_connections are not"
    echo "enough\") is measured over the tunnels it opened."
    echo
    echo "Per run (memory B/tunnel small, big; round trips; bulk B per CPU-s; tunnels echoing after the hold, small,big):"
    echo
    for p in "${PROXIES[@]}"; do
        echo "- $p: small ${R[$p,small]}| big ${R[$p,big]}| rtt ${R[$p,rtt]}| bulk ${R[$p,bulk]}| echoed ${R[$p,echo]}"
    done
    echo
    echo "<!-- END WS MEASURED -->"
} >"$BLOCK"
cat "$BLOCK"

tmp=$(mktemp "$OUT.XXXXXX")
if [[ -f $OUT ]] && grep -q '^<!-- BEGIN WS MEASURED' "$OUT"; then
    awk -v block="$BLOCK" '
        /^<!-- BEGIN WS MEASURED/ { while ((getline l < block) > 0) print l; skip = 1; next }
        /^<!-- END WS MEASURED/   { skip = 0; next }
        !skip { print }' "$OUT" >"$tmp"
else
    { [[ -f $OUT ]] && cat "$OUT" && echo; cat "$BLOCK"; } >"$tmp"
fi
chmod 644 "$tmp"
mv "$tmp" "$OUT"
note "wrote $OUT"
