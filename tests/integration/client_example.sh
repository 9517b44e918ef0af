#!/usr/bin/env bash
# docs/client.md's example, as an integrator follows it: install Switchboard,
# build the page's program with pkg-config, and run it against a running
# server set up with sbctl: one check, pipelined checks matched by msgid, a
# refusal, a wrong token, and no server at all.
# usage: client_example.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 source=$2
. "$(dirname "$0")/doc_example_lib.sh"
doc_example_setup "$build" sbclient
doc_example_build "$source/docs/client.md" client-example switchboard-client checks -Wall -Wextra -Werror

# No server yet: the connection's failure, in a sentence.
if SB_TOKEN=x ./checks acme 005000000000001 2>"$work/err"; then
  echo "FAIL: no server was not an error" >&2; exit 1; fi
grep -q "Cannot reach switchboardd at $SB_DATA_DIR/switchboard.sock" "$work/err" ||
  { echo "FAIL: no server: $(cat "$work/err")" >&2; exit 1; }

switchboardd --durability none 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do [ -S "$SB_DATA_DIR/switchboard.sock" ] && break; sleep 0.05; done
sbctl org create acme >/dev/null
sbctl callcenter create --org acme --internal-name Support --display-name "Support Call Center" \
  --adapter-url https://softphone.example.com/cti >/dev/null
sbctl user upsert --org acme --id 005000000000001 --name "Ada" >/dev/null
sbctl user upsert --org acme --id 005000000000002 --name "Bob" >/dev/null
sbctl member add --org acme --callcenter Support --user 005000000000001 >/dev/null
SB_TOKEN=$(cat "$SB_DATA_DIR/admin.token")
export SB_TOKEN

yes=("005000000000001: OK Support Call Center at https://softphone.example.com/cti")
out=$(./checks acme 005000000000001 005000000000002 005000000000003)
want=$(printf '%s\n' "${yes[0]}" "${yes[0]}" "005000000000002: NOT_A_MEMBER" \
  "005000000000003: UNKNOWN_USER")
[ "$out" = "$want" ] || { echo "FAIL: checks: '$out', want '$want'" >&2; exit 1; }

# Many pipelined checks: every answer comes back, matched to its user.
users=()
for i in $(seq 1 50); do users+=("$( [ $((i % 2)) = 1 ] && echo 005000000000001 || echo 005000000000002)"); done
out=$(./checks acme "${users[@]}")
[ "$(grep -c ': OK Support' <<<"$out")" = 26 ] && [ "$(grep -c ': NOT_A_MEMBER' <<<"$out")" = 25 ] ||
  { echo "FAIL: 50 pipelined checks: $out" >&2; exit 1; }
[ "$(grep -c '^005000000000002: OK' <<<"$out")" = 0 ] ||
  { echo "FAIL: an answer went to the wrong user: $out" >&2; exit 1; }

# A refusal: the server's error name and sentence.
if ./checks nowhere 005000000000001 2>"$work/err"; then
  echo "FAIL: an org that does not exist was not an error" >&2; exit 1; fi
grep -q "^NOT_FOUND: " "$work/err" || { echo "FAIL: no org: $(cat "$work/err")" >&2; exit 1; }
if SB_TOKEN=sbt_wrong ./checks acme 005000000000001 2>"$work/err"; then
  echo "FAIL: a wrong token was not an error" >&2; exit 1; fi
grep -q "^UNAUTHENTICATED: " "$work/err" || { echo "FAIL: wrong token: $(cat "$work/err")" >&2; exit 1; }
echo "client example: 5 passed, 0 failed"
