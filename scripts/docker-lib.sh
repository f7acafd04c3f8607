# Sourced by scripts/docker-build.sh and scripts/docker-test.sh: the Docker
# engine, started by hand when none runs (nothing starts Debian's docker.io on
# these machines) and stopped again by whoever started it.
#   engine_up        start dockerd if `docker info` does not answer
#   engine_down      stop it if engine_up started it; restore the FORWARD policy
DOCKERD_LOG=${DOCKERD_LOG:-/tmp/openclaw-dockerd.log}
_engine_pid=""
_forward_policy=""

engine_up() {
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null 2>&1 || { echo "docker: dockerd is missing (run scripts/docker-deps.sh)"; return 1; }
  [ "$(id -u)" = 0 ] || { echo "docker: no engine runs and starting dockerd needs root (sudo dockerd &)"; return 1; }
  # The policy dockerd will flip to DROP and leave there.
  _forward_policy=$(iptables -S FORWARD 2>/dev/null | sed -n 's/^-P FORWARD //p')
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid   # left by an engine that crashed
  fi
  dockerd >"$DOCKERD_LOG" 2>&1 &
  _engine_pid=$!
  local deadline=$((SECONDS + 30))
  until docker info >/dev/null 2>&1; do
    if ! kill -0 "$_engine_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "docker: dockerd did not start; the end of $DOCKERD_LOG:"; tail -20 "$DOCKERD_LOG"
      _engine_pid=""; return 1
    fi
    sleep 0.2
  done
  echo "docker: started dockerd (pid $_engine_pid, log $DOCKERD_LOG)"
}

engine_down() {
  [ -n "$_engine_pid" ] || return 0
  kill "$_engine_pid" 2>/dev/null || true
  local deadline=$((SECONDS + 20))
  while kill -0 "$_engine_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  kill -0 "$_engine_pid" 2>/dev/null && kill -9 "$_engine_pid" 2>/dev/null
  wait "$_engine_pid" 2>/dev/null || true
  # dockerd leaves FORWARD at DROP, which breaks routing between namespaces.
  iptables -P FORWARD "${_forward_policy:-ACCEPT}" 2>/dev/null || true
  echo "docker: stopped dockerd (pid $_engine_pid); FORWARD policy ${_forward_policy:-ACCEPT}"
  _engine_pid=""
}
