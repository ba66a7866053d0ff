#!/usr/bin/env bash
# Bring up a single-node SLURM cluster (munged, MariaDB, slurmdbd, slurmctld, slurmd) for
# development and CI. Every daemon runs inside the loopback-only network namespace "nmi-slurm",
# so nothing listens on the host's interfaces; client commands must be run through
# `nsenter --net=/run/netns/nmi-slurm` (see STATE_DIR/env.sh).
#
# Usage: scripts/slurm/up.sh [STATE_DIR]        (default: /tmp/neural_mi_slurm)
#
# Idempotent: if the cluster of STATE_DIR is already up and healthy it says so and exits 0; a
# partly running one is stopped (down.sh) and started afresh. Configs, logs, PID files, the munge
# key and the MariaDB data live in STATE_DIR; remove it after down.sh for a clean slate.
#
# Exit status: 0 up; 1 a daemon failed to start or to become ready (log tails are printed and
# everything started is stopped again); 3 this machine cannot host the cluster (not root, no apt
# to install missing packages, network namespaces unavailable, namespace held by another cluster).
#
# Environment: NMI_SLURM_TIMEOUT_S  seconds to wait for each daemon to become ready (default 60).
set -euo pipefail

readonly NETNS=nmi-slurm
readonly PARTITION=debug
readonly EXIT_UNSUPPORTED=3
readonly SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly TIMEOUT_S=${NMI_SLURM_TIMEOUT_S:-60}
# Start order; down.sh stops them in reverse.
readonly DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)

STATE_DIR=$(realpath -m "${1:-/tmp/neural_mi_slurm}")
readonly STATE_DIR
readonly SLURM_CONF_PATH=$STATE_DIR/etc/slurm.conf
# munged insists that every directory above its socket is searchable by all, which STATE_DIR
# (e.g. a pytest tmp dir) need not be; the socket lives in a fixed run directory instead.
readonly RUN_DIR=/run/$NETNS
readonly MUNGE_SOCKET=$RUN_DIR/munge.socket.2
# Names the STATE_DIR whose cluster owns the namespace (one cluster per machine).
readonly OWNER_FILE=$RUN_DIR/owner
readonly MYSQL_SOCKET=$STATE_DIR/run/mysqld.sock
readonly NSEXEC=(nsenter "--net=/run/netns/$NETNS")

log() { echo "up.sh: $*"; }

unsupported() {
    echo "up.sh: this machine cannot host the SLURM test cluster: $*" >&2
    exit "$EXIT_UNSUPPORTED"
}

# die MESSAGE [DAEMON]: report, show the daemon's log tail, stop whatever was started, exit 1.
die() {
    echo "up.sh: error: $1" >&2
    if [[ -n ${2:-} ]]; then
        local f
        for f in "$STATE_DIR/log/$2.log" "$STATE_DIR/log/$2.out"; do
            if [[ -s $f ]]; then
                echo "---- last lines of $f ----" >&2
                tail -n 25 "$f" >&2
            fi
        done
    fi
    if [[ -d $STATE_DIR/pids ]]; then
        echo "up.sh: stopping what was started (logs stay in $STATE_DIR/log)" >&2
        "$SCRIPT_DIR/down.sh" "$STATE_DIR" >&2 || true
    fi
    exit 1
}

# daemon_pid NAME: print the recorded PID of NAME if that process is alive (not a zombie) and
# still is NAME.
daemon_pid() {
    local pidfile=$STATE_DIR/pids/$1.pid pid state
    [[ -r $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $state != Z ]] || return 1
    echo "$pid"
}

slurm_client() { SLURM_CONF=$SLURM_CONF_PATH "${NSEXEC[@]}" "$@"; }

is_healthy() {
    local name
    [[ -e /run/netns/$NETNS ]] || return 1
    for name in "${DAEMONS[@]}"; do
        daemon_pid "$name" >/dev/null || return 1
    done
    slurm_client scontrol ping >/dev/null 2>&1
}

# owner: the STATE_DIR of the cluster holding the namespace, if any.
owner() {
    [[ -e /run/netns/$NETNS && -r $OWNER_FILE ]] && cat "$OWNER_FILE"
    return 0
}

