#!/usr/bin/env bash
# A softphone.check allocates nothing in the server's steady state (issue 16:
# spare requests keep their message copy, msgpack zone and reply, and a
# connection its pass buffer). Two runs of the server on the same data, one
# with 6 times the checks of the other, pipelined 16 deep, counted by an
# interposed malloc; the difference over the extra checks must stay below 0.1
# allocations a check (it was 2.125 before).
# usage: alloc_per_check.sh SWITCHBOARDD SBBENCH MALLOC_COUNT_SO LAYOUT
set -u
server=$1 bench=$2 counter=$3 layout=$4
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
pid=
data="--users 2000 --orgs 2 --callcenters 4"
"$bench" load "$work/seed" $data --layout "$layout" >/dev/null || { echo "FAIL: sbbench load" >&2; exit 1; }
count() { # count ROUNDS: prints "checks allocations" of one server run
  rm -rf "$work/d"
  cp -r "$work/seed" "$work/d"
  chmod 700 "$work/d"
  SB_MALLOC_COUNT_FILE=$work/count LD_PRELOAD=$counter \
    "$server" --data-dir "$work/d" --durability none --loops 1 2>"$work/server.log" &
  pid=$!
  for _ in $(seq 200); do [ -S "$work/d/switchboard.sock" ] && [ -s "$work/d/admin.token" ] && break; sleep 0.05; done
  local ops
  ops=$("$bench" socket --target switchboard --socket "$work/d/switchboard.sock" \
    --token "$(cat "$work/d/admin.token")" --clients 1 --depth 16 --rounds "$1" $data |
    awk '/^ops/{print $2}')
  kill -TERM "$pid"
  wait "$pid"
  echo "$ops $(cat "$work/count")"
}
read -r ops1 n1 < <(count 100)
read -r ops2 n2 < <(count 600)
if [ -z "$ops1" ] || [ -z "$ops2" ] || [ -z "$n1" ] || [ -z "$n2" ] || [ "$ops2" -le "$ops1" ]; then
  echo "FAIL: no counts (checks $ops1, $ops2; allocations $n1, $n2); see the server's log:" >&2
  sed 's/^/  | /' "$work/server.log" >&2
  exit 1
fi
per=$(awk -v a="$n1" -v b="$n2" -v x="$ops1" -v y="$ops2" 'BEGIN{printf "%.3f", (b-a)/(y-x)}')
echo "allocations a check: $per ($((n2 - n1)) over $((ops2 - ops1)) checks)"
if awk -v p="$per" 'BEGIN{exit !(p < 0.1)}'; then
  echo "1 passed, 0 failed"
else
  echo "FAIL: $per allocations a check in the steady state, want none" >&2
  exit 1
fi
