# shellcheck shell=bash disable=SC2034,SC2154 # sets what its caller reads; reads what its caller sets
# Sourced by the benchmarks that run a fleet of wmsd agents on loopback addresses
# (scripts/bench-fleet, scripts/bench-dashboard); not a command of its own.
#
# The script that sources it defines, before calling anything here:
#   say, die          messages (die exits, and the script's EXIT trap ends what it started)
#   hosts             how many agents
#   addr I, name I    host I's loopback address and its name as a saved system
#   AGENT_PORT        the port every agent listens on (at its own address)
#   BIN               where wms, wmsd and wms-gen are
#   T                 the run's private directory
#   KEEP_VAR          the environment variable that keeps $T for a look at the logs
# and it ends AGENT_PIDS (every agent started, by PID) on exit.

AGENT_PIDS=()

# The descendants of PID, from one ps snapshot.
descendants() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2; pids[NR] = $1 }
        END {
            want[root] = 1; changed = 1
            while (changed) {
                changed = 0
                for (i in pids) { p = pids[i]; if (!(p in want) && (parent[p] in want)) { want[p] = 1; changed = 1 } }
            }
            for (p in want) if (p != root) print p
        }'
}

# Ends PID (with "tree", first whatever it started that is still there), and reaps it.
end_pid() {
    local pid=$1 tree=${2:-} kids
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        if [ "$tree" = tree ]; then
            kids=$(descendants "$pid")
            # shellcheck disable=SC2086
            [ -z "$kids" ] || kill -KILL $kids 2>/dev/null || true
        fi
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

TICK_MS=$((1000 / $(getconf CLK_TCK)))

agents_cpu() { # sets CPU_TICKS: the agents' own CPU (every thread's), without forking
    local line rest p s=0
    for p in "${AGENT_PIDS[@]}"; do
        read -r line <"/proc/$p/stat" || continue; rest=${line##*) }
        # shellcheck disable=SC2086
        set -- $rest
        s=$((s + ${12} + ${13}))
    done
    CPU_TICKS=$s
}

stats() { # "median min max" of the numbers given
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.1f %.1f %.1f\n", m, v[1], v[NR] }'
}
json_array() { local IFS=,; echo "[$*]"; }

wait_listening() { # PORT WHAT: until every host's address listens on PORT
    local port=$1 what=$2 n deadline=$((SECONDS + 60))
    while :; do
        n=$(ss -Hltn "sport = :$port" | awk '$4 ~ /^127\.0\.0\./' | wc -l)
        [ "$n" -ge "$hosts" ] && return 0
        [ $SECONDS -lt $deadline ] || die "only $n of $hosts $what listen on port $port after 60 s (logs under $T; $KEEP_VAR=1 keeps them)"
        sleep 0.1
    done
}

# start_agents TOKEN_NAME: $hosts agents, host I on addr I:$AGENT_PORT, each with its own
# state directory, socket, certificate and admin token (under $T/agents/I); each added
# with `wms system add` (its fingerprint pinned) to a client configuration of its own
# ($T/client as XDG_CONFIG_HOME, exported with WMS_CONFIG), and named in $T/hosts.
AGENT_LIMITS='actions_burst = 1000
actions_per_second = 1000
list_concurrency = 64'
start_agents() {
    local token_name=$1 i d
    say "starting $hosts wmsd agents on 127.0.0.2-$(addr $((hosts - 1))):$AGENT_PORT"
    mkdir -p "$T/agents" "$T/client"
    chmod 700 "$T/client"
    for ((i = 0; i < hosts; i++)); do
        d=$T/agents/$i
        mkdir -p "$d"
        # The agent rate-limits actions per token (defaults: a burst of 50, then 5 a second):
        # every run acts through the same token several times, so raise that well above
        # what a benchmark sends, and the listings one caller may have in hand at once.
        printf 'socket = "%s/wmsd.sock"\nstate_dir = "%s/state"\nlisten = ["%s:%s"]\n%s\n' \
            "$d" "$d" "$(addr "$i")" "$AGENT_PORT" "$AGENT_LIMITS" >"$d/wms.toml"
        chown root:root "$d/wms.toml"
        chmod 644 "$d/wms.toml"
        WMS_CONFIG=$d/wms.toml "$BIN/wmsd" token create --name "$token_name" --role admin >"$d/token" 2>"$d/token.err" </dev/null ||
            die "wmsd token create failed for host $i: $(cat "$d/token.err")"
        WMS_CONFIG=$d/wms.toml "$BIN/wmsd" fingerprint >"$d/fingerprint" 2>"$d/fp.err" </dev/null ||
            die "wmsd fingerprint failed for host $i: $(cat "$d/fp.err")"
        WMS_CONFIG=$d/wms.toml "$BIN/wmsd" </dev/null >/dev/null 2>"$d/wmsd.log" &
        AGENT_PIDS+=($!)
    done
    # The client's own configuration: no local agent socket, so nothing goes through one.
    printf 'socket = "%s/no-agent.sock"\nstate_dir = "%s/client-state"\n' "$T" "$T" >"$T/client.toml"
    chmod 644 "$T/client.toml"
    export WMS_CONFIG=$T/client.toml XDG_CONFIG_HOME=$T/client
    unset SSH_AUTH_SOCK
    wait_listening "$AGENT_PORT" agents
    local p
    for p in "${AGENT_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || die "an agent (PID $p) exited at start"; done

    say "adding the $hosts agents with wms system add"
    : >"$T/hosts"
    for ((i = 0; i < hosts; i++)); do
        d=$T/agents/$i
        "$BIN/wms" system add "$(addr "$i"):$AGENT_PORT" --name "$(name "$i")" --token "$(cat "$d/token")" \
            --fingerprint "$(cat "$d/fingerprint")" >/dev/null 2>"$d/add.err" </dev/null ||
            die "wms system add $(addr "$i"):$AGENT_PORT failed: $(cat "$d/add.err")"
        name "$i" >>"$T/hosts"; echo >>"$T/hosts"
    done
}
