#!/usr/bin/env bash
# benches/tls.sh: TLS termination by openclaw-edge, nginx and HAProxy.
#
# Same method as benches/load.sh and ws.sh: the three proxies do identical
# work (TLS 1.3 only, ALPN http/1.1, proxy to one keep-alive nginx backend
# answering `return 200 "ok"`, one worker/thread, no access log), the proxy
# under test pinned to one CPU, wrk and the backend to the other; runs
# rotated (edge, nginx, haproxy, then nginx, haproxy, edge ...) and medians
# reported with the edge's ratios. For an ECDSA P-256 and an RSA 2048
# certificate, per proxy and run:
#   - requests over kept-alive TLS connections (wrk, BENCH_CONNS), per
#     second and per proxy CPU-second;
#   - new TLS handshakes (wrk with `Connection: close`: one handshake per
#     request, full: session tickets and caches are off in all three, so
#     nothing resumes), per second and per proxy CPU-second.
# Proxy CPU time is utime+stime of its processes (/proc/PID/stat).
#
# The block of benches/RESULTS.md between the BEGIN/END TLS MEASURED markers
# is regenerated; the rest of the file is kept.
#
# Environment: BENCH_RUNS [3] BENCH_SECONDS [5] BENCH_CONNS [50]
#   BENCH_EDGE_BIN BENCH_OUT BENCH_PROXY_CPU [0] BENCH_CLIENT_CPU [1]
#   BENCH_KEEP=1 (keep the scratch directory)

set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

die() {
    echo "tls.sh: error: $*" >&2
    exit 1
}
note() { echo "tls.sh: $*" >&2; }

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,22p' "$0"
    exit 0
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-5}
CONNS=${BENCH_CONNS:-50}
EDGE_BIN=${BENCH_EDGE_BIN:-$ROOT/target/release/openclaw-edge}
OUT=${BENCH_OUT:-$HERE/RESULTS.md}
PROXY_CPU=${BENCH_PROXY_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
HZ=$(getconf CLK_TCK)
PROXIES=(edge nginx haproxy)
KEYS=(ecdsa rsa)

for v in RUNS SECS CONNS PROXY_CPU CLIENT_CPU; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v='${!v}' is not a whole number"
done
[[ -x $EDGE_BIN ]] || die "no edge binary at $EDGE_BIN (cargo build --release -p openclaw-edge)"
find_tool() { command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; }; }
NGINX=$(find_tool nginx) || die "nginx not found (apt-get install nginx)"
HAPROXY=$(find_tool haproxy) || die "haproxy not found (apt-get install haproxy)"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"

WORK=$(mktemp -d /tmp/openclaw-bench-tls.XXXXXX)
declare -a STARTED=() TRANSIENT=()
declare -A PID=() PORT=() LOG=() TAKEN=([8080]=1 [9901]=1 [18789]=1 [18790]=1 [18791]=1)

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_tls NAME PORT: polls until a TLS handshake succeeds on 127.0.0.1:PORT (15 s).
wait_tls() {
    local deadline=$(($(now_ms) + 15000))
    while (($(now_ms) < deadline)); do
        alive "${PID[$1]}" || die "$1 exited during start-up (log: ${LOG[$1]})"
        curl -sk --max-time 1 -o /dev/null "https://127.0.0.1:$2/" && return 0
        sleep 0.05
    done
    die "$1 did not answer over TLS on $2 within 15 s (log: ${LOG[$1]})"
}

# ------------------------------------------------------------ certificates
cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=bench.test -keyout ecdsa.key -out ecdsa.pem 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
    -subj /CN=bench.test -keyout rsa.key -out rsa.pem 2>/dev/null
for k in "${KEYS[@]}"; do cat "$k.pem" "$k.key" >"$k.both.pem"; done
cd - >/dev/null

# ------------------------------------------------------------ backend
B=$(free_port)
mkdir -p "$WORK/backend"
cat >"$WORK/backend/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/backend/nginx.pid;
error_log $WORK/backend/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/backend/cb; proxy_temp_path $WORK/backend/p; fastcgi_temp_path $WORK/backend/f;
    uwsgi_temp_path $WORK/backend/u; scgi_temp_path $WORK/backend/s;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$B backlog=4096; location / { return 200 "ok\n"; } }
}
EOF
start backend "$CLIENT_CPU" "$NGINX" -p "$WORK/backend" -e "$WORK/backend/error.log" -c "$WORK/backend/nginx.conf"

