# benches/lib.sh: shell helpers the load scripts share (sourced, not run).
# The caller provides: `die MSG`, `note MSG`, the arrays TAKEN (ports not to pick, assoc),
# LOG and PID (assoc, by name), STARTED and TRANSIENT (pids to clean up),
# and WORK (the scratch directory).

now_ms() { date +%s%3N; }

# stop_tree PID: TERM, up to 5 s for the exit, then KILL for it and its children.
# (A script that needs another grace period defines its own after sourcing this.)
stop_tree() {
    local pid=$1 kids k i
    kids=$(pgrep -P "$pid" || true)
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        alive "$pid" || break
        sleep 0.1 # polling for the exit, bounded
    done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
    for k in $kids; do alive "$k" && kill -KILL "$k" 2>/dev/null; done
    wait "$pid" 2>/dev/null || true
}

# tree PID: the pid and its children (nginx's worker).
tree() { echo "$1" $(pgrep -P "$1" || true); }
# cpu_ticks PID: utime+stime summed over the tree of PID.
cpu_ticks() {
    local p s=0 t
    for p in $(tree "$1"); do
        t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
        s=$((s + t))
    done
    echo "$s"
}

alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $st != Z* ]]
}

# A free loopback TCP port, not used by the dev stack nor picked before.
free_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 30000))
        [[ -n ${TAKEN[$p]:-} ]] && continue
        if [[ -z $(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null) ]]; then
            TAKEN[$p]=1
            echo "$p"
            return
        fi
    done
    die "no free TCP port found in 20000-49999"
}

# start NAME CPU CMD...: runs CMD in the background pinned to CPU, logs to WORK/NAME.log.
start() {
    local name=$1 cpu=$2
    shift 2
    LOG[$name]=$WORK/$name.log
    taskset -c "$cpu" "$@" >"${LOG[$name]}" 2>&1 &
    PID[$name]=$!
    STARTED+=("$!")
}

# bounded SECS CMD...: runs CMD under `timeout` in the background and waits for
# it, so that a signal to this script runs the trap at once (a foreground child
# would delay it until the child ends); cleanup stops it too.
bounded() {
    local secs=$1 pid rc=0
    shift
    timeout "$secs" "$@" &
    pid=$!
    TRANSIENT+=("$pid")
    wait "$pid" || rc=$?
    local rest=() q
    for q in "${TRANSIENT[@]}"; do [[ $q == "$pid" ]] || rest+=("$q"); done
    TRANSIENT=("${rest[@]}")
    return "$rc"
}

# CPU ticks of this shell's waited-for children so far (wrk, via timeout).
child_ticks() {
    times >"$WORK/times"
    awk -v hz="$HZ" 'NR==2{ n=0; for (i=1; i<=2; i++) { split($i, a, /[ms]/); n += a[1]*60 + a[2] } printf "%.0f", n*hz }' "$WORK/times"
}

# The EXIT trap: stops what was started; on failure shows the logs' last lines.
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${TRANSIENT[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${TRANSIENT[@]}" "${STARTED[@]}"; do stop_tree "$pid"; done
    if ((rc != 0)); then
        local name
        for name in "${!LOG[@]}"; do
            if [[ -s ${LOG[$name]} ]]; then
                echo "---- last lines of $name log (${LOG[$name]}) ----" >&2
                tail -n 15 "${LOG[$name]}" >&2
            fi
        done
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        note "scratch directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
