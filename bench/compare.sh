#!/usr/bin/env bash
# bench/compare.sh — Saturn against its peers, in ONE run on ONE machine.
#
# Starts each system in turn on loopback with its data in a temporary directory on disk, runs
# the same workloads against it, stops it, and at the end prints one markdown table (throughput,
# latency, peak RSS, and the ratio Saturn/peer). Systems:
#   saturn-async   saturn standalone, --flush async   (driven by `saturn bench`)
#   saturn-sync    saturn standalone, --flush sync    (driven by `saturn bench`)
#   rocketmq-rust  rocketmq-namesrv-rust + rocketmq-broker-rust, ASYNC_FLUSH (driven by `saturn bench`)
#   nats           nats-server -js, file storage      (driven by bench/peer-driver)
#   redis          redis-server, AOF appendfsync everysec (driven by bench/peer-driver)
# A system whose binaries are missing is skipped with a line saying so; the run goes on.
#
# Workloads (sync sends = each producer awaits every acknowledgement):
#   produce   SIZES x PRODUCERS, unpaced, WARMUP s then DURATION s
#   consume   catch-up: a backlog of BACKLOG_BYTES (1 KiB messages) is produced, the page cache is
#             dropped (if permitted), then one consumer reads it all from the start
#   e2e-max   E2E_SIZES with E2E_PRODUCERS producers and one consumer, unpaced: that system's
#             end-to-end maximum (messages delivered per second, producers and consumer sharing
#             the machine)
#   e2e       the same at a fixed rate of E2E_LOAD x that end-to-end maximum (or E2E_RATE msgs/s
#             for all); latency = scheduled send to delivery. This is "latency at 50% load"
#   e2e-pmax  (E2E_PRODUCE_BASIS=1) the same at E2E_LOAD x the system's produce-only maximum, the
#             reference used before 2026-11-26: with the consumer's work on top it is ~75% load
#   RSS       broker VmHWM over the PRODUCERS-max produce runs (peak reset before each, if allowed)
#
# Usage: bench/compare.sh [--results DIR] [--systems "saturn-async nats ..."]
#   QUICK=1 bench/compare.sh           # ~5 minutes: 5 s runs, 64 MiB backlog
#   bench/compare.sh                   # full: 30 s runs after 5 s warm-up, 1 GiB backlog (~30 min)
# Environment (defaults in brackets):
#   DURATION [30] WARMUP [5] BACKLOG_BYTES [1073741824] SIZES ["1024 100"] PRODUCERS ["1 16"]
#   E2E_SIZES [$SIZES] E2E_PRODUCERS [16] E2E_LOAD [0.5] E2E_RATE [unset] E2E_PRODUCE_BASIS [1]
#   FILL_MAX [300]
#   CONSUME_MAX [300] SYSTEMS [all five]
#   SATURN_PEERS [~/.cache/saturn-peers]   cache of peer builds, outside the repo
#   PEERS_ROCKETMQ_RUST_BIN [$SATURN_PEERS/rocketmq-rust/bin]  dir holding the rocketmq-rust binaries
#   INSTALL_PEERS [1, or 0 with QUICK=1]  install missing peers: apt-get (nats-server, redis-server),
#                 cargo install into $SATURN_PEERS (rocketmq-rust: 15-25 minutes on 2 cores)
#   SATURN_BIN / SATURN_BENCH / PEER_DRIVER_BIN  use these binaries instead of building them
#   DATA_ROOT [$TMPDIR or /tmp]  where the brokers' temporary data goes (must be a real disk)
#   KEEP_DATA [0]  1 keeps the temporary data directory
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ALL_SYSTEMS="saturn-async saturn-sync rocketmq-rust nats redis"

RESULTS="/tmp/saturn-compare-$(date +%Y%m%d-%H%M%S)"
SYSTEMS=${SYSTEMS:-$ALL_SYSTEMS}
COMMAND_LINE=$(printf '%q ' "$0" "$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --results) RESULTS=${2:?--results needs a directory}; shift 2 ;;
        --systems) SYSTEMS=${2:?--systems needs a list}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done

