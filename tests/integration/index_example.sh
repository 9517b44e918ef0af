#!/usr/bin/env bash
# docs/index.md's example, as a user follows it: install Switchboard, build
# the page's program with pkg-config, and run it against a running server
# set up with sbctl.
# usage: index_example.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 source=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/sbindex.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" PATH="$work/prefix/bin:$PATH"
export SB_DATA_DIR="$work/data"
awk '/^```c index-example/{on=1; next} /^```/{on=0} on' "$source/docs/index.md" >"$work/check.c"
[ -s "$work/check.c" ] || { echo "FAIL: no index-example block in docs/index.md" >&2; exit 1; }
cd "$work"
# A sanitizer build's library needs its runtime first: build the program the same way.
extra=()
lib=$(ls "$work"/prefix/lib/libswitchboard-index.so)
if ldd "$lib" | grep -q libasan; then extra=(-fsanitize=address,undefined); fi
if ldd "$lib" | grep -q libtsan; then extra=(-fsanitize=thread); fi
# The page's command, with those flags when they apply:
cc "${extra[@]}" check.c $(pkg-config --cflags --libs switchboard-index) -o check

switchboardd --durability none 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do [ -S "$SB_DATA_DIR/switchboard.sock" ] && break; sleep 0.05; done
sbctl org create acme >/dev/null
sbctl callcenter create --org acme --internal-name Support --display-name "Support Call Center" \
  --adapter-url https://softphone.example.com/cti >/dev/null
sbctl user upsert --org acme --id 005000000000001 --name "Ada" >/dev/null
sbctl user upsert --org acme --id 005000000000002 --name "Bob" >/dev/null
sbctl member add --org acme --callcenter Support --user 005000000000001 >/dev/null

out=$(./check "$SB_DATA_DIR" acme 005000000000001)
[ "$out" = "OK: Support Call Center https://softphone.example.com/cti" ] ||
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
