#!/usr/bin/env bash
# `make run`: the local stack. A private redis-server on 127.0.0.1:16379, three
# gateway nodes on 127.0.0.1:18789-18791 sharing sessions through it, and the
# edge on :8080 in front of them (least_conn 3:2:1, health checks on /health,
# sticky cookie; admin on 127.0.0.1:9901). Everything lives under .run/.
# Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/dist
EDGE=$BIN/openclaw-edge
OPENCLAW=$BIN/openclaw
CONF=conf/edge.yaml
GATEWAY_CONF=$PWD/conf/gateway.json
REDIS_PORT=16379
RUN=$PWD/.run
mkdir -p "$RUN/redis"

node_env() { # node number -> environment for that node
  echo "OPENCLAW_STATE_DIR=$RUN/node$1 OPENCLAW_CONFIG_PATH=$GATEWAY_CONF OPENCLAW_GATEWAY_PORT=$((18788 + $1))"
}
stop_all() {
  for i in 1 2 3; do env $(node_env $i) "$OPENCLAW" gateway stop >/dev/null 2>&1 || true; done
  [ -n "${edge_pid:-}" ] && kill "$edge_pid" 2>/dev/null && wait "$edge_pid" 2>/dev/null
  [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  true
}
trap 'stop_all; echo; echo "stopped."' EXIT
trap 'exit 130' INT TERM

"$EDGE" -t -c "$CONF" >/dev/null
stop_all # nodes left over from an earlier run that was not stopped

redis-server --bind 127.0.0.1 --port $REDIS_PORT --dir "$RUN/redis" --save "" --appendonly no \
  > "$RUN/redis.log" 2>&1 &
redis_pid=$!
deadline=$((SECONDS + 10))
until redis-cli -p $REDIS_PORT ping >/dev/null 2>&1; do
  if ! kill -0 $redis_pid 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "redis-server did not start on 127.0.0.1:$REDIS_PORT; its log:"; cat "$RUN/redis.log"; exit 1
  fi
  sleep 0.1
done

for i in 1 2 3; do
  env $(node_env $i) "$OPENCLAW" gateway start --node "node$i"
done

"$EDGE" -c "$CONF" > "$RUN/edge-access.log" 2> "$RUN/edge-error.log" &
edge_pid=$!
deadline=$((SECONDS + 15))
until curl -fsS -o /dev/null http://127.0.0.1:9901/metrics 2>/dev/null; do
  if ! kill -0 $edge_pid 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "the edge did not start; its log:"; cat "$RUN/edge-error.log"; exit 1
  fi
  sleep 0.2
done

cat <<MSG

The local stack is running:
  edge      ws://127.0.0.1:8080/ and http://127.0.0.1:8080/   (least_conn 3:2:1, /health checks, cookie openclaw_route)
  admin     http://127.0.0.1:9901/status   /api/status   /api/upstreams   /metrics
  gateways  node1 :18789, node2 :18790, node3 :18791 (token local-dev-token, state in .run/nodeN)
  redis     127.0.0.1:$REDIS_PORT (sessions under openclaw:sessions:)
  logs      .run/edge-access.log, .run/edge-error.log, .run/nodeN/logs/gateway.log

Try:
  $OPENCLAW gateway call chat.send --url ws://127.0.0.1:8080 --token local-dev-token \\
      --params '{"sessionKey":"main","message":"hello through the edge","idempotencyKey":"try-1"}' --expect-final
  $OPENCLAW gateway call chat.history --url ws://127.0.0.1:18791 --token local-dev-token --params '{"sessionKey":"main"}'
  $OPENCLAW gateway call chat.send --url ws://127.0.0.1:8080 --token local-dev-token \\
      --params '{"sessionKey":"agent:wc:main","message":"count these four words","idempotencyKey":"try-2"}' --expect-final
  $OPENCLAW gateway health --url ws://127.0.0.1:8080 --token local-dev-token
  curl -s http://127.0.0.1:18789/ready; curl -s http://127.0.0.1:18789/metrics | grep openclaw_gateway_
  OPENCLAW_STATE_DIR=.run/node1 $OPENCLAW gateway status
  $EDGE ctl upstreams; $EDGE ctl drain openclaw_gateway 127.0.0.1:18789; $EDGE ctl undrain openclaw_gateway 0
  OPENCLAW_CONFIG_PATH=conf/gateway.json $OPENCLAW gateway nodes      # the cluster; lock-status: the lease
  OPENCLAW_CONFIG_PATH=conf/gateway.json $OPENCLAW gateway promote --node node3
  OPENCLAW_STATE_DIR=.run/node1 $OPENCLAW gateway stop     # the edge routes around it

Ctrl-C stops it all.
MSG
wait $edge_pid
