#!/usr/bin/env bash
# `make docker-test`: docker/compose.yaml for real, on this machine.
# Installs what is missing (scripts/docker-deps.sh), starts the engine if none
# runs (and stops it after, restoring the FORWARD policy), builds the images
# (scripts/docker-build.sh), brings the stack up with --wait, then checks:
#   chat.send + chat.history through the published edge port (127.0.0.1:8080);
#   lock-status and nodes from inside the stack (docker compose exec);
#   Prometheus (127.0.0.1:9090) reports every target up;
#   kill of the leader's container: a new leader within ttl + 1 s, clients
#   through the edge keep working; stop of a node: graceful (exit 0, in time);
#   down: no container, network or firewall change left behind.
# One line per check; exits non-zero on the first failure (the stack is taken
# down either way).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OC=${OPENCLAW_DIST:-$ROOT/target/dist}/openclaw
COMPOSE_FILE=$ROOT/docker/compose.yaml
PROJECT=openclaw
TTL_MS=5000   # ha.lease.ttl in docker/gateway/openclaw.json
export REDIS_IMAGE=${REDIS_IMAGE:-openclaw-local/redis:debian}
export PROMETHEUS_IMAGE=${PROMETHEUS_IMAGE:-openclaw-local/prometheus:debian}
set -a; . docker/.env; set +a   # the tokens the stack uses
TOKEN=$OPENCLAW_GATEWAY_TOKEN
START=$SECONDS

[ -x "$OC" ] || { echo "docker-test: $OC is missing: run make build"; exit 1; }
scripts/docker-deps.sh
. scripts/docker-lib.sh

dc() { docker compose -p "$PROJECT" -f "$COMPOSE_FILE" "$@"; }
ok() { printf 'ok    %-58s %s\n' "$1" "${2:-}"; }
fail() {
  printf 'FAIL  %s\n' "$1"
  [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/      /'
  exit 1
}
firewall() { iptables-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; }
cleanup() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -n "${up:-}" ]; then
    echo "--- docker compose ps / logs (last 30 lines each) ---"
    dc ps -a 2>&1 || true
    dc logs --tail 30 2>&1 | tail -200 || true
  fi
  [ -n "${up:-}" ] && dc down -v -t 2 >/dev/null 2>&1 || true
  engine_down
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The optional Grafana profile cannot run without its registry image: its
# service, provisioning mounts and variables are validated here instead.
dc --profile grafana config -q 2>&1 || fail "docker compose --profile grafana config"
ok "compose file valid, with the grafana profile"

engine_up
OPENCLAW_ENGINE_KEPT=1 scripts/docker-build.sh
for img in openclaw/edge:latest openclaw/gateway:latest; do
  size=$(docker image inspect -f '{{.Size}}' "$img")
  [ "$size" -lt 30000000 ] || fail "$img is $((size / 1000000)) MB (limit 30 MB)"
  user=$(docker image inspect -f '{{.Config.User}}' "$img")
  [ -n "$user" ] && [ "${user%%:*}" != 0 ] && [ "${user%%:*}" != root ] || fail "$img runs as root"
done
ok "images < 30 MB, non-root, healthcheck and version labels" \
  "$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' openclaw/gateway:latest)"

# Leftovers of an interrupted run would make the stack's names clash.
dc down -v -t 2 >/dev/null 2>&1 || true
for port in 8080 9090; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    fail "127.0.0.1:$port is free for the stack" "something already listens there (make run's edge? Debian's prometheus service?)"
  fi
done
fw_before=$(firewall)
t0=$SECONDS
up=1
dc up -d --wait --wait-timeout 120 >/dev/null 2>docker/.build/compose-up.log ||
  fail "docker compose up --wait" "$(tail -20 docker/.build/compose-up.log)"
ok "docker compose up --wait: every service healthy" "$((SECONDS - t0)) s"

