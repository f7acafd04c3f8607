#!/usr/bin/env bash
# benches/load.sh: load benchmark of openclaw-edge against nginx and HAProxy.
#
# Every proxy does the same work: least_conn over two keep-alive HTTP/1.1
# backends, one worker/thread, no access log, the seed's request headers
# (Host, X-Real-IP, X-Forwarded-For). The proxy under test is pinned to one
# CPU; wrk and the backends (one nginx worker serving two ports) to the other.
# Runs are interleaved (edge, nginx, haproxy, then rotated) so machine noise
# hits all three alike; the report gives medians and the edge's ratios.
#
# The measured block of benches/RESULTS.md (between the BEGIN/END MEASURED
# markers) is regenerated; the rest of the file, such as the section
# "What limits the rest", is kept as written.
#
# Usage: benches/load.sh [--only edge,nginx,haproxy] [--perf] [-h]
# Environment: BENCH_RUNS BENCH_SECONDS BENCH_WARMUP BENCH_CONNS BENCH_EDGE_BIN
#              BENCH_OUT BENCH_PROXY_CPU BENCH_CLIENT_CPU BENCH_KEEP
# Run `benches/load.sh -h` for their meaning.

set -euo pipefail
# Shared helpers: alive, free_port, start, bounded, child_ticks, cleanup.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<'EOF'
Usage: benches/load.sh [--only LIST] [--perf] [-h]

Measures openclaw-edge, nginx and HAProxy doing identical work (least_conn
over 2 keep-alive backends, one worker each) with wrk, and writes the medians
and ratios to benches/RESULTS.md.

Options:
  --only LIST   comma-separated subset of: edge,nginx,haproxy. A partial run
                prints its report but leaves RESULTS.md alone unless BENCH_OUT
                is set.
  --perf        after the measured runs, profile each proxy once more:
                `perf stat -e task-clock,context-switches,instructions`
                (CPU time and context switches per request) and `strace -c -f`
                (syscalls per request). Adds about 2 x BENCH_SECONDS per proxy.
  -h, --help    this text.

Environment (defaults in brackets):
  BENCH_RUNS        measured runs per proxy [5]
  BENCH_SECONDS     seconds per run [10]
  BENCH_WARMUP      seconds of warm-up load per proxy before measuring [3]
  BENCH_CONNS       wrk connections [50]
  BENCH_NGINX_KEEPALIVE  nginx upstream `keepalive` [64]; 32 is the seed's
                    value, but at 50 connections it makes nginx reopen upstream
                    connections the other two keep (see "new TCP conns")
  BENCH_EDGE_BIN    edge binary [target/release/openclaw-edge]
  BENCH_OUT         report file [benches/RESULTS.md]
  BENCH_PROXY_CPU   CPU for the proxy under test [0]
  BENCH_CLIENT_CPU  CPU for wrk and the backends [1]
  BENCH_QUIET_WAIT  before each run, wait up to this many seconds for other
                    processes to go idle (0 = don't wait) [60]
  BENCH_RETRIES     measure a run again, up to this many times, when other
                    processes used more than 10% of a CPU during it [2]
  BENCH_KEEP=1      keep the scratch directory (configs, logs, wrk outputs)

Examples:
  make bench
  BENCH_RUNS=1 BENCH_SECONDS=3 benches/load.sh      # a quick smoke run
  benches/load.sh --only nginx,haproxy               # without the edge
  benches/load.sh --perf
EOF
}

die() {
    echo "load.sh: error: $*" >&2
    exit 1
}
note() { echo "load.sh: $*" >&2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

RUNS=${BENCH_RUNS:-5}
RUN_SECS=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-3}
CONNS=${BENCH_CONNS:-50}
# nginx's `keepalive N` caps idle upstream connections per worker for the whole
# group; with 32 and 50 concurrent requests it closes and reopens ~180 upstream
# connections per 1000 requests, which the edge (Pingora's idle pool, 128) and
# HAProxy (no cap) do not. 64 removes that churn, so the work is the same.
NGINX_KEEPALIVE=${BENCH_NGINX_KEEPALIVE:-64}
QUIET_WAIT=${BENCH_QUIET_WAIT:-60}
RETRIES=${BENCH_RETRIES:-2}
EDGE_BIN=${BENCH_EDGE_BIN:-$ROOT/target/release/openclaw-edge}
PROXY_CPU=${BENCH_PROXY_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
ALL_PROXIES=(edge nginx haproxy)
PROXIES=("${ALL_PROXIES[@]}")
PARTIAL=0
PERF=0

while (($#)); do
    case $1 in
    --only)
        [[ $# -ge 2 ]] || die "--only needs a list, e.g. --only edge,nginx"
        IFS=, read -r -a PROXIES <<<"$2"
        PARTIAL=1
        shift 2
        ;;
    --only=*)
        IFS=, read -r -a PROXIES <<<"${1#--only=}"
        PARTIAL=1
        shift
        ;;
    --perf) PERF=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done

for p in "${PROXIES[@]}"; do
    case $p in edge | nginx | haproxy) ;; *) die "--only: unknown proxy '$p' (use edge, nginx, haproxy)" ;; esac