# QUICK=1 is for trying the script out: the figures are too short to quote.
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    DURATION=${DURATION:-5}; WARMUP=${WARMUP:-1}
    BACKLOG_BYTES=${BACKLOG_BYTES:-$((64 * 1024 * 1024))}
    FILL_MAX=${FILL_MAX:-60}; CONSUME_MAX=${CONSUME_MAX:-60}
    INSTALL_PEERS=${INSTALL_PEERS:-0}
fi
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
BACKLOG_BYTES=${BACKLOG_BYTES:-1073741824}
FILL_MAX=${FILL_MAX:-300}        # the backlog fill stops after this many seconds even if short
CONSUME_MAX=${CONSUME_MAX:-300}  # the catch-up read stops after this many seconds
INSTALL_PEERS=${INSTALL_PEERS:-1}
SIZES=${SIZES:-"1024 100"}
PRODUCERS=${PRODUCERS:-"1 16"}
E2E_SIZES=${E2E_SIZES:-$SIZES}
E2E_PRODUCERS=${E2E_PRODUCERS:-16}
E2E_LOAD=${E2E_LOAD:-0.5}
E2E_RATE=${E2E_RATE:-}
E2E_PRODUCE_BASIS=${E2E_PRODUCE_BASIS:-1}
BACKLOG_SIZE=1024     # message size of the catch-up backlog
FILL_PRODUCERS=16     # the backlog is written like the 16-producer workload, sync sends
QUEUES=8              # queues of every RocketMQ topic (saturn bench --queues)
SATURN_PEERS=${SATURN_PEERS:-$HOME/.cache/saturn-peers}
PEERS_ROCKETMQ_RUST_BIN=${PEERS_ROCKETMQ_RUST_BIN:-$SATURN_PEERS/rocketmq-rust/bin}
DATA_ROOT=${DATA_ROOT:-${TMPDIR:-/tmp}}
KEEP_DATA=${KEEP_DATA:-0}
# Largest producer count: its produce runs are the ones whose peak RSS is recorded.
# shellcheck disable=SC2086  # PRODUCERS is a space-separated list
MAX_PRODUCERS=$(printf '%s\n' $PRODUCERS | sort -n | tail -1)

# One loopback port pair per system, so a slow-to-die process cannot hold the next one's port.
declare -A NS_PORT=([saturn-async]=29101 [saturn-sync]=29201 [rocketmq-rust]=29301)
declare -A BROKER_PORT=([saturn-async]=29111 [saturn-sync]=29211 [rocketmq-rust]=29311)
NATS_PORT=29422
REDIS_PORT=29379

mkdir -p "$RESULTS/raw" "$RESULTS/logs"
RESULTS=$(cd "$RESULTS" && pwd)
JSONL="$RESULTS/results.jsonl"
: > "$JSONL"
WORK=$(mktemp -d "$DATA_ROOT/saturn-compare.XXXXXX")
STARTED=()   # PIDs of every server this script started, stopped by the trap

log() { printf '%s compare: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Escapes a string for JSON (python3 is only used for JSON and the final table).
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

# Prints field $2 (a dotted path) of the JSON object in file $1, or nothing.
json_get() {
    python3 - "$1" "$2" <<'PY' 2>/dev/null || true
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)
PY
}

# Appends one record to results.jsonl: record TYPE SYSTEM key=json-value...
record() {
    local type=$1 system=$2 out kv
    shift 2
    out="{\"type\":\"$type\",\"system\":\"$system\""
    for kv in "$@"; do out+=",\"${kv%%=*}\":${kv#*=}"; done
    printf '%s}\n' "$out" >> "$JSONL"
}

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    # Brokers flush and save state on SIGTERM; rocketmq-rust takes several seconds.
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.2
    done
    log "pid $pid did not stop in 20 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_all() {
    local i
    # Newest first: a broker stops (and unregisters) before its name server.
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED[i]}"; done
    STARTED=()
}