# ------------------------------------------------------------ proxies
config_edge() { # PORT KEY
    cat <<EOF
threads: 1
work_stealing: false
access_log: "off"
admin: { listen: "127.0.0.1:$(free_port)" }
upstreams:
  backend:
    keepalive: 64
    servers:
      - { address: "127.0.0.1:$B" }
servers:
  - listen: ["127.0.0.1:$1"]
    client: { keepalive_requests: 1000000 }
    tls:
      certificate: $WORK/$2.pem
      certificate_key: $WORK/$2.key
      protocols: [TLSv1.3]
      session_tickets: false
    locations:
      - path: /
        proxy_pass: http://backend
EOF
}
config_nginx() { # PORT KEY
    local d=$WORK/nginx
    cat <<EOF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $d/cb; proxy_temp_path $d/p; fastcgi_temp_path $d/f;
    uwsgi_temp_path $d/u; scgi_temp_path $d/s;
    keepalive_requests 1000000;
    upstream backend { server 127.0.0.1:$B; keepalive 64; }
    server {
        listen 127.0.0.1:$1 ssl backlog=4096;
        ssl_certificate $WORK/$2.pem;
        ssl_certificate_key $WORK/$2.key;
        ssl_protocols TLSv1.3;
        ssl_session_tickets off;
        ssl_session_cache off;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
}
config_haproxy() { # PORT KEY
    cat <<EOF
global
    nbthread 1
    maxconn 8000
    ssl-default-bind-options ssl-min-ver TLSv1.3 no-tls-tickets
    tune.ssl.cachesize 0
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    http-reuse always
frontend fe
    bind 127.0.0.1:$1 ssl crt $WORK/$2.both.pem alpn http/1.1
    default_backend be
backend be
    server b 127.0.0.1:$B
EOF
}

# launch PROXY KEY: a fresh proxy process serving certificate KEY.
launch() {
    local p=$1 k=$2
    PORT[$p]=$(free_port)
    mkdir -p "$WORK/$p"
    case $p in
    edge)
        config_edge "${PORT[$p]}" "$k" >"$WORK/edge/edge.yaml"
        start edge "$PROXY_CPU" "$EDGE_BIN" -c "$WORK/edge/edge.yaml"
        ;;
    nginx)
        config_nginx "${PORT[$p]}" "$k" >"$WORK/nginx/nginx.conf"
        start nginx "$PROXY_CPU" "$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf"
        ;;
    haproxy)
        config_haproxy "${PORT[$p]}" "$k" >"$WORK/haproxy/haproxy.cfg"
        start haproxy "$PROXY_CPU" "$HAPROXY" -db -f "$WORK/haproxy/haproxy.cfg"
        ;;
    esac
    wait_tls "$p" "${PORT[$p]}"
}
halt() { stop_tree "${PID[$1]}"; }

