#!/usr/bin/env bash
# Stop the single-node SLURM cluster started by up.sh and remove its network namespace.
#
# Usage: scripts/slurm/down.sh [STATE_DIR]      (default: /tmp/neural_mi_slurm)
#
# Stops each daemon by its recorded PID (SIGTERM, then SIGKILL after a grace period), then every
# process still inside the "nmi-slurm" namespace (job steps, and any command run there through
# nsenter), and deletes the namespace and /run/nmi-slurm. A namespace owned by the cluster of
# another STATE_DIR is left alone. Logs, configs and the MariaDB data stay in STATE_DIR.
# Idempotent: with nothing running it does nothing and exits 0.
#
# Environment: NMI_SLURM_STOP_GRACE_S  seconds between SIGTERM and SIGKILL (default 15).
set -euo pipefail

readonly NETNS=nmi-slurm
readonly RUN_DIR=/run/$NETNS # up.sh keeps the munge socket and the owner file there
readonly GRACE_S=${NMI_SLURM_STOP_GRACE_S:-15}
# Reverse of up.sh's start order.
readonly DAEMONS=(slurmd slurmctld slurmdbd mariadbd munged)

STATE_DIR=$(realpath -m "${1:-/tmp/neural_mi_slurm}")
readonly STATE_DIR

log() { echo "down.sh: $*"; }

# is_running PID: the process exists and is not a zombie.
is_running() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

# stop_pids PID...: SIGTERM, wait up to GRACE_S, then SIGKILL whatever is left and wait for it.
stop_pids() {
    (($# > 0)) || return 0
    kill -TERM "$@" 2>/dev/null || true
    local deadline=$((SECONDS + GRACE_S)) pid alive
    while :; do
        alive=()
        for pid in "$@"; do
            is_running "$pid" && alive+=("$pid")
        done
        ((${#alive[@]} > 0)) || return 0
        ((SECONDS < deadline)) || break
        sleep 0.2
    done
    log "SIGKILL to PIDs ${alive[*]} (still running ${GRACE_S}s after SIGTERM)"
    kill -KILL "${alive[@]}" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    for pid in "${alive[@]}"; do
        while is_running "$pid"; do
            if ((SECONDS >= deadline)); then
                echo "down.sh: error: PID $pid survives SIGKILL" >&2
                return 1
            fi
            sleep 0.1
        done
    done
}

stop_daemons() {
    local name pidfile pid
    for name in "${DAEMONS[@]}"; do
        pidfile=$STATE_DIR/pids/$name.pid
        [[ -r $pidfile ]] || continue
        pid=$(<"$pidfile")
        # Only signal the PID if it still is the daemon we started (PIDs get reused).
        if [[ $pid =~ ^[0-9]+$ ]] && is_running "$pid" \
            && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]]; then
            log "stopping $name (PID $pid)"
            stop_pids "$pid"
        fi
        rm -f "$pidfile"
    done
}

remove_netns() {
    [[ -e /run/netns/$NETNS ]] || return 0
    local -a leftovers
    mapfile -t leftovers < <(ip netns pids "$NETNS" 2>/dev/null)
    if ((${#leftovers[@]} > 0)); then
        log "stopping ${#leftovers[@]} process(es) left in namespace $NETNS: ${leftovers[*]}"
        stop_pids "${leftovers[@]}"
    fi
    ip netns del "$NETNS"
    log "removed network namespace $NETNS"
}

main() {
    if [[ $EUID -ne 0 ]]; then
        if [[ -e /run/netns/$NETNS || -d $RUN_DIR ]] \
            || compgen -G "$STATE_DIR/pids/*.pid" >/dev/null; then
            echo "down.sh: error: must run as root to stop the cluster in $STATE_DIR" >&2
            exit 1
        fi
        return 0
    fi
    stop_daemons
    local owner
    owner=$(cat "$RUN_DIR/owner" 2>/dev/null || true)
    if [[ -e /run/netns/$NETNS && -n $owner && $owner != "$STATE_DIR" ]]; then
        log "namespace $NETNS belongs to the cluster of $owner; leaving it alone"
        return 0
    fi
    remove_netns
    rm -rf "$RUN_DIR"
}

main
