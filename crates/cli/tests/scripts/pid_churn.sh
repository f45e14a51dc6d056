#!/bin/bash
# Runs inside a private PID namespace (unshare --pid --fork --mount-proc), as PID 1 there.
# A login session whose processes die one by one while `wms session close` works on it;
# the moment each dies, a bystander outside the session is started on the very same PID
# (through ns_last_pid). Every bystander records any signal it gets and must end normally.
# Usage: pid_churn.sh WMS WORKDIR
set -u
WMS=$1
D=$2
: > "$D/signals"

# The target: 40 processes that ignore SIGTERM and exit on their own, staggered over
# 0.5 s to 3.3 s (within the grace period), and 10 that only SIGKILL ends.
sh -c '
  echo 4242 > /proc/self/loginuid || exit 1
  trap "" TERM
  i=0
  while [ $i -lt 40 ]; do
    ms=$((500 + i * 72))
    sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))" &
    i=$((i + 1))
  done
  for j in 1 2 3 4 5 6 7 8 9 10; do sleep 600 & done
  echo ready > "$0/ready"
  wait
' "$D" &
leader=$!
while [ ! -e "$D/ready" ]; do sleep 0.01; done
sid=$(cat "/proc/$leader/sessionid")
targets=""
for p in /proc/[0-9]*; do
  [ "$(cat "$p/sessionid" 2>/dev/null)" = "$sid" ] && targets="$targets ${p#/proc/}"
done

"$WMS" session close "$sid" -o json > "$D/close.json" 2> "$D/close.err" &
closer=$!

bystanders=""
reused=0
declare -A done_pid
while kill -0 "$closer" 2>/dev/null; do
  for p in $targets; do
    if [ -z "${done_pid[$p]:-}" ] && [ ! -e "/proc/$p" ]; then
      done_pid[$p]=1
      echo $((p - 1)) > /proc/sys/kernel/ns_last_pid
      sh -c 'for s in TERM HUP INT CONT QUIT USR1 USR2 ALRM; do trap "echo $s \$\$ >> $0/signals" $s; done
             i=0; while [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done; exit 7' "$D" &
      b=$!
      bystanders="$bystanders $b"
      [ "$b" = "$p" ] && reused=$((reused + 1))
    fi
  done
done
wait "$closer"
closed=$?

bad=0
for b in $bystanders; do
  wait "$b"
  st=$?
  if [ "$st" != 7 ]; then
    echo "bystander $b ended with status $st (a signal reached it)"
    bad=1
  fi
done
if [ -s "$D/signals" ]; then
  echo "bystanders received signals:"; cat "$D/signals"; bad=1
fi
left=0
for p in /proc/[0-9]*; do
  [ "$(cat "$p/sessionid" 2>/dev/null)" = "$sid" ] && left=$((left + 1))
done
echo "targets=$(echo $targets | wc -w) reused=$reused bystanders=$(echo $bystanders | wc -w) close_exit=$closed left=$left"
cat "$D/close.json" "$D/close.err"
[ "$bad" = 0 ] && [ "$closed" = 0 ] && [ "$left" = 0 ]