done
((${#PROXIES[@]})) || die "--only: empty list"
for v in RUNS:BENCH_RUNS RUN_SECS:BENCH_SECONDS WARMUP:BENCH_WARMUP CONNS:BENCH_CONNS \
    NGINX_KEEPALIVE:BENCH_NGINX_KEEPALIVE QUIET_WAIT:BENCH_QUIET_WAIT RETRIES:BENCH_RETRIES \
    PROXY_CPU:BENCH_PROXY_CPU CLIENT_CPU:BENCH_CLIENT_CPU; do
    var=${v%%:*}
    [[ ${!var} =~ ^[0-9]+$ ]] || die "${v#*:}='${!var}' is not a whole number"
done
((RUNS >= 1)) || die "BENCH_RUNS must be at least 1"
((RUN_SECS >= 1)) || die "BENCH_SECONDS must be at least 1"
((PROXY_CPU != CLIENT_CPU)) || die "BENCH_PROXY_CPU and BENCH_CLIENT_CPU must differ"
NCPU=$(nproc --all)
((PROXY_CPU < NCPU && CLIENT_CPU < NCPU)) || die "this machine has CPUs 0-$((NCPU - 1)); set BENCH_PROXY_CPU/BENCH_CLIENT_CPU"

if [[ -n ${BENCH_OUT:-} ]]; then
    OUT=$BENCH_OUT
elif ((PARTIAL)); then
    OUT=""
else
    OUT=$HERE/RESULTS.md
fi

has() { [[ " ${PROXIES[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------- tools

# command -> Debian package
declare -A PKG=([nginx]=nginx [haproxy]=haproxy [wrk]=wrk [curl]=curl [taskset]=util-linux
    [ss]=iproute2 [awk]=gawk [perf]=linux-perf [strace]=strace [pgrep]=procps [ps]=procps)
NEED=(nginx wrk curl taskset ss awk pgrep ps)
has haproxy && NEED+=(haproxy)
((PERF)) && NEED+=(perf strace)

find_tool() { command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; }; }

missing=()
for t in "${NEED[@]}"; do find_tool "$t" >/dev/null || missing+=("$t"); done
if ((${#missing[@]})); then
    pkgs=()
    for t in "${missing[@]}"; do pkgs+=("${PKG[$t]}"); done
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        note "installing missing tools: ${missing[*]} (packages: ${pkgs[*]})"
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y "${pkgs[@]}" >&2 ||
            die "apt-get install -y ${pkgs[*]} failed; install them and re-run"
    else
        die "missing tools: ${missing[*]}; install with: sudo apt-get install -y ${pkgs[*]}"
    fi
fi
NGINX=$(find_tool nginx)
HAPROXY=$(find_tool haproxy || true)

if has edge; then
    [[ -x $EDGE_BIN ]] || die "edge binary not found at $EDGE_BIN; build it with \`cargo build --release\` in $ROOT (or set BENCH_EDGE_BIN, or use --only nginx,haproxy)"
fi

# ---------------------------------------------------------------- scratch, processes, cleanup

WORK=$(mktemp -d /tmp/openclaw-bench.XXXXXX)
declare -a STARTED=()   # servers: backends and proxies
declare -a TRANSIENT=() # timeout-wrapped commands under way (wrk, perf, strace)
declare -A PID=()   # name -> pid
declare -A PORT=()  # name -> port
declare -A LOG=()   # name -> log file


# Stops a process and its direct children: TERM, up to 5 s, then KILL.
stop_tree() {
    local pid=$1 kids i
    kids=$(pgrep -P "$pid" || true)
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    for k in $kids; do
        if alive "$k"; then kill -KILL "$k" 2>/dev/null || true; fi
    done
    wait "$pid" 2>/dev/null || true
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

declare -A TAKEN=([8080]=1 [9901]=1 [18789]=1 [18790]=1 [18791]=1)


now_ms() { date +%s%3N; }


# wait_ready NAME URL: polls URL until it answers 200, for at most 15 s.
wait_ready() {
    local name=$1 url=$2 deadline code
    deadline=$(($(now_ms) + 15000))
    while (($(now_ms) < deadline)); do
        alive "${PID[$name]}" || die "$name exited during start-up (log: ${LOG[$name]})"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)
        [[ $code == 200 ]] && return 0
        sleep 0.05
    done
    die "$name did not answer 200 on $url within 15 s (last status '$code', log: ${LOG[$name]})"
}

# ---------------------------------------------------------------- environment

cpu_jiffies() { # prints "busy total" summed over all CPUs
    awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; t=b+$5+$6; print b, t}' /proc/stat
}
read -r b0 t0 < <(cpu_jiffies)
sleep 1 # a measurement window, not synchronisation
read -r b1 t1 < <(cpu_jiffies)
BG_LOAD=$(((b1 - b0) * 100 / (t1 - t0 > 0 ? t1 - t0 : 1)))
if ((BG_LOAD > 10)); then
    note "warning: the machine is already ${BG_LOAD}% busy (a build?); figures will be noisy"
    BUSY_PROCS=$(ps -eo pcpu=,comm= --sort=-pcpu | awk 'NR<=3{printf "%s%s (%s%%)", (NR>1 ? ", " : ""), $2, $1}')
fi

NGINX_V=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')
HAPROXY_V=""
[[ -n $HAPROXY ]] && HAPROXY_V=$("$HAPROXY" -v 2>&1 | awk 'NR==1{sub(/ - https.*/, ""); print}')
WRK_V=$(wrk -v 2>&1 | awk 'NR==1{print $1, $2}' || true)
EDGE_V=""
if has edge; then
    rev=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo "no commit yet")
    if [[ -n $(git -C "$ROOT" status --porcelain -- proxy Cargo.toml Cargo.lock 2>/dev/null) ]]; then
        rev="$rev + uncommitted changes"
    fi
    EDGE_V="$("$EDGE_BIN" -V 2>/dev/null | awk 'NR==1'), git $rev, binary built $(date -u -r "$EDGE_BIN" '+%Y-%m-%d %H:%M UTC'), sha256 $(sha256sum "$EDGE_BIN" | cut -c1-12)"
fi
CPU_MODEL=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)

# ---------------------------------------------------------------- backends

B1=$(free_port)
B2=$(free_port)
mkdir -p "$WORK/backends" "$WORK/nginx"

# Temp paths and pid inside the scratch directory, so nginx needs no system dirs.
nginx_common() { # $1 = prefix dir
    cat <<EOF
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; multi_accept off; }
EOF
}
nginx_http_common() { # $1 = prefix dir
    cat <<EOF
    access_log off;
    client_body_temp_path $1/client_body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    default_type text/plain;
    # nginx alone closes a keep-alive connection after 1000 requests by
    # default; the edge and HAProxy do not, so lift it for identical work.
    keepalive_requests 1000000;
    keepalive_timeout 75s;
EOF
}

{
    nginx_common "$WORK/backends"
    echo "http {"
    nginx_http_common "$WORK/backends"
    for i in 1 2; do
        port=$B1
        ((i == 2)) && port=$B2
        cat <<EOF
    server {
        listen 127.0.0.1:$port reuseport backlog=4096;
        location / { return 200 "ok\n"; }
        # What the proxy sent: checked once per proxy before measuring.
        location = /__bench_headers {
            return 200 "backend=b$i host=\$host x_real_ip=\$http_x_real_ip x_forwarded_for=\$http_x_forwarded_for connection=\$http_connection http=\$server_protocol\n";
        }
    }
EOF
    done
    echo "}"
} >"$WORK/backends/nginx.conf"

start backends "$CLIENT_CPU" "$NGINX" -p "$WORK/backends" -e "$WORK/backends/error.log" -c "$WORK/backends/nginx.conf"
wait_ready backends "http://127.0.0.1:$B1/"
wait_ready backends "http://127.0.0.1:$B2/"

# ---------------------------------------------------------------- proxies

HDR_NOTE="Host \$host, X-Real-IP \$remote_addr, X-Forwarded-For \$proxy_add_x_forwarded_for"

start_nginx() {
    PORT[nginx]=$(free_port)
    {
        nginx_common "$WORK/nginx"
        echo "http {"
        nginx_http_common "$WORK/nginx"
        cat <<EOF
    upstream backends {
        least_conn;
        server 127.0.0.1:$B1;
        server 127.0.0.1:$B2;
        keepalive $NGINX_KEEPALIVE;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:${PORT[nginx]} backlog=4096;
        location / {
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        }
    }
}
EOF
    } >"$WORK/nginx/nginx.conf"
    start nginx "$PROXY_CPU" "$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf"
}

start_haproxy() {
    PORT[haproxy]=$(free_port)
    mkdir -p "$WORK/haproxy"
    cat >"$WORK/haproxy/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8192
    # no "log" line: HAProxy logs nothing

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 75s

frontend fe
    bind 127.0.0.1:${PORT[haproxy]}
    default_backend backends

backend backends
    balance leastconn
    http-reuse always
    option forwardfor
    # nginx's \$host: the Host header without its port
    http-request set-header Host %[req.hdr(host),field(1,:)]
    http-request set-header X-Real-IP %[src]
    server b1 127.0.0.1:$B1
    server b2 127.0.0.1:$B2
EOF
    "$HAPROXY" -c -q -f "$WORK/haproxy/haproxy.cfg" >&2 || die "haproxy rejected $WORK/haproxy/haproxy.cfg"
    start haproxy "$PROXY_CPU" "$HAPROXY" -db -f "$WORK/haproxy/haproxy.cfg"
}

start_edge() {
    PORT[edge]=$(free_port)
    local admin
    admin=$(free_port)
    mkdir -p "$WORK/edge"
    cat >"$WORK/edge/edge.yaml" <<EOF
threads: 1
work_stealing: false
access_log: "off"
admin: { listen: "127.0.0.1:$admin" }
upstreams:
  backends:
    balance: least_conn
    keepalive: 32
    servers:
      - { address: "127.0.0.1:$B1" }
      - { address: "127.0.0.1:$B2" }
servers:
  - listen: ["127.0.0.1:${PORT[edge]}"]
    locations:
      - path: /
        proxy_pass: http://backends
        headers: { Host: \$host, X-Real-IP: \$remote_addr, X-Forwarded-For: \$proxy_add_x_forwarded_for }
EOF
    "$EDGE_BIN" -t -c "$WORK/edge/edge.yaml" >&2 || die "openclaw-edge rejected $WORK/edge/edge.yaml"
    start edge "$PROXY_CPU" "$EDGE_BIN" -c "$WORK/edge/edge.yaml"
}

declare -A HEADERS=() SPREAD=()
for p in "${PROXIES[@]}"; do
    "start_$p"
    wait_ready "$p" "http://127.0.0.1:${PORT[$p]}/"
    # Same request headers at the backends, and both backends in use?
    HEADERS[$p]=$(curl -s --max-time 2 "http://127.0.0.1:${PORT[$p]}/__bench_headers" | sed 's/^backend=b[12] //')
    n1=0 n2=0
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        case $(curl -s --max-time 2 "http://127.0.0.1:${PORT[$p]}/__bench_headers") in
        backend=b1*) n1=$((n1 + 1)) ;;
        backend=b2*) n2=$((n2 + 1)) ;;
        *) die "$p: /__bench_headers did not reach a backend" ;;
        esac
    done
    SPREAD[$p]="$n1/$n2"
    ((n1 > 0 && n2 > 0)) || die "$p sent 10 sequential requests to one backend only (b1/b2 = $n1/$n2); least_conn should alternate"
    note "$p ready on 127.0.0.1:${PORT[$p]} (10 sequential requests: b1/b2 = ${SPREAD[$p]}); backend saw: ${HEADERS[$p]}"
