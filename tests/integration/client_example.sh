#!/usr/bin/env bash
# docs/client.md's example, as an integrator follows it: install Switchboard,
# build the page's program with pkg-config, and run it against a running
# server set up with sbctl: one check, pipelined checks matched by msgid, a
# refusal, a wrong token, and no server at all.
# usage: client_example.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 source=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/sbclient.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" PATH="$work/prefix/bin:$PATH"
export SB_DATA_DIR="$work/data"
awk '/^```c client-example/{on=1; next} /^```/{on=0} on' "$source/docs/client.md" >"$work/checks.c"
[ -s "$work/checks.c" ] || { echo "FAIL: no client-example block in docs/client.md" >&2; exit 1; }
cd "$work"
# A sanitizer build's library needs its runtime first: build the program the same way.
extra=()
lib=$(ls "$work"/prefix/lib/libswitchboard-client.so)
if ldd "$lib" | grep -q libasan; then extra=(-fsanitize=address,undefined); fi
if ldd "$lib" | grep -q libtsan; then extra=(-fsanitize=thread); fi
# The page's command, with those flags when they apply, and every warning:
cc "${extra[@]}" -Wall -Wextra -Werror checks.c $(pkg-config --cflags --libs switchboard-client) -o checks

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