# measure PROXY [wrk args]: "requests-per-second requests-per-proxy-CPU-second errors"
measure() {
    local p=$1 t0 t1 out reqs errs
    shift
    t0=$(cpu_ticks "${PID[$p]}")
    out=$(bounded $((SECS + 30)) taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${SECS}s" "$@" \
        "https://127.0.0.1:${PORT[$p]}/" 2>&1) || die "$p: wrk failed: $out"
    t1=$(cpu_ticks "${PID[$p]}")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    errs=$(awk '/Non-2xx|Socket errors/ {n += $NF} END {print n + 0}' <<<"$out")
    awk -v r="${reqs:-0}" -v s="$SECS" -v t=$((t1 - t0)) -v hz="$HZ" -v e="$errs" \
        'BEGIN{ printf "%.0f %.0f %d\n", r / s, (t > 0 ? r * hz / t : 0), e }'
}

# the backend: clear text, polled until it answers (5 s)
for ((i = 0; i < 100; i++)); do curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$B/" && break; sleep 0.05; done

declare -A R=()
order=("${PROXIES[@]}")
for ((run = 1; run <= RUNS; run++)); do
    for p in "${order[@]}"; do
        for k in "${KEYS[@]}"; do
            note "run $run/$RUNS: $p, $k"
            launch "$p" "$k"
            read -r ka_rps ka_cpu ka_err < <(measure "$p")
            read -r hs_rps hs_cpu hs_err < <(measure "$p" -H "Connection: close")
            halt "$p"
            R[$p,$k,ka_rps]+="$ka_rps "
            R[$p,$k,ka_cpu]+="$ka_cpu "
            R[$p,$k,hs_rps]+="$hs_rps "
            R[$p,$k,hs_cpu]+="$hs_cpu "
            R[$p,errors]=$((${R[$p,errors]:-0} + ka_err + hs_err))
            note "  $p $k: kept-alive $ka_rps req/s ($ka_cpu per CPU-s), handshakes $hs_rps /s ($hs_cpu per CPU-s), errors $((ka_err + hs_err))"
        done
    done
    order=("${order[@]:1}" "${order[0]}")
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{ print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.2f", (b > 0 ? a / b : 0) }'; }
declare -A M=()
for p in "${PROXIES[@]}"; do
    for k in "${KEYS[@]}"; do
        for f in ka_rps ka_cpu hs_rps hs_cpu; do M[$p,$k,$f]=$(median <<<"${R[$p,$k,$f]}"); done
    done
done

BLOCK=$WORK/block.md
{
    echo "<!-- BEGIN TLS MEASURED: written by benches/tls.sh; edit outside these markers -->"
    echo "## TLS termination, measured $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Medians of $RUNS rotated runs, each on a freshly started proxy; TLS 1.3 only, ALPN http/1.1; proxy"
    echo "pinned to CPU $PROXY_CPU, wrk (1 thread, $CONNS connections, ${SECS} s) and the nginx backend to CPU"
    echo "$CLIENT_CPU; keep-alive to the backend; one worker, no access log. Handshakes: wrk with"
    echo "\`Connection: close\`, one full handshake per request (tickets and session caches off in all three). $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'),"
    echo "$("$HAPROXY" -v | awk 'NR==1{print $1, $3}'), openclaw-edge git $(git -C "$ROOT" rev-parse --short=12 HEAD)$([[ -n $(git -C "$ROOT" status --porcelain -- proxy) ]] && echo ' + uncommitted changes') (rustls, aws-lc-rs)."
    echo
    echo "| per proxy CPU-second | edge | nginx | HAProxy | edge/nginx | edge/HAProxy |"
    echo "|---|---:|---:|---:|---:|---:|"
    for k in "${KEYS[@]}"; do
        label=$([[ $k == ecdsa ]] && echo "ECDSA P-256" || echo "RSA 2048")
        for f in ka_cpu hs_cpu; do
            what=$([[ $f == ka_cpu ]] && echo "requests, kept-alive TLS" || echo "new TLS handshakes")
            echo "| $what, $label | ${M[edge,$k,$f]} | ${M[nginx,$k,$f]} | ${M[haproxy,$k,$f]} | $(ratio "${M[edge,$k,$f]}" "${M[nginx,$k,$f]}") | $(ratio "${M[edge,$k,$f]}" "${M[haproxy,$k,$f]}") |"
        done
    done
    echo
    echo "Per second (medians): "
    for k in "${KEYS[@]}"; do
        echo "- $k: kept-alive req/s edge ${M[edge,$k,ka_rps]}, nginx ${M[nginx,$k,ka_rps]}, HAProxy ${M[haproxy,$k,ka_rps]}; handshakes/s edge ${M[edge,$k,hs_rps]}, nginx ${M[nginx,$k,hs_rps]}, HAProxy ${M[haproxy,$k,hs_rps]}"
    done
    echo
    echo "Errors (non-2xx and socket errors, all runs): edge ${R[edge,errors]:-0}, nginx ${R[nginx,errors]:-0}, HAProxy ${R[haproxy,errors]:-0}."
    echo
    echo "<!-- END TLS MEASURED -->"
} >"$BLOCK"
cat "$BLOCK"

tmp=$(mktemp "$OUT.XXXXXX")
if [[ -f $OUT ]] && grep -q '^<!-- BEGIN TLS MEASURED' "$OUT"; then
    awk -v block="$BLOCK" '
        /^<!-- BEGIN TLS MEASURED/ { while ((getline l < block) > 0) print l; skip = 1; next }
        /^<!-- END TLS MEASURED/   { skip = 0; next }
        !skip { print }' "$OUT" >"$tmp"
else
    { [[ -f $OUT ]] && cat "$OUT" && echo; cat "$BLOCK"; } >"$tmp"
fi
chmod 644 "$tmp"
mv "$tmp" "$OUT"
note "wrote $OUT"