done

# ---------------------------------------------------------------- measuring

# The proxy's processes: the main pid and its children (nginx's worker).
proxy_pids() {
    local kids
    kids=$(pgrep -P "${PID[$1]}" | tr '\n' ' ' || true)
    echo "${PID[$1]} $kids" | awk '{$1=$1; print}'
}

# CPU ticks (user+system, all threads) used so far by the given pids.
proc_ticks() {
    local sum=0 p u s
    for p in "$@"; do
        # fields after "(comm) ": state=1 ... utime=12 stime=13
        if read -r u s < <(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12, $13}'); then
            sum=$((sum + u + s))
        fi
    done
    echo "$sum"
}
# "busy total" jiffies of one CPU; busy includes irq and softirq (the kernel's
# loopback TCP work, which no process is charged for), total includes steal.
cpu_line() { awk -v c="cpu$1" '$1==c{b=$2+$3+$4+$7+$8; print b, b+$5+$6+$9}' /proc/stat; }
HZ=$(getconf CLK_TCK)
# Jiffies all CPUs together spent in processes (user, nice, system: what
# /proc/PID/stat charges to processes; irq and softirq time is charged to none).
all_busy() { awk '/^cpu /{print $2+$3+$4}' /proc/stat; }
# TCP connections opened so far by anyone on the machine (ActiveOpens).
tcp_opens() { awk '/^Tcp:/{n++} /^Tcp:/ && n==2{print $6}' /proc/net/snmp; }