install_missing_packages() {
    # command -> Debian package providing it
    local -A provider=(
        [ip]=iproute2 [ss]=iproute2 [pgrep]=procps [nsenter]=util-linux
        [munged]=munge [mungekey]=munge
        [mariadbd]=mariadb-server [mariadb-install-db]=mariadb-server [mariadb-admin]=mariadb-client
        [slurmdbd]=slurmdbd [slurmctld]=slurmctld [slurmd]=slurmd
        [sbatch]=slurm-client [sacct]=slurm-client [sinfo]=slurm-client [scontrol]=slurm-client
    )
    local cmd missing=()
    for cmd in "${!provider[@]}"; do
        command -v "$cmd" >/dev/null 2>&1 || missing+=("${provider[$cmd]}")
    done
    ((${#missing[@]} == 0)) && return 0
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    command -v apt-get >/dev/null 2>&1 \
        || unsupported "missing packages (${missing[*]}) and no apt-get to install them"
    log "installing ${missing[*]} with apt-get"
    # Keep package maintainer scripts from starting munge/MariaDB in the host namespace.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created_policy=1
    fi
    local rc=0
    {
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"
    } >"$STATE_DIR/log/apt.log" 2>&1 || rc=$?
    ((created_policy)) && rm -f "$policy"
    if ((rc != 0)); then
        tail -n 15 "$STATE_DIR/log/apt.log" >&2
        unsupported "apt-get could not install ${missing[*]} (exit $rc;" \
            "full log: $STATE_DIR/log/apt.log)"
    fi
}

create_netns() {
    local err
    err=$(ip netns add "$NETNS" 2>&1) \
        || unsupported "cannot create network namespace $NETNS: $err (needs CAP_SYS_ADMIN)"
    mkdir -p "$RUN_DIR"
    chmod 755 "$RUN_DIR"
    echo "$STATE_DIR" >"$OWNER_FILE"
    ip -n "$NETNS" link set lo up
    # slurmctld fails with "Address family not supported" unless lo has a second address.
    ip -n "$NETNS" addr add 127.0.0.2/8 dev lo
}

# real_memory_mb: 90% of the memory available to this machine/container, in MiB.
real_memory_mb() {
    local total_mb limit
    total_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
    limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || echo max)
    if [[ $limit =~ ^[0-9]+$ ]] && ((limit / 1048576 < total_mb)); then
        total_mb=$((limit / 1048576))
    fi
    echo $((total_mb * 9 / 10))
}

render() { # TEMPLATE OUTPUT
    sed -e "s|@STATE_DIR@|$STATE_DIR|g" -e "s|@MUNGE_SOCKET@|$MUNGE_SOCKET|g" \
        -e "s|@CPUS@|$(nproc)|g" -e "s|@REAL_MEMORY_MB@|$(real_memory_mb)|g" \
        -e "s|@PARTITION@|$PARTITION|g" "$1" >"$2"
}

write_configs() {
    mkdir -p "$STATE_DIR"/{etc,log,pids,run,munge,mysql,slurmctld,slurmd}
    chmod 700 "$STATE_DIR/munge"
    render "$SCRIPT_DIR/slurm.conf.in" "$SLURM_CONF_PATH"
    render "$SCRIPT_DIR/slurmdbd.conf.in" "$STATE_DIR/etc/slurmdbd.conf"
    chmod 600 "$STATE_DIR/etc/slurmdbd.conf" # slurmdbd refuses a config others can read
    if [[ ! -s $STATE_DIR/munge/munge.key ]]; then
        mungekey --create --keyfile="$STATE_DIR/munge/munge.key"
    fi
    chmod 400 "$STATE_DIR/munge/munge.key"
}

write_env() {
    cat >"$STATE_DIR/env.sh" <<EOF
# Generated by scripts/slurm/up.sh. Source it, then prefix SLURM client commands (and snakemake)
# with \$NMI_SLURM_EXEC, or use the nmi_slurm function:  nmi_slurm sinfo
export SLURM_CONF=$SLURM_CONF_PATH
export NMI_SLURM_STATE_DIR=$STATE_DIR
export NMI_SLURM_NETNS=$NETNS
export NMI_SLURM_PARTITION=$PARTITION
export NMI_SLURM_EXEC="nsenter --net=/run/netns/$NETNS"
nmi_slurm() { \$NMI_SLURM_EXEC "\$@"; }
EOF
}

# start_daemon NAME COMMAND...: start COMMAND (which must stay in the foreground and exec as NAME)
# in the namespace, in its own session, and record its PID.
start_daemon() {
    local name=$1
    shift
    SLURM_CONF=$SLURM_CONF_PATH MYSQL_UNIX_PORT=$MYSQL_SOCKET \
        setsid "${NSEXEC[@]}" "$@" </dev/null >>"$STATE_DIR/log/$name.out" 2>&1 &
    local pid=$! deadline=$((SECONDS + 10))
    echo "$pid" >"$STATE_DIR/pids/$name.pid"
    # setsid and nsenter exec in turn; wait until the PID has become the daemon itself.
    until daemon_pid "$name" >/dev/null; do
        [[ -d /proc/$pid ]] && ((SECONDS < deadline)) || die "$name did not start" "$name"
        sleep 0.05
    done
}

# wait_until NAME WHAT COMMAND...: poll COMMAND until it succeeds; fail early if NAME died.
wait_until() {
    local name=$1 what=$2
    shift 2
    local deadline=$((SECONDS + TIMEOUT_S))
    until "$@" >/dev/null 2>&1; do
        daemon_pid "$name" >/dev/null || die "$name exited before $what" "$name"
        ((SECONDS < deadline)) \
            || die "$name: timed out after ${TIMEOUT_S}s waiting for $what" "$name"
        sleep 0.5
    done
}

node_is_idle() { [[ $(slurm_client sinfo -h -n localhost -o %T 2>/dev/null) == idle ]]; }
listening_in_netns() { [[ -n $("${NSEXEC[@]}" ss -Hltn "sport = :$1") ]]; }

start_cluster() {
    start_daemon munged munged --foreground --key-file="$STATE_DIR/munge/munge.key" \
        --socket="$MUNGE_SOCKET" --pid-file="$STATE_DIR/run/munged.pid" \
        --log-file="$STATE_DIR/log/munged.log" --seed-file="$STATE_DIR/munge/munged.seed"
    wait_until munged "its socket $MUNGE_SOCKET" test -S "$MUNGE_SOCKET"

    if [[ ! -d $STATE_DIR/mysql/mysql ]]; then
        log "initialising MariaDB in $STATE_DIR/mysql"
        mariadb-install-db --no-defaults --user=root --datadir="$STATE_DIR/mysql" \
            --auth-root-authentication-method=socket --skip-test-db \
            >"$STATE_DIR/log/mariadb-install-db.log" 2>&1 \
            || die "mariadb-install-db failed" mariadb-install-db
    fi
    start_daemon mariadbd mariadbd --no-defaults --user=root --datadir="$STATE_DIR/mysql" \
        --socket="$MYSQL_SOCKET" --pid-file="$STATE_DIR/run/mariadbd.pid" --skip-networking \
        --log-error="$STATE_DIR/log/mariadbd.log"
    wait_until mariadbd "connections on $MYSQL_SOCKET" \
        mariadb-admin --no-defaults --socket="$MYSQL_SOCKET" ping

    start_daemon slurmdbd slurmdbd -D
    wait_until slurmdbd "it to listen on port 6819" listening_in_netns 6819

    start_daemon slurmctld slurmctld -D -i -f "$SLURM_CONF_PATH"
    wait_until slurmctld "scontrol ping to answer" slurm_client scontrol ping

    # Job steps must find the config without SLURM_CONF: the slurm-jobstep executor plugin strips
    # SLURM_* variables before its inner `srun`, which then reads /etc/slurm/slurm.conf. So slurmd
    # (and every job it starts) gets a private mount namespace in which STATE_DIR/etc is
    # /etc/slurm; the host's /etc/slurm is left as it is (created empty if missing).
    mkdir -p /etc/slurm
    start_daemon slurmd unshare --mount sh -c \
        'mount --bind "$1" /etc/slurm && exec slurmd -D -N localhost -f "$1/slurm.conf"' \
        sh "$STATE_DIR/etc"
    wait_until slurmd "node localhost to be idle in sinfo" node_is_idle
    wait_until slurmdbd "sacct to answer" slurm_client sacct -n -X
}

main() {
    [[ $EUID -eq 0 ]] || unsupported "must run as root (daemons run as root in a network namespace)"
    mkdir -p "$STATE_DIR/log"
    local current_owner
    current_owner=$(owner)
    if [[ -n $current_owner && $current_owner != "$STATE_DIR" ]]; then
        unsupported "namespace $NETNS is held by the cluster of $current_owner;" \
            "stop it with: $SCRIPT_DIR/down.sh $current_owner"
    fi
    if is_healthy; then
        write_env
        log "cluster in $STATE_DIR is already up and healthy"
        return 0
    fi
    if [[ -e /run/netns/$NETNS ]] || compgen -G "$STATE_DIR/pids/*.pid" >/dev/null; then
        log "found a stale or partly running cluster; stopping it first"
        "$SCRIPT_DIR/down.sh" "$STATE_DIR"
    fi
    # Probe before spending time on apt: can this machine make network and mount namespaces?
    unshare --net --mount true 2>/dev/null \
        || unsupported "cannot create network and mount namespaces (needs CAP_SYS_ADMIN)"
    trap 'die "interrupted"' INT TERM
    install_missing_packages
    command -v ip >/dev/null 2>&1 || unsupported "no 'ip' command (iproute2)"
    create_netns
    write_configs
    start_cluster
    write_env
    log "cluster is up: partition '$PARTITION'," \
        "node localhost ($(nproc) CPUs, $(real_memory_mb) MB)"
    log "use it with: source $STATE_DIR/env.sh && nmi_slurm sinfo"
}

main
