#!/usr/bin/env bash
# Runs every line of the README's quickstart against a real server, as
# printed, then checks sbctl's exit statuses, --json and CSV imports.
# usage: sbctl_quickstart.sh SWITCHBOARDD SBCTL README CORPUS_DIR
set -u
server=$1 sbctl=$2 readme=$3 corpus=$4
repo=$(cd "$(dirname "$readme")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sbqs.XXXXXX")
export SB_DATA_DIR="$work/data"
mkdir -p "$work/bin"
ln -s "$sbctl" "$work/bin/sbctl"
export PATH="$work/bin:$PATH"
passed=0 failed=0
pid=

cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

check() { # check NAME WANT_STATUS COMMAND...
  local name=$1 want=$2
  shift 2
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name: exit $got, want $want: $*" >&2
    sed 's/^/  | /' "$work/out" "$work/err" >&2
  fi
}

contains() { # contains NAME FILE TEXT
  if grep -q -- "$3" "$work/$2"; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $1: '$3' not in $2" >&2; sed 's/^/  | /' "$work/$2" >&2; fi
}

# No server yet: exit 3, saying which socket and how to start one.
check "no server" 3 sbctl server info
contains "no server says the socket" err "$SB_DATA_DIR/switchboard.sock"
contains "no server says how to start" err "scripts/start"

"$server" --durability none 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do [ -S "$SB_DATA_DIR/switchboard.sock" ] && break; sleep 0.05; done

# The quickstart, line by line, from the README's block (in the repository's directory).
block=$(awk '/^```sh quickstart/{on=1; next} /^```/{on=0} on' "$readme")
[ -n "$block" ] || { echo "FAIL: no quickstart block in $readme" >&2; exit 1; }
while IFS= read -r line; do
  case "$line" in ''|'#'*|'export PATH'*) continue ;; esac
  check "quickstart: $line" 0 bash -c "cd '$repo' && $line"
done <<<"$block"

# Exit statuses and what they print.
check "refused" 1 sbctl org create acme
contains "refused names the error" err "ALREADY_EXISTS"
check "bad usage" 2 sbctl member add --org acme
contains "bad usage names the option" err "--callcenter"
check "unknown command" 2 sbctl frobnicate now
check "help" 0 sbctl member add --help
contains "help lists options" out "--move"
check "bad token" 1 env SB_TOKEN=sbt_nope sbctl server info
contains "bad token says so" err "UNAUTHENTICATED"

# --json is JSON, for scripts.
check "json" 0 sbctl --json softphone check --org acme --user 005000000000002
contains "json softphone" out '"softphone": true'
contains "json reason" out '"reason": "OK"'