cleanup() {
    local rc=$?
    stop_all
    if [ "$KEEP_DATA" = 1 ]; then log "data kept in $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a server in the background: start_server NAME cmd... (sets LAST_PID).
start_server() {
    local name=$1
    shift
    "$@" > "$RESULTS/logs/$name.log" 2>&1 &
    LAST_PID=$!
    STARTED+=("$LAST_PID")
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits until something listens on port $1, failing early if process $2 died.
wait_port() {
    local port=$1 pid=$2 i
    for i in $(seq 1 300); do
        port_open "$port" && return 0
        kill -0 "$pid" 2>/dev/null || { log "process $pid exited before listening on $port"; return 1; }
        sleep 0.1
    done
    log "nothing listens on port $port after 30 s"
    return 1
}

require_free_ports() {
    local p
    for p in "$@"; do
        if port_open "$p"; then log "port $p is already in use"; return 1; fi
    done
}

# ---------------------------------------------------------------- binaries and peers

cargo_target() { echo "${CARGO_TARGET_DIR:-$ROOT/target}"; }

build_saturn() {
    if [ -z "${SATURN_BIN:-}" ]; then
        log "building saturn (release)"
        (cd "$ROOT" && cargo build --release -p saturn-cli) >&2
        SATURN_BIN="$(cargo_target)/release/saturn"
    fi
    # `saturn bench` is the driver of every RocketMQ-protocol system, so the client side is the
    # same code for Saturn and rocketmq-rust.
    if [ -z "${SATURN_BENCH:-}" ]; then
        if "$SATURN_BIN" bench --help > /dev/null 2>&1; then
            SATURN_BENCH="$SATURN_BIN bench"
        else
            log "saturn has no bench command yet; building the saturn-bench example"
            (cd "$ROOT" && cargo build --release -p saturn-bench --example bench) >&2
            SATURN_BENCH="$(cargo_target)/release/examples/bench"
        fi
    fi
}

build_peer_driver() {
    if [ -z "${PEER_DRIVER_BIN:-}" ]; then
        # Its own lock file and target dir, in the peer cache: the peers' client crates never
        # enter the Saturn workspace or its target dir.
        local target="$SATURN_PEERS/peer-driver-target"
        log "building bench/peer-driver (release) into $target"
        CARGO_TARGET_DIR="$target" cargo build --release --locked \
            --manifest-path "$HERE/peer-driver/Cargo.toml" >&2
        PEER_DRIVER_BIN="$target/release/peer-driver"
    fi
}

# Installs Debian packages if allowed and possible; true if the command then exists.
ensure_debian_peer() {
    local cmd=$1 pkg=$2
    command -v "$cmd" > /dev/null && return 0
    if [ "$INSTALL_PEERS" = 1 ] && command -v apt-get > /dev/null && [ "$(id -u)" = 0 ]; then
        log "installing $pkg (apt-get)"
        apt-get install -y "$pkg" >&2 || { apt-get update >&2 && apt-get install -y "$pkg" >&2; } || true
    fi
    command -v "$cmd" > /dev/null
}

ensure_rocketmq_rust() {
    local bin=$PEERS_ROCKETMQ_RUST_BIN
    [ -x "$bin/rocketmq-namesrv-rust" ] && [ -x "$bin/rocketmq-broker-rust" ] && return 0
    if [ "$INSTALL_PEERS" = 1 ]; then
        log "building rocketmq-rust into $SATURN_PEERS/rocketmq-rust (15-25 minutes on 2 cores, once)"
        cargo install --locked --root "$SATURN_PEERS/rocketmq-rust" rocketmq-namesrv rocketmq-broker >&2 || true
        PEERS_ROCKETMQ_RUST_BIN="$SATURN_PEERS/rocketmq-rust/bin"
        bin=$PEERS_ROCKETMQ_RUST_BIN
    fi
    [ -x "$bin/rocketmq-namesrv-rust" ] && [ -x "$bin/rocketmq-broker-rust" ]
}

# Whether SYSTEM can run here (installing it if allowed); sets WHY_NOT when it cannot.
# Not called in a subshell: ensure_rocketmq_rust may change PEERS_ROCKETMQ_RUST_BIN.
available() {
    WHY_NOT=""
    case "$1" in
        saturn-async|saturn-sync) ;;
        rocketmq-rust) ensure_rocketmq_rust || WHY_NOT="no rocketmq-namesrv-rust/rocketmq-broker-rust in $PEERS_ROCKETMQ_RUST_BIN (set PEERS_ROCKETMQ_RUST_BIN, or INSTALL_PEERS=1 to build them)" ;;
        nats) ensure_debian_peer nats-server nats-server || WHY_NOT="nats-server not installed (apt-get install nats-server, or INSTALL_PEERS=1)" ;;
        redis) ensure_debian_peer redis-server redis-server || WHY_NOT="redis-server not installed (apt-get install redis-server, or INSTALL_PEERS=1)" ;;
        *) WHY_NOT="unknown system (known: $ALL_SYSTEMS)" ;;
    esac
    [ -z "$WHY_NOT" ]
}

