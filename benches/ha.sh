#!/usr/bin/env bash
# benches/ha.sh: failover of the gateway nodes, in two parts.
#  lease:  tests/src/bin/ha_bench.rs: 20 rounds of a graceful stop (SIGTERM)
#          and 20 of a crash (SIGKILL) of the leader, each timed from the
#          signal until the follower holds the lease and answers /ready 200.
#          Writes the block between the HA MEASURED markers.
#  client: tests/src/bin/failover_bench.rs: clients looping connect -> hello
#          -> chat.send through each front (the edge following the lease, the
#          edge on /ready checks, HAProxy on /ready checks, nginx with passive
#          checks) in front of 3 active-standby nodes, while the leader gets a
#          graceful stop, a kill -9 and a SIGSTOP: time to the first success and
#          failed attempts. Writes the block between the HA CLIENT MEASURED markers.
# The rest of benches/RESULTS.md is kept; a missing block is appended.
#
# Usage: benches/ha.sh [-h]
# Environment: BENCH_HA_PARTS ("lease client"), BENCH_HA_TTL (5s, the default lease),
#   BENCH_HA_ROUNDS (20, lease part), BENCH_HA_CLIENT_ROUNDS (5 per front and fault),
#   BENCH_HA_CLIENTS (4), BENCH_HA_CHECK_INTERVAL (200ms),
#   BENCH_HA_FRONTS (edge-leader,edge-health,haproxy,nginx-passive),
#   BENCH_HA_FAULTS (graceful,kill,stop),
#   OPENCLAW_BIN, OPENCLAW_EDGE_BIN (default target/dist/...),
#   BENCH_HA_CLIENT (target/release/ha_bench), BENCH_HA_FAILOVER (target/release/failover_bench),
#   BENCH_OUT (benches/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0
fi
PARTS=${BENCH_HA_PARTS:-lease client}
ROUNDS=${BENCH_HA_ROUNDS:-20}
TTL=${BENCH_HA_TTL:-5s}
CLIENT_ROUNDS=${BENCH_HA_CLIENT_ROUNDS:-5}
CLIENTS=${BENCH_HA_CLIENTS:-4}
INTERVAL=${BENCH_HA_CHECK_INTERVAL:-200ms}
FRONTS=${BENCH_HA_FRONTS:-edge-leader,edge-health,haproxy,nginx-passive}
FAULTS=${BENCH_HA_FAULTS:-graceful,kill,stop}
export OPENCLAW_BIN=${OPENCLAW_BIN:-$PWD/target/dist/openclaw}
export OPENCLAW_EDGE_BIN=${OPENCLAW_EDGE_BIN:-$PWD/target/dist/openclaw-edge}
CLIENT=${BENCH_HA_CLIENT:-target/release/ha_bench}
FAILOVER=${BENCH_HA_FAILOVER:-target/release/failover_bench}
OUT=${BENCH_OUT:-benches/RESULTS.md}
need=("$OPENCLAW_BIN")
[[ " $PARTS " == *" lease "* ]] && need+=("$CLIENT")
[[ " $PARTS " == *" client "* ]] && need+=("$OPENCLAW_EDGE_BIN" "$FAILOVER")
for f in "${need[@]}"; do
  [ -x "$f" ] || { echo "ha.sh: $f not found; run \`make bench-ha\`" >&2; exit 1; }
done

# write_block NAME BLOCK: replaces the NAME markers' block in $OUT, else
# inserts it after the block named AFTER (if given and present), else appends.
write_block() {
  python3 - "$OUT" "$1" "$2" "${3:-}" <<'PY'
import os, re, sys
path, name, block, after = sys.argv[1:5]
text = open(path).read() if os.path.exists(path) else ""
pat = re.compile(r"<!-- BEGIN %s MEASURED.*?<!-- END %s MEASURED -->" % (name, name), re.S)
prev = re.compile(r"<!-- END %s MEASURED -->" % after) if after else None
if pat.search(text):
    text = pat.sub(lambda _: block, text)
elif prev and prev.search(text):
    m = prev.search(text)
    text = text[:m.end()] + "\n\n" + block + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
open(path, "w").write(text)
PY
}

machine="$(nproc) CPUs, $(uname -sr); redis-server $(redis-server --version | grep -o 'v=[^ ]*' | cut -c3-)"
node_version="$("$OPENCLAW_BIN" --version), git $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"