# Imports: a bad file writes nothing and names the file's own line (and column).
printf 'id,name\n005000000000099,Ok\n005000000000098\n' >"$work/bad.csv"
check "bad csv" 2 sbctl user import "$work/bad.csv" --org acme
contains "bad csv names the line" err "line 3 has 1 fields"
check "nothing of it imported" 1 sbctl user get --org acme 005000000000099
# A NUL byte is refused, never cut short ("Ada\0Evil" used to become "Ada").
printf 'id,name\n005000000000099,Ok\n005000000000098,Ada\0Evil\n' >"$work/nul.csv"
check "NUL in a name" 2 sbctl user import "$work/nul.csv" --org acme
contains "NUL named with line and column" err "line 3, column 2 (name): a NUL byte"
printf 'id,name\n005000000000099,Ok\n005000000000015\0junk,Eve\n' >"$work/nulid.csv"
check "NUL in an id" 2 sbctl user import "$work/nulid.csv" --org acme
contains "NUL in an id named" err "line 3, column 1 (id): a NUL byte"
check "no user 015 from a cut id" 1 sbctl user get --org acme 005000000000015
# ...inside a quoted field that spans lines: the line of the byte itself.
printf 'id,name\n005000000000099,Ok\n005000000000098,"two\nlines\0x"\n' >"$work/nulq.csv"
check "NUL in a multi-line field" 2 sbctl user import "$work/nulq.csv" --org acme
contains "multi-line field: the NUL's own line" err "line 4, column 2 (name): a NUL byte"
printf 'id,name\n005000000000099,Ok\n005000000000098,"two\nlines"\n' >"$work/nl.csv"
check "a line break in a name" 2 sbctl user import "$work/nl.csv" --org acme
contains "line break: the line it ends" err "line 3, column 2 (name): a line break"
printf 'id,name\n005000000000099,Ok\n005000000000098,Ok\x01\n' >"$work/ctl.csv"
check "control character" 2 sbctl user import "$work/ctl.csv" --org acme
contains "control character named" err "line 3, column 2 (name): a control character"
printf 'id,name\n005000000000099,Ok\n005000000000098,\xff\n' >"$work/utf.csv"
check "bad UTF-8" 2 sbctl user import "$work/utf.csv" --org acme
contains "bad UTF-8 named" err "line 3, column 2 (name): the field is not valid UTF-8"
printf 'id,name\n005000000000099,Ok\n005000000000098,%02000d\n' 0 >"$work/long.csv"
check "too long" 2 sbctl user import "$work/long.csv" --org acme
contains "too long: its own line, not the record before" err "line 3, column 2 (name): the field is longer"
# Lines, not records: blank lines count.
printf 'id,name\n\n005000000000099,Ok\n\n\n005000000000098\n' >"$work/blank.csv"
check "blank lines" 2 sbctl user import "$work/blank.csv" --org acme
contains "blank lines counted" err "line 6 has 1 fields"
check "nothing of those imported" 1 sbctl user get --org acme 005000000000099
# A row only the server refuses, in the last chunk: checked before the first write.
printf 'id,name\n005000000000099,Ok\n005000000000098,Ok\n001000000000097,Not a user\n' >"$work/srv.csv"
check "server-refused row" 1 sbctl user import "$work/srv.csv" --org acme --chunk 1
contains "server-refused row named by line" err "line 4: INVALID_ID"
contains "server-refused: nothing imported" err "nothing was imported"
check "first chunk not written" 1 sbctl user get --org acme 005000000000099
# A file that fits the server's limits goes in one request (one transaction): a dry run, a write.
printf 'id,name\n005000000000099,Ok\n005000000000098,Ok\n' >"$work/one.csv"
check "one request" 0 sbctl user import "$work/one.csv" --org acme
contains "one request: a check and a write" out "in 2 requests"
# Over --max-message-bytes (1 MiB): split into requests that fit, not refused.
awk 'BEGIN { print "id,name"; n = sprintf("%0200d", 0); for (i = 0; i < 6000; i++) printf "005%012d,%s\n", 100000 + i, n }' >"$work/big.csv"
check "big file" 0 sbctl user import "$work/big.csv" --org acme
contains "big file: in requests that fit" out "imported 6000 users .* in 4 requests"
# Members: an unknown Call Center, a user in another Call Center, a user
# twice: each refused before anything is assigned.
sbctl user upsert --org acme --id 005000000000096 --name Fresh >/dev/null
sbctl callcenter create --org acme --internal-name Other --display-name Other \
  --adapter-url https://softphone.example.com/cti >/dev/null
sbctl member add --org acme --user 005000000000095 --callcenter Other >/dev/null 2>&1 ||
  { sbctl user upsert --org acme --id 005000000000095 --name Taken >/dev/null &&
    sbctl member add --org acme --user 005000000000095 --callcenter Other >/dev/null; }