# call METHOD PARAMS [more openclaw args]: through the edge's published port.
call() {
  local m=$1 p=$2; shift 2
  timeout 20 "$OC" gateway call "$m" --url ws://127.0.0.1:8080 --token "$TOKEN" --params "$p" --json "$@"
}
# chat ID: chat.send through the edge, then chat.history (another connection,
# possibly another node) must show the message.
chat() {
  local id=$1 out hist
  out=$(call chat.send "{\"sessionKey\":\"docker-test\",\"message\":\"hello $id\",\"idempotencyKey\":\"$id\"}" --expect-final 2>&1) ||
    fail "chat.send through the edge ($id)" "$out"
  hist=$(call chat.history '{"sessionKey":"docker-test"}' 2>&1) || fail "chat.history through the edge ($id)" "$hist"
  grep -q "hello $id" <<<"$hist" || fail "chat.history through the edge shows the message ($id)" "$hist"
}
chat "$(date +%s)-a"
ok "chat.send + chat.history through ws://127.0.0.1:8080"

lock_json() { dc exec -T "$1" openclaw gateway lock-status --json 2>&1; }
holder() { python3 -c 'import json,sys; d=json.load(sys.stdin); h=d.get("holder") or {}; print(h.get("node") or "")' 2>/dev/null; }
lock=$(lock_json gateway1) || fail "docker compose exec gateway1 openclaw gateway lock-status" "$lock"
leader=$(holder <<<"$lock")
[ -n "$leader" ] || fail "lock-status names a leader" "$lock"
ok "exec gateway1 openclaw gateway lock-status" "leader $leader"
nodes=$(dc exec -T gateway1 openclaw gateway nodes --json 2>&1) || fail "docker compose exec gateway1 openclaw gateway nodes" "$nodes"
summary=$(python3 -c '
import json, sys
d = json.load(sys.stdin)
ns = d["nodes"]
leaders = [n["node"] for n in ns if n.get("leader")]
assert len(ns) == 3, "%d nodes" % len(ns)
assert len(leaders) == 1, "leaders: %s" % leaders
assert all(n.get("ready") for n in ns), "not all ready"
print("%d nodes, all ready, one leader (%s)" % (len(ns), leaders[0]))' <<<"$nodes" 2>&1) ||
  fail "gateway nodes: 3 nodes, all ready, one leader" "$summary"$'\n'"$nodes"
ok "exec gateway1 openclaw gateway nodes" "$summary"

# Prometheus: every target up (the first scrapes may still be on their way).
targets() { curl -fsS http://127.0.0.1:9090/api/v1/targets 2>/dev/null; }
deadline=$((SECONDS + 30))
while :; do
  t=$(targets | python3 -c '
import json, sys
ts = json.load(sys.stdin)["data"]["activeTargets"]
down = ["%s %s %s" % (t["scrapePool"], t["labels"]["instance"], t["health"]) for t in ts if t["health"] != "up"]
print("%d targets up" % len(ts) if ts and not down else "down: " + ", ".join(down))' 2>&1) || t="no answer"
  case $t in *"targets up") [ "${t%% *}" -ge 5 ] && break ;; esac
  [ $SECONDS -lt $deadline ] || fail "Prometheus on 127.0.0.1:9090: every target up" "$t"
  sleep 1
done
ok "Prometheus: every target up (edge, gateway1..3, itself)" "$t"

# Kill the leader's container (SIGKILL: no lease release); another node must
# hold the lease within ttl + 1 s. Measured between the container's death
# (docker's State.FinishedAt) and the new holder's `since` in the lease, both
# on this machine's clock, so polling through `docker compose exec` (slow on a
# loaded machine) does not count.
other=gateway1; [ "$leader" = gateway1 ] && other=gateway2
t0=$SECONDS
dc kill "$leader" >/dev/null 2>&1 || fail "docker compose kill $leader"
killed_at=$(docker inspect -f '{{.State.FinishedAt}}' "$(dc ps -a -q "$leader")")
new=""
while :; do
  lock=$(lock_json "$other" || true)
  new=$(holder <<<"$lock" || true)
  [ -n "$new" ] && [ "$new" != "$leader" ] && break
  [ $((SECONDS - t0)) -le $((TTL_MS / 1000 + 10)) ] || fail "a new leader after killing $leader" "$lock"
  sleep 0.1
done
el=$(KILLED_AT=$killed_at python3 -c '
import json, os, sys
from datetime import datetime
t = os.environ["KILLED_AT"]            # 2026-12-02T06:18:46.123456789Z
base, frac = (t.rstrip("Z").split(".") + ["0"])[:2]
killed = datetime.fromisoformat(base + "+00:00").timestamp() * 1000 + int((frac + "000")[:3])
since = json.load(sys.stdin)["holder"]["since"]
print(int(since - killed))' <<<"$lock") || fail "reading the new lease" "$lock"
[ "$el" -le $((TTL_MS + 1000)) ] || fail "new leader within ttl + 1 s after kill of $leader" "$new after $el ms (ttl $TTL_MS ms)"
ok "kill $leader (leader): new leader within ttl + 1 s" "$new after $el ms (ttl $TTL_MS ms)"
for i in 1 2 3; do chat "$(date +%s)-kill-$i"; done
ok "clients through the edge keep working after the kill" "3 chats"

# Graceful stop of a node (not the new leader): SIGTERM, exit 0, well within
# the grace period, and the edge routes around it.
victim=""
for g in gateway1 gateway2 gateway3; do
  [ "$g" != "$new" ] && [ "$g" != "$leader" ] && victim=$g
done
t0=$(date +%s%N)
dc stop -t 20 "$victim" >/dev/null 2>&1 || fail "docker compose stop $victim"
el=$(( ($(date +%s%N) - t0) / 1000000 ))
code=$(docker inspect -f '{{.State.ExitCode}}' "$(dc ps -a -q "$victim")")
[ "$code" = 0 ] || fail "docker compose stop $victim is graceful" "exit code $code after $el ms"$'\n'"$(dc logs --tail 10 "$victim")"
[ $el -lt 15000 ] || fail "docker compose stop $victim is graceful" "took $el ms (killed at the grace period?)"
dc logs "$victim" 2>&1 | grep -q 'stopping' || fail "$victim logged its graceful stop" "$(dc logs --tail 10 "$victim")"
ok "stop $victim: graceful (SIGTERM, drained, exit 0)" "$el ms"
chat "$(date +%s)-stop"
ok "clients through the edge keep working with one node left" "$new serves"

# The edge's PID 1 handles SIGTERM too: it drains and exits 0, long before
# the grace period would have it killed.
t0=$(date +%s%N)
dc stop -t 15 edge >/dev/null 2>&1 || fail "docker compose stop edge"
el=$(( ($(date +%s%N) - t0) / 1000000 ))
code=$(docker inspect -f '{{.State.ExitCode}}' "$(dc ps -a -q edge)")
[ "$code" = 0 ] && [ $el -lt 12000 ] || fail "docker compose stop edge is graceful" "exit code $code after $el ms"$'\n'"$(dc logs --tail 10 edge)"
ok "stop edge: graceful (SIGTERM, drained, exit 0)" "$el ms"

# Down: nothing of the stack left, firewall as before.
t0=$SECONDS
dc down -v -t 2 >/dev/null 2>&1 || fail "docker compose down"
up=""
left=$(docker ps -a -q --filter label=com.docker.compose.project=$PROJECT)
[ -z "$left" ] || fail "docker compose down leaves no container" "$left"
left=$(docker network ls -q --filter label=com.docker.compose.project=$PROJECT)
[ -z "$left" ] || fail "docker compose down leaves no network" "$left"
left=$(docker volume ls -q --filter label=com.docker.compose.project=$PROJECT)
[ -z "$left" ] || fail "docker compose down -v leaves no volume" "$left"
diff_fw=$(diff <(echo "$fw_before") <(firewall) || true)
[ -z "$diff_fw" ] || fail "docker compose down leaves the firewall as it was" "$diff_fw"
ok "down: no container, network, volume or firewall change left" "$((SECONDS - t0)) s"
echo "docker-test: all checks passed in $((SECONDS - START)) s"
