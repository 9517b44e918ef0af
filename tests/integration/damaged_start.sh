#!/usr/bin/env bash
# switchboardd and sbstore, as an operator runs them, on damaged copies of a
# real data directory: each refused, exit status 1, with the sentence that
# names the file and says how to restore; never a crash, never an empty store.
# usage: damaged_start.sh SWITCHBOARDD SBSTORE
set -u
server=$1 sbstore=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$sbstore" smoke "$work/good" >/dev/null || { echo "FAIL: sbstore smoke" >&2; exit 1; }
passed=0 failed=0
expect() { # expect NAME TEXT COMMAND...: exit status 1, TEXT and the restore in its output
  local name=$1 text=$2
  shift 2
  # Bounded: a server that starts on a damaged copy is a failure, not a wait.
  out=$(timeout 20 "$@" 2>&1)
  status=$?
  if [ "$status" -eq 1 ] && grep -q -- "$text" <<<"$out" && grep -q -- "sbstore restore" <<<"$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name: exit $status, want 1, '$text' and the restore:" >&2
    sed 's/^/  | /' <<<"$out" >&2
  fi
}
copy() { # copy NAME: a copy of the good directory's files, not its locks
  rm -rf "$work/$1"
  mkdir -m 0700 "$work/$1"
  cp "$work/good/data.mdb" "$work/good/switchboard.id" "$work/$1/"
}
size=$(stat -c %s "$work/good/data.mdb")
copy cut && truncate -s $((size - 4096)) "$work/cut/data.mdb"
expect "truncated, switchboardd" "is truncated" "$server" --data-dir "$work/cut" --durability none
expect "truncated, sbstore" "is truncated" "$sbstore" stats "$work/cut"
copy empty && truncate -s 0 "$work/empty/data.mdb"
expect "emptied, switchboardd" "the data is lost, not new" "$server" --data-dir "$work/empty"
copy gone && rm "$work/gone/data.mdb"
expect "removed, switchboardd" "is missing" "$server" --data-dir "$work/gone"
[ -e "$work/gone/data.mdb" ] && { failed=$((failed + 1)); echo "FAIL: an empty store was made" >&2; }
copy meta && printf '\xff' | dd of="$work/meta/data.mdb" bs=1 seek=17 conv=notrunc status=none
expect "meta page 0, sbstore" "meta page 0" "$sbstore" stats "$work/meta"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