# ---------------------------------------------------------------- starting the systems

# Each start_* sets SERVER_PID (the process whose RSS is measured) and DRIVER (how workloads
# reach it: "saturn" = saturn bench at NAMESRV, "peer" = peer-driver at URL with PEER_SYSTEM),
# and the options only one driver has: TOPIC_OPTS (create the topic with fixed queues, as a
# RocketMQ user would, instead of auto-creating it) and FIRST_OPTS (a new group reads from the
# start; the peer driver's consume always does).
set_driver() {
    DRIVER=$1
    if [ "$DRIVER" = saturn ]; then
        TOPIC_OPTS=(--queues "$QUEUES"); FIRST_OPTS=(--from first)
    else
        TOPIC_OPTS=(); FIRST_OPTS=()
    fi
}

start_saturn() {
    local system=$1 flush=$2 dir="$WORK/$1"
    local ns=${NS_PORT[$system]} broker=${BROKER_PORT[$system]}
    mkdir -p "$dir"
    require_free_ports "$ns" "$broker"
    start_server "$system" "$SATURN_BIN" standalone --namesrv-listen "127.0.0.1:$ns" \
        --broker-listen "127.0.0.1:$broker" --data-dir "$dir/data" --flush "$flush"
    SERVER_PID=$LAST_PID
    wait_port "$broker" "$SERVER_PID"
    NAMESRV="127.0.0.1:$ns"; set_driver saturn
    wait_registered "$broker"
}

# The broker is usable once the name server routes to it.
wait_registered() {
    local port=$1 i
    for i in $(seq 1 60); do
        "$SATURN_BIN" admin --namesrv "$NAMESRV" cluster list 2>/dev/null | grep -q ":$port" && return 0
        sleep 0.5
    done
    log "broker on port $port did not register with $NAMESRV in 30 s"
    return 1
}

start_rocketmq_rust() {
    local system=rocketmq-rust dir="$WORK/rocketmq-rust"
    local ns=${NS_PORT[$system]} broker=${BROKER_PORT[$system]}
    local bin=$PEERS_ROCKETMQ_RUST_BIN
    mkdir -p "$dir/store"
    require_free_ports "$ns" "$broker"
    # The broker.conf of benchmarks.md; ASYNC_FLUSH like saturn-async.
    cat > "$dir/broker.conf" <<EOF
brokerClusterName=DefaultCluster
brokerName=broker-a
brokerId=0
namesrvAddr=127.0.0.1:$ns
listenPort=$broker
brokerIP1=127.0.0.1
storePathRootDir=$dir/store
autoCreateTopicEnable=true
flushDiskType=ASYNC_FLUSH
EOF
    start_server rocketmq-namesrv env ROCKETMQ_HOME="$dir" "$bin/rocketmq-namesrv-rust" \
        --listenPort "$ns" --bindAddress 127.0.0.1
    wait_port "$ns" "$LAST_PID"
    start_server rocketmq-broker env ROCKETMQ_HOME="$dir" "$bin/rocketmq-broker-rust" -c "$dir/broker.conf"
    SERVER_PID=$LAST_PID
    wait_port "$broker" "$SERVER_PID"
    NAMESRV="127.0.0.1:$ns"; set_driver saturn
    wait_registered "$broker"
}