# ------------------------------------------------------------------ lease
if [[ " $PARTS " == *" lease "* ]]; then
echo "ha.sh: $ROUNDS graceful + $ROUNDS crash rounds, lease ttl $TTL (progress on stderr)" >&2
lines=$("$CLIENT" --rounds "$ROUNDS" --ttl "$TTL")
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d[sys.argv[2]])' "$1" "$2"; }
graceful=$(grep '"graceful"' <<<"$lines"); crash=$(grep '"crash"' <<<"$lines")
block=$(cat <<MD
<!-- BEGIN HA MEASURED: written by benches/ha.sh; edit outside these markers -->
## Gateway failover, measured $(date -u '+%Y-%m-%d %H:%M UTC')

- Machine: $machine
- Node: $node_version
- Two nodes (primary 100, secondary 50, active-standby), lease ttl $TTL (renew every ttl/3), one private redis-server on loopback.
  Each round: the primary leads, the secondary follows; then the primary gets the signal; timed until the
  secondary holds the lease in Redis **and** answers \`/ready\` 200 (polled every 20 ms, so figures include up to 20 ms of polling).

| failover | rounds | p50 | max | target |
|---|---:|---:|---:|---|
| graceful stop (SIGTERM: released at once) | $(field "$graceful" rounds) | $(field "$graceful" p50_ms) ms | $(field "$graceful" max_ms) ms | within 500 ms |
| crash (SIGKILL: the lease must expire) | $(field "$crash" rounds) | $(field "$crash" p50_ms) ms | $(field "$crash" max_ms) ms | within ttl + 1 s |

Every round (ms): graceful $(field "$graceful" all_ms | tr -d '[]'); crash $(field "$crash" all_ms | tr -d '[]').
<!-- END HA MEASURED -->
MD
)
write_block HA "$block"
echo "$block"
fi

# ----------------------------------------------------------------- client
if [[ " $PARTS " == *" client "* ]]; then
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "ha.sh: client-visible failover: fronts $FRONTS, faults $FAULTS, $CLIENT_ROUNDS rounds each, $CLIENTS clients, lease ttl $TTL, checks every $INTERVAL (progress on stderr)" >&2
lines=$("$FAILOVER" --rounds "$CLIENT_ROUNDS" --clients "$CLIENTS" --ttl "$TTL" \
  --check-interval "$INTERVAL" --fronts "$FRONTS" --faults "$FAULTS")
mkdir -p target/tmp
printf '%s\n' "$lines" > target/tmp/ha-client.jsonl
echo "ha.sh: failover_bench's lines are in target/tmp/ha-client.jsonl" >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# awk reads all its input: `head -1` would end the pipe early and, under
# pipefail, a SIGPIPE of the writer would end this script (and the run).
edge_version=$("$OPENCLAW_EDGE_BIN" --version 2>&1 | awk 'NR == 1')
haproxy_version=$(haproxy -v | awk 'NR == 1 {print $3}')
nginx_version=$(nginx -v 2>&1 | sed 's/.*nginx\///')
table=$(python3 - "$lines" "$TTL" <<'PY'
import json, re, sys
lines = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip().startswith("{")]
m = re.fullmatch(r"([\d.]+)(ms|s)", sys.argv[2])
ttl_ms = float(m.group(1)) * (1 if m.group(2) == "ms" else 1000)
faults = {"graceful": "graceful stop (SIGTERM)", "kill": "kill -9 (SIGKILL)", "stop": "hang (SIGSTOP)"}
goals = {"graceful": "0 failed in round, outage <= 200 ms", "kill": "outage <= ttl + 0.5 s = %g ms" % (ttl_ms + 500), "stop": "none set"}
def met(r):
    if r["off_leader"]["max"] > 0:
        return "n/a (served by standbys)"
    if r["unrecovered"]:
        return "no (%d rounds never recovered)" % r["unrecovered"]
    if r["fault"] == "graceful":
        ok = r["failed_total"]["max"] == 0 and r["outage_ms"]["max"] <= 200
    elif r["fault"] == "kill":
        ok = r["outage_ms"]["max"] <= ttl_ms + 500
    else:
        return "-"
    return "yes" if ok else "no"
num = lambda v: ("%g" % v) if v is not None else "-"
out = ["| fault | front | rounds | recovery p50 | recovery max | new lease p50 | after lease p50 | after lease max | failed p50 | failed max | failed in round p50 | last failure p50 | off-leader p50 | goal | met (every round) |",
       "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
measured = [l for l in lines if "skipped" not in l]
for fault in faults:
    for r in (l for l in measured if l["fault"] == fault):
        none = {"p50": None, "max": None}
        rec = r["recovery_ms"] or none
        lease, after = r["lease_ms"] or none, r["after_lease_ms"] or none
        out.append("| %s | %s | %d | %s ms | %s ms | %s ms | %s ms | %s ms | %s | %s | %s | %s ms | %s | %s | %s |" % (
            faults[fault], r["front"], r["rounds"], num(rec["p50"]), num(rec["max"]),
            num(lease["p50"]), num(after["p50"]), num(after["max"]),
            num(r["failed"]["p50"]), num(r["failed"]["max"]), num(r["failed_total"]["p50"]),
            num(r["last_failure_ms"]["p50"]), num(r["off_leader"]["p50"]), goals[fault], met(r)))
out.append("")
for l in lines:
    if "skipped" in l:
        out.append("- **%s not measured**: %s" % (l["front"], l["skipped"]))
out.append("")
out.append("Every round, each list sorted (recovery ms; after lease ms; outage ms; failed in round), failures by step and class over the rounds:")
out.append("")
for r in measured:
    rec = r["recovery_ms"]["all"] if r["recovery_ms"] else []
    outage = r["outage_ms"]["all"] if r["outage_ms"] else []
    after = r["after_lease_ms"]["all"] if r["after_lease_ms"] else []
    out.append("- %s, %s: %s; %s; %s; %s; failures: %s; failures before the fault: %d; attempts: %d" % (
        r["front"], r["fault"], ", ".join(num(v) for v in rec) or "-",
        ", ".join(num(v) for v in after) or "-",
        ", ".join(num(v) for v in outage) or "-",
        ", ".join(num(v) for v in r["failed_total"]["all"]),
        ", ".join("%s %d" % kv for kv in r["failure_kinds"].items()) or "none",
        r["failed_before_fault"], r["attempts"]))
print("\n".join(out))
PY
)
block=$(cat <<MD
<!-- BEGIN HA CLIENT MEASURED: written by benches/ha.sh; edit outside these markers -->
## Client-visible failover, measured $(date -u '+%Y-%m-%d %H:%M UTC')

- Machine: $machine
- Node: $node_version; edge: $edge_version; HAProxy $haproxy_version; nginx $nginx_version
- Load average (1, 5, 15 min) before: $load_before; after: $load_after (other work on this machine shows here; it stretches every figure).
- Cluster: 3 nodes (primary 100, secondary 50, secondary 50; active-standby: only the lease holder answers \`/ready\` 200),
  lease ttl $TTL (renew every ttl/3), sessions and lease in one private redis-server, all on loopback.
- Clients: $CLIENTS, each looping through the front: TCP connect, WebSocket upgrade, \`connect\` -> \`hello-ok\`, one \`chat.send\`
  and its run's final \`chat\` event (echo agent), close; 20 ms pause; an attempt fails when a step fails or the whole takes over 2 s.
- A round (per front and fault, $CLIENT_ROUNDS each, fronts interleaved): the cluster settled and 5 attempts in a row through the front
  succeed; the clients run 1 s; the leader gets the fault; the clients run until 1 s after the recovery; the faulted node is
  restored (restarted on its port; a SIGSTOPped one gets SIGCONT: it still holds the lease if the round ended before it expired) and the cluster settles again.
- **recovery**: from the fault to the end of the first successful attempt that *started* after it. **failed**: failed attempts
  that ended between the fault and the recovery (those under way at the fault included). **failed in round**: failed attempts that
  ended after the fault, the 1 s tail included. **last failure**: from the fault to the end of the last failed attempt (0: none).
  **outage** (used for "met"): the later of recovery and last failure.
  **new lease**: from the fault to the first read (every 10 ms, over one Redis connection) of another node holding the lease:
  the cluster's part, the same whatever the front. **after lease**: recovery minus new lease, the front's own part
  (negative: a node served before the new lease was read).
  **off-leader**: successes served (\`hello-ok\`'s \`server.node\`) by a node that held the lease neither when the attempt
  started nor when it ended (the old leader until the new lease was read, then the new one).
  Medians (p50, the lower one for an even count) and maxima over the rounds.
- Fronts, all round robin over the same 3 servers, upstream connect and answer limits 1 s, \`X-Forwarded-For\` added:
  - **edge-leader**: openclaw-edge following the lease (\`leader: { redis, key }\`: new connections to the holder's \`address\`), plus the checks below.
  - **edge-health**: openclaw-edge, active checks only: \`GET /ready HTTP/1.0\` every $INTERVAL, rise 1, fall 1, timeout 500 ms, 2xx alive;
    \`max_fails=1 fail_timeout=10s\`, retries on connect error/timeout (next_upstream default).
  - **haproxy** (the anchor for \`/ready\`-style checks): \`option httpchk GET /ready\`, \`inter/fastinter/downinter $INTERVAL rise 1 fall 1\`,
    \`timeout check 500ms\`, \`retries 2\`, \`option redispatch\`. (nginx OSS from Debian has no active checks: the upstream check module
    of the deployment guide is not in it.)
  - **nginx-passive**: Debian's nginx, passive checks only: \`max_fails=1 fail_timeout=10s\`, \`proxy_next_upstream error timeout http_502 http_503\`,
    \`proxy_read_timeout 1s\` (also the tunnels' idle limit in nginx). It cannot tell the leader from a standby, and a standby serves
    \`chat.send\` too (its sessions are in Redis): its clients land on every node (off-leader).

$table
<!-- END HA CLIENT MEASURED -->
MD
)
write_block "HA CLIENT" "$block" HA
echo "$block"
fi