printf 'user,callcenter\n005000000000096,SupportEU\n005000000000095,SupportEU\n' >"$work/m.csv"
check "member elsewhere" 1 sbctl member import "$work/m.csv" --org acme --chunk 1
contains "member elsewhere: its line" err "line 3: ALREADY_MEMBER"
contains "member elsewhere: nothing imported" err "nothing was imported"
check "first row not assigned" 1 sbctl member lookup --org acme --user 005000000000096
printf 'user,callcenter\n005000000000096,SupportEU\n005000000000095,NoSuchCC\n' >"$work/m2.csv"
check "unknown Call Center" 1 sbctl member import "$work/m2.csv" --org acme --chunk 1 --move
contains "unknown Call Center: its line" err "line 3: NOT_FOUND"
check "first row still not assigned" 1 sbctl member lookup --org acme --user 005000000000096
printf 'user,callcenter\n005000000000096,SupportEU\n005000000000096AAA,Other\n' >"$work/m3.csv"
check "a user twice" 2 sbctl member import "$work/m3.csv" --org acme
contains "a user twice: both lines" err "line 3 names the user 005000000000096AAA again (first on line 2)"
printf 'id,name,phone\n003000000000001,Ok,+14155550100\n003000000000002,Bad,12\n' >"$work/c.csv"
check "contact bad number" 1 sbctl contact import "$work/c.csv" --org acme --callcenter SupportEU --chunk 1
contains "contact bad number: its line" err "line 3: INVALID_VALUE"
check "first contact not written" 1 sbctl contact get --org acme --id 003000000000001

# Every definition file of the corpus, through sbctl: each imports in an org
# of its own (two carry the internal name OpenCTI), except the placeholder
# template, refused for its internal name; each export imports again.
n=0
for file in "$corpus"/*/*; do
  case "$file" in *.md) continue ;; esac
  n=$((n + 1))
  sbctl org create "corpus$n" >/dev/null
  if [ "$(basename "$file")" = sampleContactCenter.xml ]; then
    check "refused: $file" 1 sbctl callcenter import "$file" --org "corpus$n"
    contains "refusal names rule and line" err "INVALID_INTERNAL_NAME: line 3, <item name=\"reqInternalName\">"
    check "imported under a name: $file" 0 sbctl callcenter import "$file" --org "corpus$n" --internal-name DemoConnector
    continue
  fi
  check "import: $file" 0 sbctl callcenter import "$file" --org "corpus$n"
  name=$(sbctl --json callcenter list --org "corpus$n" | sed -n 's/.*"internal_name": "\(.*\)".*/\1/p')
  for form in import metadata; do
    out="$work/$name.$form"
    [ "$form" = metadata ] && out="$work/$name.callCenter-meta.xml"
    check "export $form: $file" 0 sh -c "sbctl callcenter export '$name' --org corpus$n --form $form > '$out'"
    sbctl org create "again$n$form" >/dev/null
    check "re-import $form: $file" 0 sbctl callcenter import "$out" --org "again$n$form"
  done
done
[ "$n" -ge 10 ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: only $n corpus files" >&2; }
sbctl org create dup >/dev/null
check "OpenCTI once" 0 sbctl callcenter import "$corpus/salesforce-open-cti-sample/callcenter.xml" --org dup
check "OpenCTI twice in one org" 1 sbctl callcenter import "$corpus/salesforce-open-cti-demo-adapter/OpenCTI.callCenter" --org dup
contains "duplicate named" err "INTERNAL_NAME_TAKEN"

# An org's read-only token reads its org and nothing else.
reader=$(sbctl --json token create --org acme --role read_only | sed -n 's/.*"token": "\(.*\)".*/\1/p')
check "reader reads" 0 env SB_TOKEN="$reader" sbctl member list --org acme --callcenter SupportEU
check "reader cannot write" 1 env SB_TOKEN="$reader" sbctl user upsert --org acme --id 005000000000009 --name X
sbctl org create globex >/dev/null
check "reader cannot see globex" 1 env SB_TOKEN="$reader" sbctl org get globex
contains "as if globex did not exist" err "The org 'globex' does not exist."

kill "$pid"; wait "$pid"; status=$?; pid=
[ "$status" -eq 0 ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: server exit $status" >&2; }
grep -q "stopped cleanly" "$work/server.log" && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: no clean stop" >&2; }

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