# wrk_run NAME SECONDS OUTFILE: load NAME's port from the client CPU.
wrk_run() {
    local name=$1 secs=$2 out=$3
    bounded $((secs + 30)) taskset -c "$CLIENT_CPU" \
        wrk -t1 -c"$CONNS" -d"${secs}s" --timeout 5s --latency "http://127.0.0.1:${PORT[$name]}/" >"$out" 2>&1 ||
        die "wrk against $name failed (output: $out): $(tail -n 3 "$out")"
}

# Latency "250.00us" / "1.20ms" / "1.01s" in ms.
to_ms() { awk -v v="$1" 'BEGIN{n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /m$/) n*=60000; else if (v ~ /s$/) n*=1000; printf "%.3f", n}'; }

declare -A RPS=() P50=() P99=() CPU=() CLI=() ERRS=() REQS=() CONN=() OTHER=() PCPU=()

# measure NAME RUN: one measured run; appends to the result lists.
measure() {
    local name=$1 run=$2 out pids bpids t0 t1 c0 c1 c0t c1t s0 s1 s0t s1t rps p50 p99 errs reqs o0 o1 a0 a1 k0 k1 x0 x1
    out=$WORK/wrk-$name-$run.txt
    pids=$(proxy_pids "$name")
    bpids=$(proxy_pids backends)
    # shellcheck disable=SC2086
    t0=$(proc_ticks $pids)
    # shellcheck disable=SC2086
    k0=$(proc_ticks $bpids)
    x0=$(child_ticks)
    a0=$(all_busy)
    read -r c0 c0t < <(cpu_line "$CLIENT_CPU")
    read -r s0 s0t < <(cpu_line "$PROXY_CPU")
    o0=$(tcp_opens)
    local w0 w1
    w0=$(now_ms)
    wrk_run "$name" "$RUN_SECS" "$out"
    w1=$(now_ms)
    # shellcheck disable=SC2086
    t1=$(proc_ticks $pids)
    a1=$(all_busy)
    # shellcheck disable=SC2086
    k1=$(proc_ticks $bpids)
    x1=$(child_ticks)
    read -r c1 c1t < <(cpu_line "$CLIENT_CPU")
    read -r s1 s1t < <(cpu_line "$PROXY_CPU")
    o1=$(tcp_opens)

    rps=$(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$out")
    reqs=$(awk '/requests in/{print $1}' "$out")
    p50=$(to_ms "$(awk '$1=="50%"{print $2}' "$out")")
    p99=$(to_ms "$(awk '$1=="99%"{print $2}' "$out")")
    errs=$(awk '/Non-2xx or 3xx responses:/{n+=$NF} /Socket errors:/{gsub(/,/,""); n+=$4+$6+$8+$10} END{print n+0}' "$out")
    [[ -n $rps && -n $reqs ]] || die "could not parse wrk output $out"
    # Proxy CPU in % of one core over the wall time of the wrk run.
    local cpu cli conn other pcpu
    # CPU used by anything but the proxy, the backends and wrk (a build, another
    # benchmark...), in % of one core: noise that makes the run suspect.
    other=$(awk -v d=$(((a1 - a0) - (t1 - t0) - (k1 - k0) - (x1 - x0))) -v hz="$HZ" -v ms=$((w1 - w0)) 'BEGIN{ if (d < 0) d = 0; printf "%.0f", d/hz*100000/ms }')
    # New TCP connections per 1000 requests, besides wrk's own: upstream churn.
    conn=$(awk -v o=$((o1 - o0 - CONNS)) -v n="$reqs" 'BEGIN{ if (o < 0) o = 0; printf "%.2f", (n > 0 ? o*1000/n : 0) }')
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v ms=$((w1 - w0)) 'BEGIN{printf "%.0f", d/hz*100000/ms}')
    cli=$(awk -v b=$((c1 - c0)) -v t=$((c1t - c0t)) 'BEGIN{printf "%.0f", (t > 0 ? b*100/t : 0)}')
    pcpu=$(awk -v b=$((s1 - s0)) -v t=$((s1t - s0t)) 'BEGIN{printf "%.0f", (t > 0 ? b*100/t : 0)}')
    note "run $run/$RUNS $name: $rps req/s, p50 ${p50} ms, p99 ${p99} ms, proxy ${cpu}% (CPU $PROXY_CPU busy ${pcpu}%), client CPU ${cli}%, new conns/1k req $conn, other load ${other}%, errors $errs"
    LAST_OTHER=$other
    LAST=("$rps" "$reqs" "$p50" "$p99" "$cpu" "$cli" "$errs" "$conn" "$other" "$pcpu")
}

