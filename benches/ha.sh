#!/usr/bin/env bash
# benches/ha.sh: failover timings of the gateway nodes (tests/src/bin/ha_bench.rs):
# 20 rounds of a graceful stop (SIGTERM) and 20 of a crash (SIGKILL) of the
# leader, each timed from the signal until the follower holds the lease and
# answers /ready 200. Writes the block between the HA MEASURED markers of
# benches/RESULTS.md (appended if missing); the rest of the file is kept.
#
# Usage: benches/ha.sh [-h]
# Environment: BENCH_HA_ROUNDS (20), BENCH_HA_TTL (5s, the default lease),
#              OPENCLAW_BIN (the node binary; default target/dist/openclaw),
#              BENCH_HA_CLIENT (default target/release/ha_bench), BENCH_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0
fi
ROUNDS=${BENCH_HA_ROUNDS:-20}
TTL=${BENCH_HA_TTL:-5s}
export OPENCLAW_BIN=${OPENCLAW_BIN:-$PWD/target/dist/openclaw}
CLIENT=${BENCH_HA_CLIENT:-target/release/ha_bench}
OUT=${BENCH_OUT:-benches/RESULTS.md}
for f in "$OPENCLAW_BIN" "$CLIENT"; do
  [ -x "$f" ] || { echo "ha.sh: $f not found; run \`make bench-ha\`" >&2; exit 1; }
done
echo "ha.sh: $ROUNDS graceful + $ROUNDS crash rounds, lease ttl $TTL (progress on stderr)" >&2
lines=$("$CLIENT" --rounds "$ROUNDS" --ttl "$TTL")
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d[sys.argv[2]])' "$1" "$2"; }
graceful=$(grep '"graceful"' <<<"$lines"); crash=$(grep '"crash"' <<<"$lines")
block=$(cat <<MD
<!-- BEGIN HA MEASURED: written by benches/ha.sh; edit outside these markers -->
## Gateway failover, measured $(date -u '+%Y-%m-%d %H:%M UTC')

- Machine: $(nproc) CPUs, $(uname -sr); redis-server $(redis-server --version | grep -o 'v=[^ ]*' | cut -c3-)
- Node: $("$OPENCLAW_BIN" --version), git $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
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
python3 - "$OUT" "$block" <<'PY'
import re, sys
path, block = sys.argv[1], sys.argv[2]
text = open(path).read() if __import__('os').path.exists(path) else ""
pat = re.compile(r"<!-- BEGIN HA MEASURED.*?<!-- END HA MEASURED -->", re.S)
text = pat.sub(lambda _: block, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + block + "\n"
open(path, "w").write(text)
PY
echo "$block"