start_nats() {
    local dir="$WORK/nats"
    mkdir -p "$dir"
    require_free_ports "$NATS_PORT"
    start_server nats-server nats-server -js -sd "$dir" -a 127.0.0.1 -p "$NATS_PORT"
    SERVER_PID=$LAST_PID
    wait_port "$NATS_PORT" "$SERVER_PID"
    URL="nats://127.0.0.1:$NATS_PORT"; set_driver peer; PEER_SYSTEM=nats
}

start_redis() {
    local dir="$WORK/redis"
    mkdir -p "$dir"
    require_free_ports "$REDIS_PORT"
    # AOF with one fsync a second is the durability being compared; RDB snapshots are off so a
    # background save (a fork copying the whole data set) does not land in the middle of a run.
    start_server redis-server redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$dir" \
        --appendonly yes --appendfsync everysec --save ''
    SERVER_PID=$LAST_PID
    wait_port "$REDIS_PORT" "$SERVER_PID"
    URL="redis://127.0.0.1:$REDIS_PORT/"; set_driver peer; PEER_SYSTEM=redis
}

start_system() {
    case "$1" in
        saturn-async) start_saturn saturn-async async ;;
        saturn-sync) start_saturn saturn-sync sync ;;
        rocketmq-rust) start_rocketmq_rust ;;
        nats) start_nats ;;
        redis) start_redis ;;
    esac
}

# ---------------------------------------------------------------- workloads

# Runs one workload: drive SYSTEM LABEL KIND [options...]; the options are those `saturn bench`
# and peer-driver share. The JSON summary goes to raw/LABEL.json; prints its path.
drive() {
    local system=$1 label=$2 kind=$3 limit
    shift 3
    local cmd
    if [ "$DRIVER" = saturn ]; then
        # shellcheck disable=SC2206  # SATURN_BENCH may be "saturn bench" (two words)
        cmd=($SATURN_BENCH "$kind" --namesrv "$NAMESRV" "$@")
    else
        cmd=("$PEER_DRIVER_BIN" "$kind" --system "$PEER_SYSTEM" --url "$URL" "$@")
    fi
    # A hung server must not hang the script: the longest run is CONSUME_MAX/FILL_MAX.
    limit=$(( ${DURATION%.*} + ${WARMUP%.*} + FILL_MAX + CONSUME_MAX + 120 ))
    echo "${cmd[*]}" > "$RESULTS/logs/$system-$label.cmd"
    if timeout "$limit" "${cmd[@]}" --json --quiet > "$RESULTS/raw/$system-$label.out" \
        2> "$RESULTS/logs/$system-$label.log"; then
        tail -n 1 "$RESULTS/raw/$system-$label.out" > "$RESULTS/raw/$system-$label.json"
        echo "$RESULTS/raw/$system-$label.json"
    else
        log "$system $label failed (see $RESULTS/logs/$system-$label.log)"
        return 1
    fi
}

# One paced e2e run: e2e_at SYSTEM WORKLOAD SIZE MAX_JSON — at E2E_RATE, or E2E_LOAD x the
# msgs_per_sec of MAX_JSON (the run that measured the maximum it is a share of).
e2e_at() {
    local system=$1 workload=$2 size=$3 max_json=$4 rate max file
    rate=$E2E_RATE
    if [ -z "$rate" ]; then
        max=$(json_get "$max_json" msgs_per_sec)
        if [ -n "$max" ]; then rate=$(python3 -c "print(max(1, round($max * $E2E_LOAD)))"); fi
    fi
    if [ -z "$rate" ]; then
        log "$system: no maximum in $(basename "$max_json"); $workload ${size} B skipped"
        result "$system" "$workload" "$size" "$E2E_PRODUCERS" "" "rate=null"
        return
    fi
    log "$system: $workload ${size} B x $E2E_PRODUCERS producers at $rate msg/s"
    file=$(drive "$system" "$workload-s$size" e2e --topic "cmp_${workload/-/_}_s$size" --size "$size" \
        --producers "$E2E_PRODUCERS" --mode sync --rate "$rate" --duration "$DURATION" \
        --warmup "$WARMUP" "${TOPIC_OPTS[@]}") || file=""
    result "$system" "$workload" "$size" "$E2E_PRODUCERS" "$file" "rate=$rate"
}

