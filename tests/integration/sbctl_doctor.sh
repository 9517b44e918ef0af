#!/usr/bin/env bash
# The doctor's new findings and the exit statuses scripts read (issue 18),
# through sbctl against a real server: a layout assigned to a profile no user
# has, profiles that differ only in case, doctor --exit-code, and call test
# exiting 1 when one of its checks fails; call event --event @FILE or inline JSON.
# usage: sbctl_doctor.sh SWITCHBOARDD SBCTL LAYOUT_JSON [CORPUS_DIR]
set -u
server=$1 sbctl=$2 layout=$3 corpus=${4:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/sbdoc.XXXXXX")
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
  if [ "$got" -eq "$want" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $name: exit $got, want $want: $*" >&2
    sed 's/^/  | /' "$work/out" "$work/err" >&2; fi
}
contains() { # contains NAME FILE TEXT
  if grep -q -- "$3" "$work/$2"; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $1: '$3' not in $2" >&2; sed 's/^/  | /' "$work/$2" >&2; fi
}
lacks() { # lacks NAME FILE TEXT
  if ! grep -q -- "$3" "$work/$2"; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $1: '$3' in $2" >&2; fi
}

"$server" --durability none 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do [ -S "$SB_DATA_DIR/switchboard.sock" ] && break; sleep 0.05; done
s() { "$sbctl" "$@" >/dev/null; }
s org create acme
s callcenter create --org acme --internal-name SupportEU --display-name "Support (EU)" \
  --adapter-url https://softphone.example.com/cti
s layout put --org acme --layout "@$layout" --default
name=$("$sbctl" -o name layout list --org acme | head -n 1)
s user upsert --org acme --id 005000000000001 --name "Ada Agent" --profile Agent
s member add --org acme --user 005000000000001 --callcenter SupportEU
printf 'id,name,phone\n003000000000001,Caller,+14155550100\n' >"$work/c.csv"
s contact import "$work/c.csv" --org acme --callcenter SupportEU

# A healthy org: no finding, exit 0 with --exit-code too.
check "healthy doctor" 0 "$sbctl" doctor --org acme --exit-code
contains "healthy: says so" out "No findings"
check "a call that passes" 0 "$sbctl" call test --org acme --user 005000000000001 --from "+1 415 555 0100"

# A layout assigned to a profile nobody has ('Agnet': a typo).
s layout assign --org acme --profile Agnet --layout "$name"
check "doctor: a finding, exit 0 without --exit-code" 0 "$sbctl" doctor --org acme
contains "layout for a profile without users" out "LAYOUT_PROFILE_WITHOUT_USERS  profile 'Agnet'"
check "doctor --exit-code: exit 1" 1 "$sbctl" doctor --org acme --exit-code
check "doctor --json --exit-code: exit 1" 1 "$sbctl" --json doctor --org acme --exit-code
contains "json findings" out '"code": "LAYOUT_PROFILE_WITHOUT_USERS"'
check "layout list" 0 "$sbctl" layout list --org acme
contains "layout list: which profile has which layout" out "^Agnet  *$name$"
s layout assign --org acme --profile Agnet --unassign
check "fixed: exit 0" 0 "$sbctl" doctor --org acme --exit-code

# Profiles that differ only in case: of users, and of a user and an assignment.
s user upsert --org acme --id 005000000000002 --name "Bo Agent" --profile agent
s member add --org acme --user 005000000000002 --callcenter SupportEU
check "case" 0 "$sbctl" doctor --org acme
contains "profiles differing in case" out "PROFILES_DIFFER_IN_CASE  profile 'Agent'"
contains "both named" out "Profiles 'Agent' and 'agent' differ only in case"
s user upsert --org acme --id 005000000000002 --name "Bo Agent" --profile Agent
s layout assign --org acme --profile AGENT --layout "$name"
check "case of an assignment" 1 "$sbctl" doctor --org acme --exit-code
contains "assignment vs users" out "Profiles 'AGENT' and 'Agent' differ only in case"
contains "and nobody has AGENT" out "LAYOUT_PROFILE_WITHOUT_USERS  profile 'AGENT'"
lacks "one finding per group" out "profile 'agent'"

# call test: a check that fails exits 1 (it printed "passed": false and exited 0).
s user upsert --org acme --id 005000000000003 --name "Lone" --profile Agent
check "a call that fails" 1 "$sbctl" call test --org acme --user 005000000000003 --from "+1 415 555 0100"
contains "says which check" out "FAIL] softphone"
check "a call that fails, --json" 1 "$sbctl" --json call test --org acme --user 005000000000003 --from "+1 415 555 0100"
contains "json: passed false" out '"passed": false'

# call event --event: a file (@FILE, as --layout takes one) or the JSON inline.
scv="$corpus/salesforce-scv-examples/amazon_connect_partner_telephony_cc_import.xml"
if [ -f "$scv" ]; then
  s callcenter import "$scv" --org acme --internal-name VoiceAC 2>/dev/null
  printf '%s' '{"callCenterApiName": "VoiceAC", "vendorCallKey": "scv-1", "to": "+18005550000", "from": "+14155550100", "initiationMethod": "Inbound", "startTime": "2026-11-24T11:00:00.000Z", "participants": [{"participantKey": "+14155550100", "type": "END_USER"}]}' >"$work/create.json"
  check "--event @FILE" 0 "$sbctl" call event --org acme --callcenter VoiceAC --event "@$work/create.json" --user 005000000000001
  contains "--event @FILE: created" out "^created  *yes"
  check "--event JSON inline" 0 "$sbctl" call event --org acme --callcenter VoiceAC \
    --event '{"vendorCallKey": "scv-1", "endTime": "2026-11-24T11:02:00Z", "disconnectReason": "CUSTOMER_DISCONNECT"}'
  contains "--event inline: ended" out "duration_s  *120"
  check "--event FILE (no @), as before" 0 "$sbctl" call event --org acme --callcenter VoiceAC --event "$work/create.json"
else
  echo "SKIP: call event --event: the corpus is not at '$corpus' (../shared/corpus/callcenters)"
fi

# Secrets: the demo adapter marks reqProviderAuthToken secret; every output masks it.
demo="$corpus/salesforce-open-cti-demo-adapter/OpenCTI.callCenter"
if [ -f "$demo" ]; then
  secret=$(sed -n '/reqProviderAuthToken/{n;s/.*<value>\(.*\)<\/value>.*/\1/p}' "$demo")
  s org create sec
  check "import a file with a secret" 0 "$sbctl" callcenter import "$demo" --org sec
  lacks "import's echo: masked" out "$secret"
  contains "import's echo: the mask" out "reqProviderAuthToken *= \*\*\*\*\*\*\*\*"
  for cmd in "callcenter settings OpenCTI" "callcenter export OpenCTI" "callcenter get --internal-name OpenCTI" "--json callcenter get --internal-name OpenCTI" "callcenter export OpenCTI --form metadata"; do
    # shellcheck disable=SC2086
    check "$cmd" 0 "$sbctl" $cmd --org sec
    lacks "$cmd: masked" out "$secret"
    contains "$cmd: the mask" out '\*\*\*\*\*\*\*\*'
  done
  check "--reveal" 0 "$sbctl" callcenter settings OpenCTI --org sec --reveal
  contains "--reveal: in clear" out "reqProviderAuthToken $secret"
  check "export --reveal" 0 "$sbctl" callcenter export OpenCTI --org sec --reveal
  contains "export --reveal: in clear" out "<value>$secret</value>"
  reader=$("$sbctl" --json token create --org sec --role read_only | sed -n 's/.*"token": "\(.*\)".*/\1/p')
  check "a reader reads, masked" 0 env SB_TOKEN="$reader" "$sbctl" callcenter settings OpenCTI --org sec
  lacks "reader: masked" out "$secret"
  check "a reader cannot --reveal" 1 env SB_TOKEN="$reader" "$sbctl" callcenter settings OpenCTI --org sec --reveal
  contains "reader --reveal: why" err "reveal shows the values of secret settings: it needs an org admin token"
  lacks "never logged" server.log "$secret"
else
  echo "SKIP: secrets: the corpus is not at '$corpus' (../shared/corpus/callcenters)"
fi

kill "$pid"; wait "$pid"; pid=
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
