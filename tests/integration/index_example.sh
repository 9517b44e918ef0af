#!/usr/bin/env bash
# docs/index.md's example, as a user follows it: install Switchboard, build
# the page's program with pkg-config, and run it against a running server
# set up with sbctl.
# usage: index_example.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 source=$2
. "$(dirname "$0")/doc_example_lib.sh"
doc_example_setup "$build" sbindex
doc_example_build "$source/docs/index.md" index-example switchboard-index check

switchboardd --durability none 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do [ -S "$SB_DATA_DIR/switchboard.sock" ] && break; sleep 0.05; done
sbctl org create acme >/dev/null
sbctl callcenter create --org acme --internal-name SupportEU --display-name "Support (EU)" \
  --adapter-url https://softphone.example.com/cti >/dev/null
sbctl user upsert --org acme --id 005000000000001 --name "Ada" >/dev/null
sbctl user upsert --org acme --id 005000000000002 --name "Bob" >/dev/null
sbctl member add --org acme --callcenter SupportEU --user 005000000000001 >/dev/null

out=$(./check "$SB_DATA_DIR" acme 005000000000001)
# The output the page shows, as the README's quickstart sets the org up.
want=$(sed -n 's/^# \(OK: .*\)$/\1/p' "$source/docs/index.md")
[ "$out" = "$want" ] && [ "$out" = "OK: Support (EU) https://softphone.example.com/cti" ] ||
  { echo "FAIL: member: '$out'" >&2; exit 1; }
out=$(./check "$SB_DATA_DIR" acme 005000000000002)
[ "$out" = "NOT_A_MEMBER:  " ] || { echo "FAIL: not a member: '$out'" >&2; exit 1; }
if ./check "$SB_DATA_DIR" nowhere 005000000000001 2>"$work/err"; then
  echo "FAIL: an org that does not exist was not an error" >&2; exit 1; fi
grep -q "org does not exist" "$work/err" || { echo "FAIL: $(cat "$work/err")" >&2; exit 1; }
if ./check "$work/nothing" acme 005000000000001 2>"$work/err"; then
  echo "FAIL: a missing directory was not an error" >&2; exit 1; fi
grep -q -- "--data-dir" "$work/err" || { echo "FAIL: $(cat "$work/err")" >&2; exit 1; }
echo "index example: 4 passed, 0 failed"
