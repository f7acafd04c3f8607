#!/usr/bin/env bash
# `make run`: the local stack. For now the edge alone on :8080 (admin on
# 127.0.0.1:9901) in front of 127.0.0.1:18789-18791, where the gateway nodes
# will run; until they do, the edge answers 502 naming the upstream.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
EDGE=target/dist/openclaw-edge
CONF=conf/edge.yaml
mkdir -p .run
"$EDGE" -t -c "$CONF"
"$EDGE" -c "$CONF" > .run/edge-access.log 2> .run/edge-error.log &
edge_pid=$!
trap 'kill $edge_pid 2>/dev/null; wait $edge_pid 2>/dev/null; echo; echo "stopped."' EXIT INT TERM

deadline=$((SECONDS + 15))
until curl -fsS -o /dev/null http://127.0.0.1:9901/metrics 2>/dev/null; do
  if ! kill -0 $edge_pid 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "the edge did not start; its log:"; cat .run/edge-error.log; exit 1
  fi
  sleep 0.2
done

cat <<MSG

openclaw-edge is running (pid $edge_pid), config $CONF.
  proxy   http://127.0.0.1:8080/   (least_conn 3:2:1 over 127.0.0.1:18789-18791)
  admin   http://127.0.0.1:9901/status   /api/status   /metrics
  logs    .run/edge-access.log (access), .run/edge-error.log

Try:
  curl -i http://127.0.0.1:8080/health       # 502 naming the upstream until gateways run
  curl -s http://127.0.0.1:9901/metrics | grep openclaw_edge_
  $EDGE -t -c $CONF

Ctrl-C stops it.
MSG
wait $edge_pid