# Records a workload's summary (or its failure): result SYSTEM WORKLOAD SIZE PRODUCERS FILE|"" [k=v...]
result() {
    local system=$1 workload=$2 size=$3 producers=$4 file=$5
    shift 5
    if [ -n "$file" ] && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$file" 2>/dev/null; then
        record result "$system" "workload=\"$workload\"" "size=$size" "producers=$producers" \
            "summary=$(cat "$file")" "$@"
    else
        record result "$system" "workload=\"$workload\"" "size=$size" "producers=$producers" \
            "summary=null" "$@"
    fi
}

peak_rss_reset() { echo 5 > "/proc/$1/clear_refs" 2>/dev/null; }
# Reads a kB field of /proc/PID/status (VmHWM = peak RSS; RssAnon/RssFile = current split: a
# broker that maps its log files counts the touched file pages in its RSS too).
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || true; }

# The page cache is dropped so that catch-up reads come from the disk, as after a restart or
# for data older than memory holds. Needs root (not possible in most containers).
drop_caches() {
    sync
    if echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then echo dropped; else echo not-permitted; fi
}

run_system() {
    local system=$1 size p file rate max rss_peak=0 rss rss_reset=yes rss_anon="" rss_file=""
    # The machine's load around each system's runs: other work on the same cores skews them.
    local load_start
    load_start=$(cut -d' ' -f1-3 /proc/loadavg)
    log "== $system: starting"
    if ! start_system "$system"; then
        log "$system did not start; skipping it (log: $RESULTS/logs/)"
        record skipped "$system" "reason=$(json_str "did not start; see logs/")"
        stop_all
        return 0
    fi

    for size in $SIZES; do
        for p in $PRODUCERS; do
            log "$system: produce ${size} B x $p producers"
            if [ "$p" = "$MAX_PRODUCERS" ]; then peak_rss_reset "$SERVER_PID" || rss_reset=no; fi
            file=$(drive "$system" "produce-s$size-p$p" produce --topic "cmp_p${p}_s${size}" \
                --size "$size" --producers "$p" --mode sync --duration "$DURATION" --warmup "$WARMUP" \
                "${TOPIC_OPTS[@]}") || file=""
            result "$system" produce "$size" "$p" "$file"
            if [ "$p" = "$MAX_PRODUCERS" ]; then
                rss=$(status_kib "$SERVER_PID" VmHWM)
                if [ -n "$rss" ] && [ "$rss" -gt "$rss_peak" ]; then rss_peak=$rss; fi
                rss_anon=$(status_kib "$SERVER_PID" RssAnon); rss_file=$(status_kib "$SERVER_PID" RssFile)
            fi
        done
    done
    record rss "$system" "kib=$rss_peak" "producers=$MAX_PRODUCERS" "reset=\"$rss_reset\"" \
        "anon_kib=${rss_anon:-null}" "file_kib=${rss_file:-null}"

    # Catch-up: write the backlog, drop the cache, read it all with one consumer.
    local want=$((BACKLOG_BYTES / BACKLOG_SIZE)) have cache
    log "$system: backlog of $want x $BACKLOG_SIZE B (at most $FILL_MAX s)"
    file=$(drive "$system" backlog-fill produce --topic cmp_backlog --size "$BACKLOG_SIZE" \
        --producers "$FILL_PRODUCERS" --mode sync --count "$want" --duration "$FILL_MAX" \
        "${TOPIC_OPTS[@]}") || file=""
    have=""
    if [ -n "$file" ]; then have=$(json_get "$file" messages); fi
    if [ -n "$have" ] && [ "$have" -gt 0 ]; then
        cache=$(drop_caches)
        log "$system: consume catch-up of $have messages (page cache $cache)"
        file=$(drive "$system" consume-catchup consume --topic cmp_backlog --group cmp_catchup \
            --count "$have" --duration "$CONSUME_MAX" "${FIRST_OPTS[@]}") || file=""
        result "$system" consume "$BACKLOG_SIZE" 1 "$file" "backlog=$have" "cache=\"$cache\""
    else
        result "$system" consume "$BACKLOG_SIZE" 1 "" "backlog=0" "cache=\"not-run\""
    fi

    # End to end: first unpaced (the system's end-to-end maximum), then at a fixed share of it
    # for latency without queueing. A produce-only maximum leaves out the consumer's half of the
    # work, so a share of it is a much higher load end to end (kept as e2e-pmax for comparison).
    for size in $E2E_SIZES; do
        log "$system: e2e ${size} B x $E2E_PRODUCERS producers, unpaced"
        file=$(drive "$system" "e2e-max-s$size" e2e --topic "cmp_e2e_max_s$size" --size "$size" \
            --producers "$E2E_PRODUCERS" --mode sync --duration "$DURATION" \
            --warmup "$WARMUP" "${TOPIC_OPTS[@]}") || file=""
        result "$system" e2e-max "$size" "$E2E_PRODUCERS" "$file"
        e2e_at "$system" e2e "$size" "$RESULTS/raw/$system-e2e-max-s$size.json"
        if [ "$E2E_PRODUCE_BASIS" = 1 ] && [ -z "$E2E_RATE" ]; then
            e2e_at "$system" e2e-pmax "$size" "$RESULTS/raw/$system-produce-s$size-p$E2E_PRODUCERS.json"
        fi
    done

    log "== $system: stopping"
    record load "$system" "start=\"$load_start\"" "end=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
    stop_all
    # Free the disk for the next system; the results are already recorded.
    [ "$KEEP_DATA" = 1 ] || rm -rf "${WORK:?}/$system"
}