# keep NAME: adds the last measured run to NAME's results.
keep() {
    local name=$1
    RPS[$name]+="${LAST[0]} "
    REQS[$name]+="${LAST[1]} "
    P50[$name]+="${LAST[2]} "
    P99[$name]+="${LAST[3]} "
    CPU[$name]+="${LAST[4]} "
    CLI[$name]+="${LAST[5]} "
    ERRS[$name]+="${LAST[6]} "
    CONN[$name]+="${LAST[7]} "
    OTHER[$name]+="${LAST[8]} "
    PCPU[$name]+="${LAST[9]} "
}

# Waits (at most QUIET_WAIT s) until the machine is idle: all CPUs together
# busy less than 10% of one CPU over a 1 s window. Returns anyway at the deadline.
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

# f DECIMALS VALUE: VALUE rounded; empty stays empty.
f() {
    if [[ -z $2 || $2 == n/a ]]; then
        echo "n/a"
    else
        awk -v d="$1" -v v="$2" 'BEGIN{printf "%." d "f", v}'
    fi
}

median() { tr ' ' '\n' <<<"$*" | awk 'NF' | sort -g | awk '{a[NR]=$1} END{if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

note "warming up ${WARMUP}s each; then $RUNS runs x ${RUN_SECS}s per proxy, $CONNS connections"
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
if ((WARMUP > 0)); then
    for p in "${PROXIES[@]}"; do wrk_run "$p" "$WARMUP" "$WORK/warmup-$p.txt"; done
fi
n=${#PROXIES[@]}
for ((r = 1; r <= RUNS; r++)); do
    # rotate the order each run so no proxy always goes first
    for ((k = 0; k < n; k++)); do
        p=${PROXIES[$(((k + r - 1) % n))]}
        best=()
        for ((try = 0; ; try++)); do
            ((QUIET_WAIT == 0)) || wait_quiet
            measure "$p" "$r"
            # of all tries, keep the one least disturbed by other processes
            if ((${#best[@]} == 0 || LAST_OTHER < best[8])); then best=("${LAST[@]}"); fi
            ((LAST_OTHER <= 10 || try >= RETRIES)) && break
            note "run $r/$RUNS $p: ${LAST_OTHER}% other load, measuring again ($((try + 1))/$RETRIES)"
        done
        LAST=("${best[@]}")
        keep "$p"
    done
done

# ---------------------------------------------------------------- optional profile

declare -A PROF=()
if ((PERF)); then
    for p in "${PROXIES[@]}"; do
        ((QUIET_WAIT == 0)) || wait_quiet
        pidlist=$(proxy_pids "$p" | tr ' ' ',')
        out=$WORK/perf-$p.txt
        timeout $((RUN_SECS + 20)) perf stat -x, -e task-clock,context-switches,instructions \
            -p "$pidlist" -o "$out" -- sleep $((RUN_SECS + 1)) &
        perf_pid=$!
        TRANSIENT+=("$perf_pid")
        wrk_run "$p" "$RUN_SECS" "$WORK/perf-wrk-$p.txt"
        wait "$perf_pid" || die "perf stat failed on $p (see $out)"
        preqs=$(awk '/requests in/{print $1}' "$WORK/perf-wrk-$p.txt")
        # task-clock is in msec; the csv's first field is the value
        cpu_us=$(awk -F, -v n="$preqs" '$3=="task-clock"{printf "%.1f", $1*1000/n}' "$out")
        csw=$(awk -F, -v n="$preqs" '$3=="context-switches"{printf "%.3f", $1/n}' "$out")
        ins=$(awk -F, -v n="$preqs" '$3=="instructions"{ if ($1 ~ /^[0-9.]+$/) printf "%.0f", $1/n; else print "n/a" }' "$out")

        # strace: attach, wait until attached, load, detach (SIGINT prints the summary)
        sout=$WORK/strace-$p.txt
        serr=$WORK/strace-$p.err
        spids=()
        for q in $(proxy_pids "$p"); do spids+=(-p "$q"); done
        timeout -s INT $((RUN_SECS + 15)) strace -c -f -o "$sout" "${spids[@]}" 2>"$serr" &
        strace_pid=$!
        TRANSIENT+=("$strace_pid")
        deadline=$(($(now_ms) + 10000))
        until grep -q attached "$serr" 2>/dev/null; do
            (($(now_ms) < deadline)) || die "strace did not attach to $p (see $serr)"
            sleep 0.05
        done
        wrk_run "$p" "$RUN_SECS" "$WORK/strace-wrk-$p.txt"
        kill -INT "$strace_pid" 2>/dev/null || true
        wait "$strace_pid" || true
        sreqs=$(awk '/requests in/{print $1}' "$WORK/strace-wrk-$p.txt")
        # columns: % time, seconds, usecs/call, calls, [errors], syscall
        sys=$(awk -v n="$sreqs" '$1 ~ /^[0-9.]+$/ && NF>=5 && $NF!="total"{c+=$4} END{printf "%.2f", (n > 0 ? c/n : 0)}' "$sout")
        top=$(awk -v n="$sreqs" '$1 ~ /^[0-9.]+$/ && NF>=5 && $NF!="total"{c=$4; printf "%s %.2f\n", $NF, c/n}' "$sout" |
            sort -k2 -gr | awk 'NR<=5{printf "%s%s %s", (NR>1 ? ", " : ""), $1, $2}')
        PROF[$p]="| $p | $cpu_us | $csw | $ins | $sys | $top |"
        note "profile $p: ${cpu_us} us CPU/req, $csw ctx-sw/req, $ins instr/req, $sys syscalls/req ($top)"
    done
fi

# ---------------------------------------------------------------- report

label() { case $1 in edge) echo "openclaw-edge" ;; nginx) echo "nginx" ;; haproxy) echo "HAProxy" ;; esac; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }'; }

declare -A MED=() EFF=()
BLOCK=$WORK/block.md
SATURATED=""
BAD=""
SOME=""
BOTH=""
NOISY=""
{
    echo "<!-- BEGIN MEASURED: written by benches/load.sh; edit outside these markers -->"
    echo "## Measured $START_DATE"
    echo
    echo "- Machine: $NCPU CPUs, $CPU_MODEL, $MEM, Linux $(uname -r)"
    echo "- Background CPU load before the run: ${BG_LOAD}%${BUSY_PROCS:+ (busiest: $BUSY_PROCS)}"
    has edge && echo "- openclaw-edge: $EDGE_V"
    has nginx && echo "- nginx: $NGINX_V (the backends are the same nginx in every case)"
    has haproxy && echo "- HAProxy: $HAPROXY_V"
    echo "- Load: $WRK_V, \`wrk -t1 -c$CONNS -d${RUN_SECS}s --latency\`, $RUNS interleaved runs per proxy (order rotated each run) after ${WARMUP}s of warm-up each"
    echo
    echo "| proxy | req/s | p50 ms | p99 ms | proxy process CPU % | CPU $PROXY_CPU busy % | req/s per busy CPU $PROXY_CPU | CPU $CLIENT_CPU busy % (wrk + backends) | new TCP conns per 1k req | other load % | errors (all runs) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for p in "${PROXIES[@]}"; do
        MED[$p]=$(f 0 "$(median "${RPS[$p]}")")
        cpu=$(f 0 "$(median "${CPU[$p]}")")
        pcpu=$(f 0 "$(median "${PCPU[$p]}")")
        # median over runs of each run's req/s divided by its CPU-0 busy share
        eff=$(paste -d' ' <(tr ' ' '\n' <<<"${RPS[$p]}" | awk 'NF') <(tr ' ' '\n' <<<"${PCPU[$p]}" | awk 'NF') |
            awk '$2 > 0 {printf "%.0f ", $1*100/$2}')
        eff=$(f 0 "$(median "$eff")")
        EFF[$p]=${eff:-n/a}
        if awk -v c="$pcpu" -v k="$(median "${CLI[$p]}")" 'BEGIN{exit !(k >= 95 && c < 90)}'; then
            SATURATED+="${SATURATED:+, }$(label "$p")"
        elif awk -v k="$(median "${CLI[$p]}")" 'BEGIN{exit !(k >= 95)}'; then
            BOTH+="${BOTH:+, }$(label "$p")"
        fi
        errs=$(tr ' ' '\n' <<<"${ERRS[$p]}" | awk '{s+=$1} END{print s+0}')
        echo "| $(label "$p") | ${MED[$p]} | $(f 2 "$(median "${P50[$p]}")") | $(f 2 "$(median "${P99[$p]}")") | $cpu | $pcpu | ${EFF[$p]} | $(f 0 "$(median "${CLI[$p]}")") | $(f 2 "$(median "${CONN[$p]}")") | $(f 0 "$(median "${OTHER[$p]}")") | $errs |"
        if ((errs > 0)); then
            total=$(tr ' ' '\n' <<<"${REQS[$p]}" | awk '{s+=$1} END{print s+0}')
            share=$(awk -v e="$errs" -v n="$total" 'BEGIN{printf "%.3f", (n > 0 ? e*100/n : 100)}')
            if awk -v x="$share" 'BEGIN{exit !(x >= 0.1)}'; then
                BAD+="${BAD:+, }$(label "$p") ($errs, ${share}% of requests)"
            else
                SOME+="${SOME:+, }$(label "$p") ($errs, ${share}% of requests)"
            fi
        fi
        noisy_runs=$(tr ' ' '\n' <<<"${OTHER[$p]}" | awk '$1 > 10 {n++} END{print n+0}')
        ((noisy_runs == 0)) || NOISY+="${NOISY:+, }$(label "$p") ($noisy_runs of $RUNS runs)"
    done
    echo
    echo "Medians over the runs. CPU $PROXY_CPU busy includes the kernel's interrupt and softirq time there (loopback TCP), which no process is charged for; \"req/s per busy CPU $PROXY_CPU\" is the proxy's throughput per core it fully uses, the figure that stays meaningful when the proxy was not the bottleneck."
    echo
    if [[ -n $BAD ]]; then
        echo "**Invalid:** 0.1% or more non-2xx responses or socket errors from $BAD: runs with errors are not comparable (see \"Errors of each run\" below; the median may still rest on clean runs); see the proxy's log (BENCH_KEEP=1 keeps it)."
        echo
    fi
    if [[ -n $SOME ]]; then
        echo "**Errors:** a few non-2xx responses or socket errors from $SOME; see the proxy's log (BENCH_KEEP=1 keeps it)."
        echo
    fi
    if [[ -n $NOISY ]]; then
        echo "**Noisy:** other processes used more than 10% of a CPU during runs of $NOISY (column \"other load\"); re-run on a quiet machine."
        echo
    fi
    if [[ -n $SATURATED ]]; then
        echo "**Warning:** for $SATURATED the client CPU (wrk + backends) was saturated while the proxy's was not: req/s measures the client there; compare \"req/s per busy CPU $PROXY_CPU\" instead."
        echo
    fi
    if [[ -n $BOTH ]]; then
        echo "Note: for $BOTH the client CPU was also at 95% or more, so the req/s may be a little capped by wrk and the backends: a lower bound."
        echo
    fi
    if has edge; then
        for o in nginx haproxy; do
            has "$o" || continue
            echo "- **edge / $(label "$o") req/s: $(ratio "${MED[edge]}" "${MED[$o]}")**; req/s per busy CPU $PROXY_CPU: $(ratio "${EFF[edge]}" "${EFF[$o]}"); p99 latency: $(ratio "$(median "${P99[edge]}")" "$(median "${P99[$o]}")")x $(label "$o")'s"
        done
        echo
    fi
    echo "Requests/s of each run (in run order):"
    echo
    echo "| proxy | $(seq -s ' | ' 1 "$RUNS") |"
    echo "|---|$(printf -- '---:|%.0s' $(seq 1 "$RUNS"))"
    for p in "${PROXIES[@]}"; do
        echo "| $(label "$p") | $(tr -s ' ' <<<"${RPS[$p]% }" | sed 's/ / | /g') |"
    done
    echo
    per_run() { # LABEL ARRAY-NAME
        local -n arr=$2
        echo "$1 of each run: $(for p in "${PROXIES[@]}"; do printf '%s %s; ' "$(label "$p")" "${arr[$p]% }"; done | sed 's/; $//')."
    }
    per_run "Proxy process CPU %" CPU
    per_run "CPU $PROXY_CPU busy %" PCPU
    per_run "CPU $CLIENT_CPU busy %" CLI
    per_run "Other load %" OTHER
    per_run "Errors" ERRS
    if ((PERF)); then
        echo
        echo "Profile (\`--perf\`: one more ${RUN_SECS}s run each under \`perf stat\`, another under \`strace -c -f\`, which slows the proxy; counts divided by that run's requests):"
        echo
        echo "| proxy | CPU µs/req | context switches/req | instructions/req | syscalls/req (strace) | top syscalls/req |"
        echo "|---|---:|---:|---:|---:|---|"
        for p in "${PROXIES[@]}"; do echo "${PROF[$p]}"; done
    fi
    echo
    echo "### Method"
    echo
    echo "- Every proxy: least_conn over two keep-alive HTTP/1.1 backends, one worker/thread, no access log, request headers $HDR_NOTE."
    echo "- nginx: \`worker_processes 1\`, \`upstream { least_conn; keepalive $NGINX_KEEPALIVE; }\`, \`proxy_http_version 1.1\`, \`proxy_set_header Connection \"\"\`."
    if ((NGINX_KEEPALIVE < CONNS)); then
        echo "  With \`keepalive $NGINX_KEEPALIVE\` below the $CONNS concurrent requests, nginx closes and reopens upstream connections (see \"new TCP conns\"); the others keep theirs."
    else
        echo "  \`keepalive $NGINX_KEEPALIVE\` rather than the seed's 32: nginx caps idle upstream connections per worker for the whole group, and with 32 it reopened ~180 upstream connections per 1000 requests here at 50 connections, which the edge and HAProxy do not (\`BENCH_NGINX_KEEPALIVE=32\` measures that)."
    fi
    echo "- HAProxy: \`nbthread 1\`, \`balance leastconn\`, \`http-reuse always\`, \`option forwardfor\`, \`X-Real-IP\` and a port-less \`Host\` set like nginx's, no log."
    echo "- openclaw-edge: \`threads: 1\`, \`work_stealing: false\`, \`access_log: off\`, \`keepalive: 32\`, the same upstream and headers in YAML."
    echo "- \`keepalive_requests 1000000\` on every nginx (proxy and backends): nginx's default of 1000 would close client and upstream connections the others keep."
    echo "- Backends: one nginx (1 worker) with two \`server\` blocks on two loopback ports, \`return 200 \"ok\\n\"\`, no access log."
    echo "- CPUs: the proxy under test \`taskset -c $PROXY_CPU\`; wrk and the backends \`taskset -c $CLIENT_CPU\`. Only 127.0.0.1."
    echo "- Before each run the script waits (up to ${QUIET_WAIT}s) for other processes to go idle, and measures a run again (up to $RETRIES times) when other load exceeded 10% of a CPU during it."
    echo "- Checked before measuring: what each backend received (below), and 10 sequential requests reach both backends (b1/b2)."
    echo "- proxy process CPU % = user+system time of the proxy's processes over the run's wall time; CPU N busy % = busy share of that CPU from /proc/stat, interrupts and softirq included; new TCP conns = TCP connections opened on the machine during the run (ActiveOpens) besides wrk's $CONNS, per 1000 requests: upstream connection churn; other load = busy time of all CPUs minus that of the proxy, the backends and wrk, in % of one CPU: anything else running (should be near 0)."
    echo
    for p in "${PROXIES[@]}"; do echo "    $(printf '%-8s' "$p") b1/b2 ${SPREAD[$p]}  ${HEADERS[$p]}"; done
    echo
    echo "Re-run: \`make bench\` or \`benches/load.sh\` (\`-h\` for options; \`BENCH_RUNS\`, \`BENCH_SECONDS\`, \`--only\`, \`--perf\`)."
    echo "<!-- END MEASURED -->"
} >"$BLOCK"

cat "$BLOCK"

if [[ -n $OUT ]]; then
    tmp=$(mktemp "$OUT.XXXXXX")
    if [[ -f $OUT ]] && grep -q '^<!-- BEGIN MEASURED' "$OUT" && grep -q '^<!-- END MEASURED' "$OUT"; then
        # keep everything outside the markers
        awk -v block="$BLOCK" '
            /^<!-- BEGIN MEASURED/ { while ((getline l < block) > 0) print l; skip = 1; next }
            /^<!-- END MEASURED/   { skip = 0; next }
            !skip { print }' "$OUT" >"$tmp"
    else
        {
            echo "# Load benchmark: openclaw-edge vs nginx vs HAProxy"
            echo
            echo "The block between the MEASURED markers is rewritten by \`benches/load.sh\`; everything else is kept."
            echo
            cat "$BLOCK"
            echo
            if [[ -f $OUT ]] && grep -q '^## What limits the rest' "$OUT"; then
                sed -n '/^## What limits the rest/,$p' "$OUT"
            else
                echo "## What limits the rest"
                echo
                echo "_To be written: where the edge's remaining time goes (perf, strace) and what would close the gap._"
            fi
        } >"$tmp"
    fi
    chmod 644 "$tmp"
    mv "$tmp" "$OUT"
    note "wrote $OUT"
else
    note "partial run (--only): RESULTS.md left alone; set BENCH_OUT=FILE to write a report"
fi
