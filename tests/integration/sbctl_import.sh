#!/usr/bin/env bash
# sbctl's CSV imports as an operator meets them (issue 18), against a real
# server, counting the org's records before and after each: a bad row late
# in a large file writes nothing, a UTF-8 byte-order mark and extra columns
# are accepted, --columns and --data-loader read other headers, --from-line
# resumes, and a write refused after others names the lines written; then
# lists as scripts read them (--all, -o name, -o csv, times, names by ids).
# usage: sbctl_import.sh SWITCHBOARDD SBCTL
set -u
server=$1 sbctl=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/sbimp.XXXXXX")
export SB_DATA_DIR="$work/data"
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
equals() { # equals NAME GOT WANT
  if [ "$2" = "$3" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $1: got '$2', want '$3'" >&2; fi
}

# The org's users, counted a page of 1000 at a time.
count_users() {
  local n=0 after= page ids
  while :; do
    page=$("$sbctl" --json user list --org "$1" --limit 1000 ${after:+--after "$after"}) || { echo -1; return; }
    ids=$(printf '%s\n' "$page" | sed -n 's/^ *"id": "\(.*\)",*$/\1/p')
    [ -z "$ids" ] && break
    n=$((n + $(printf '%s\n' "$ids" | wc -l)))
    after=$(printf '%s\n' "$ids" | tail -n 1)
    printf '%s\n' "$page" | grep -q '"more": true' || break
  done
  echo "$n"
}
profile_of() { "$sbctl" --json user get --org "$1" "$2" | sed -n 's/^ *"profile": "\(.*\)",*$/\1/p'; }

"$server" --durability none 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do [ -S "$SB_DATA_DIR/switchboard.sock" ] && break; sleep 0.05; done
"$sbctl" org create acme >/dev/null

# A row only the server refuses (an id of another object, 001...) at line
# 1,201 of 1,500: nothing is written, in one request or in chunks of 500.
users() { # users FIRST COUNT: rows of ids 005 + FIRST.. with names
  awk -v first="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "005%012d,User %d,Agent\n", first + i, first + i }'
}
{ echo "id,name,profile"; users 1000 1199; echo "001000000009999,Not a user,Agent"; users 3000 300; } >"$work/bad.csv"
equals "bad file has 1,501 lines" "$(wc -l <"$work/bad.csv")" 1501
before=$(count_users acme)
check "bad row at line 1201" 1 "$sbctl" user import "$work/bad.csv" --org acme
contains "bad row named by its line" err "bad.csv: line 1201: INVALID_ID"
contains "bad row: nothing imported" err "nothing was imported"
equals "bad row: no user written" "$(count_users acme)" "$before"
check "bad row, chunks of 500" 1 "$sbctl" user import "$work/bad.csv" --org acme --chunk 500
contains "chunked: its line" err "line 1201: INVALID_ID"
contains "chunked: nothing imported" err "nothing was imported"
equals "chunked: no user written" "$(count_users acme)" "$before"
# Fixed, the same file imports whole.
sed -i 's/^001000000009999,/005000000009999,/' "$work/bad.csv"
check "fixed file" 0 "$sbctl" user import "$work/bad.csv" --org acme
equals "fixed file: 1,500 users" "$(count_users acme)" $((before + 1500))

# A UTF-8 byte-order mark before the header, as Excel writes it, with CRLF lines.
before=$(count_users acme)
printf '\xef\xbb\xbfid,name,profile\r\n005000000100001,Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m,Agent\r\n005000000100002,\xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa\xe9\x83\x8e,Agent\r\n' >"$work/bom.csv"
check "BOM" 0 "$sbctl" user import "$work/bom.csv" --org acme
equals "BOM: 2 users more" "$(count_users acme)" $((before + 2))
check "BOM: the first column is id" 0 "$sbctl" user get --org acme 005000000100001

# Extra columns: ignored, named in a warning; their bytes are not checked.
before=$(count_users acme)
printf 'id,Email,name,Notes,profile\n005000000100003,a@example.com,Ada,"two\nlines",Agent\n005000000100004,b@example.com,Bob,\x01,Agent\n' >"$work/extra.csv"
check "extra columns" 0 "$sbctl" user import "$work/extra.csv" --org acme
contains "extra columns: a warning names them" err "warning: columns ignored: Email, Notes"
equals "extra columns: 2 users more" "$(count_users acme)" $((before + 2))
# ...but a missing column is still refused, naming what was ignored.
printf 'id,nme\n005000000100005,Eve\n' >"$work/typo.csv"
check "typo in the header" 2 "$sbctl" user import "$work/typo.csv" --org acme
contains "typo: the missing column and the ignored one" err "needs the column 'name' exactly once (columns ignored: nme)"

# --columns maps the header's own names.
before=$(count_users acme)
printf 'UserId,Full Name,Role\n005000000100006,Chen,Supervisor\n' >"$work/mapped.csv"
check "--columns" 0 "$sbctl" user import "$work/mapped.csv" --org acme --columns "id=UserId,name=Full Name,profile=Role"
equals "--columns: 1 user more" "$(count_users acme)" $((before + 1))
equals "--columns: the profile read" "$(profile_of acme 005000000100006)" Supervisor
check "--columns, unknown column" 2 "$sbctl" user import "$work/mapped.csv" --org acme --columns "email=UserId"
contains "--columns: names the columns" err "the columns: id, name, profile"

# A Salesforce Data Loader export of users: quoted, upper-case headers,
# 18-character ids, Profile.Name, and many other columns.
before=$(count_users acme)
cat >"$work/extract.csv" <<'CSV'
"ID","USERNAME","NAME","EMAIL","PROFILEID","PROFILE.NAME","ISACTIVE"
"005000000100007AAA","ines@acme.example","Inés Ortiz","ines@acme.example","00e000000000001AAA","Sales Agent","true"
"005000000100008AAA","kenji@acme.example","山田太郎","kenji@acme.example","00e000000000002AAA","Supervisor","true"
CSV
check "Data Loader" 0 "$sbctl" user import "$work/extract.csv" --org acme --data-loader
equals "Data Loader: 2 users more" "$(count_users acme)" $((before + 2))
equals "Data Loader: the profile" "$(profile_of acme 005000000100007)" "Sales Agent"
contains "Data Loader: other columns named" err "columns ignored: USERNAME, EMAIL, PROFILEID, ISACTIVE"

# --from-line N: the records before line N are not sent.
before=$(count_users acme)
printf 'id,name\n005000000100009,One\n005000000100010,Two\n\n005000000100011,Three\n' >"$work/resume.csv"
check "--from-line" 0 "$sbctl" user import "$work/resume.csv" --org acme --from-line 3
equals "--from-line: lines 3 and 5" "$(count_users acme)" $((before + 2))
check "--from-line: line 2 not sent" 1 "$sbctl" user get --org acme 005000000100009
check "--from-line past the end" 2 "$sbctl" user import "$work/resume.csv" --org acme --from-line 9

# A write refused after others were written (a Call Center deleted between
# the check and the write of its chunk): the lines written, and how to resume.
"$sbctl" callcenter create --org acme --internal-name Gone --display-name Gone \
  --adapter-url https://softphone.example.com/cti >/dev/null
"$sbctl" callcenter create --org acme --internal-name Stays --display-name Stays \
  --adapter-url https://softphone.example.com/cti >/dev/null
printf 'user,callcenter\n005000000100003,Stays\n005000000100004,Gone\n' >"$work/m.csv"
# SBCTL_TEST_BETWEEN names a pipe sbctl reads to its end between the dry run
# and the write (tests only): opening it for writing waits for the check to be done.
mkfifo "$work/between"
SBCTL_TEST_BETWEEN="$work/between" "$sbctl" member import "$work/m.csv" --org acme --chunk 1 \
  >"$work/partial.out" 2>"$work/partial.err" &
importer=$!
# (bounded: an importer that never opens the pipe fails the test, it does not hang it)
timeout 20 sh -c 'exec 3>"$1"; "$2" callcenter delete --org acme Gone >/dev/null' _ \
  "$work/between" "$sbctl" || echo "FAIL: the importer never reached the write" >&2
wait "$importer"
equals "partial write: exit 1" "$?" 1
cp "$work/partial.err" "$work/err"
contains "partial: the lines written" err "m.csv: lines 2 to 2 were imported (1 record;"
contains "partial: the resume command" err "run: sbctl member import $work/m.csv --org acme --chunk 1 --from-line 3"
check "partial: line 2 written" 0 "$sbctl" member lookup --org acme --user 005000000100003

# Lists as scripts read them: --all follows every page, -o name and -o csv, one time format.
all=$("$sbctl" user list --org acme --all --limit 7 -o name | sort -u | wc -l)
equals "--all: every user once, 7 a page" "$all" "$(count_users acme)"
check "--all on a command without pages" 2 "$sbctl" org get acme --all
check "-o csv" 0 "$sbctl" user list --org acme --limit 3 -o csv
contains "-o csv: the header" out "^id,name,profile,department,division,role,scv_licence$"
check "-o json is --json" 0 "$sbctl" -o json org get acme
contains "-o json" out '"id": "acme"'
check "org get" 0 "$sbctl" org get acme
contains "times are ISO 8601 UTC" out "^created  *20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z$"
check "member list" 0 "$sbctl" member list --org acme --callcenter Stays
contains "member list: names beside ids" out "005000000100003AAA  Ada"

check "member list --name" 0 "$sbctl" member list --org acme --callcenter Stays --name ad -o csv
contains "member list --name: Ada" out "005000000100003AAA,Ada,Agent"
check "member list --profile" 0 "$sbctl" member list --org acme --callcenter Stays --profile nobody -o name
equals "member list --profile: none" "$(cat "$work/out")" ""
# Finding people: the start of the name or of a word of it, any case; by profile; every page.
check "user find" 0 "$sbctl" user find --org acme --name ortiz -o name
equals "user find: a word of the name, any case" "$(cat "$work/out")" 005000000100007AAA
check "user find, two words" 0 "$sbctl" user find --org acme --name "user 12" --all -o name
equals "user find: User 1200 to User 1299" "$(wc -l <"$work/out")" 100
check "user find --profile" 0 "$sbctl" user find --org acme --name ch --profile supervisor -o csv
contains "user find --profile: Chen" out "005000000100006AAA,Chen,Supervisor"
equals "user find --all, 3 a page" "$("$sbctl" user find --org acme --name user --limit 3 --all -o name | wc -l)" 1500
check "user find, a table" 0 "$sbctl" user find --org acme --name zo
contains "user find: UTF-8 name in the table" out "005000000100001AAA  Zoë Ångström"
check "user find without a name" 1 "$sbctl" user find --org acme --name ""

kill "$pid"; wait "$pid"; pid=
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