# ---------------------------------------------------------------- main

log "results in $RESULTS; data in $WORK"
case "$(stat -f -c %T "$WORK" 2>/dev/null)" in
    tmpfs|ramfs) log "warning: $WORK is in memory ($DATA_ROOT); set DATA_ROOT to a disk directory" ;;
esac
# A broker deletes its oldest segments once the disk is 75% full (RocketMQ's
# diskMaxUsedSpaceRatio): the start of a backlog would then be gone before the catch-up reads it.
used_pct=$(df -P "$WORK" 2>/dev/null | awk 'NR==2 {u=$3; a=$4; if (u+a>0) printf "%d", 100*u/(u+a)}')
if [ -n "$used_pct" ] && [ "$used_pct" -ge 60 ]; then
    log "warning: the disk of $WORK is ${used_pct}% full; Saturn and RocketMQ brokers delete old data above 75%, which truncates the catch-up backlog"
fi
build_saturn
case " $SYSTEMS " in *" nats "*|*" redis "*) build_peer_driver ;; esac

cat > "$RESULTS/meta.json" <<EOF
{"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "command": $(json_str "$COMMAND_LINE"),
 "settings": $(json_str "QUICK=$QUICK DURATION=$DURATION WARMUP=$WARMUP BACKLOG_BYTES=$BACKLOG_BYTES SIZES=\"$SIZES\" PRODUCERS=\"$PRODUCERS\" E2E_SIZES=\"$E2E_SIZES\" E2E_PRODUCERS=$E2E_PRODUCERS E2E_LOAD=$E2E_LOAD E2E_RATE=$E2E_RATE E2E_PRODUCE_BASIS=$E2E_PRODUCE_BASIS SYSTEMS=\"$SYSTEMS\""),
 "machine": $(json_str "$(nproc) CPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"),
 "saturn": $(json_str "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet 2>/dev/null || echo ' (with local changes)')"),
 "versions": $(json_str "$(nats-server --version 2>/dev/null | head -1); $(redis-server --version 2>/dev/null | awk '{print $1, $2, $3}')")}
EOF

for system in $SYSTEMS; do
    if available "$system"; then
        run_system "$system"
    else
        log "skipping $system: $WHY_NOT"
        record skipped "$system" "reason=$(json_str "$WHY_NOT")"
    fi
done

python3 "$HERE/report.py" "$RESULTS" | tee "$RESULTS/table.md"
log "done: $RESULTS/table.md, $RESULTS/results.json (raw summaries in $RESULTS/raw)"
