#!/usr/bin/env bash
# Runs the walk-through of docs/multi-callcenter.md, as written, against a
# real server with the bundled adapters; checks that what the page says it
# prints is printed, where each user ends up, and that a stale plan is
# refused and changes nothing.
# usage: multi_callcenter.sh SWITCHBOARDD SBCTL PAGE
set -u
server=$(realpath "$1") sbctl=$(realpath "$2") page=$(realpath "$3")
repo=$(cd "$(dirname "$page")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sbmulti.XXXXXX")
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

fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
contains() { # contains NAME FILE TEXT
  if grep -qF -- "$3" "$2"; then passed=$((passed + 1)); else
    fail "$1: '$3' not in the output"; sed 's/^/  | /' "$2" >&2; fi
}

"$server" --durability none 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do [ -S "$SB_DATA_DIR/switchboard.sock" ] && break; sleep 0.05; done

# The walk-through, as one script (its lines share variables), from the repository.
awk '/^```sh walkthrough/{on=1; next} /^```/{on=0} on' "$page" >"$work/walk.sh"
[ -s "$work/walk.sh" ] || { echo "FAIL: no walkthrough block in $page" >&2; exit 1; }
if (cd "$repo" && bash -e -o pipefail "$work/walk.sh") >"$work/out" 2>"$work/err"; then
  passed=$((passed + 1))
else
  fail "the walk-through stopped: $(tail -1 "$work/err")"
  sed 's/^/  | /' "$work/out" "$work/err" >&2
fi

# What the page shows of the plan is what it prints (the fingerprint aside).
awk '/^`sbctl rules plan` reads:/{want=1} want && /^```text/{on=1; next} on && /^```/{exit} on' \
  "$page" >"$work/plan.txt"
[ -s "$work/plan.txt" ] || fail "the page shows no plan"
while IFS= read -r line; do
  case "$line" in '' | *...*) continue ;; esac
  if grep -qxF -- "$line" "$work/out"; then passed=$((passed + 1)); else
    fail "the page's plan line '$line' is not printed"; fi
done <"$work/plan.txt"
contains "no licence" "$work/out" "softphone    no (NO_SCV_LICENCE)"
contains "the licence to assign" "$work/out" '"Service Cloud Voice" permission set licence'
contains "licences imported" "$work/out" "imported 2 licences"
contains "conflict found" "$work/out" "RULES_CONFLICT"
contains "unmatched found" "$work/out" "USERS_NO_RULE_MATCHES"

# Where each user is: the rules', the conflict's and the unmatched user's.
where() { # where USER: the Call Center's id, or the error's name
  sbctl --json member lookup --org globalco --user "$1" 2>&1 |
    sed -n 's/.*"callcenter": "\([^"]*\)".*/\1/p; s/.*\(NOT_A_MEMBER\).*/\1/p' | head -1
}
id_of() { sbctl --json callcenter get --org globalco "$1" | sed -n 's/.*"id": "\(04v[^"]*\)".*/\1/p' | head -1; }
sales=$(id_of Sales) service=$(id_of Service) back=$(id_of BackOffice)
for pair in 501:$sales 503:$service 506:$back 509:$sales 510:NOT_A_MEMBER 507:NOT_A_MEMBER \
  508:NOT_A_MEMBER 511:$sales; do
  user=005000000000${pair%%:*} want=${pair#*:}
  got=$(where "$user")
  if [ "$got" = "$want" ]; then passed=$((passed + 1)); else
    fail "user $user is in '$got', want '$want'"; fi
done

# A plan made stale by a write is refused, and nothing of it is applied.
sbctl rules put --org globalco --rules @"$repo/docs/examples/multi/rules.json" >/dev/null
sbctl user upsert --org globalco --id 005000000000512 --name "Late Hire" --department Finance \
  >/dev/null
old=$(sbctl --json rules plan --org globalco | sed -n 's/.*"fingerprint": "\([0-9a-f]*\)".*/\1/p')
sbctl user upsert --org globalco --id 005000000000513 --name "Later Hire" --department Sales \
  >/dev/null
if sbctl rules apply --org globalco --fingerprint "$old" >"$work/out" 2>"$work/err"; then
  fail "a stale plan was applied"
else
  contains "stale refused" "$work/err" "PLAN_STALE"
fi
got=$(where 005000000000512)
if [ "$got" = NOT_A_MEMBER ]; then passed=$((passed + 1)); else
  fail "the stale plan moved 512 to '$got'"; fi

echo "multi_callcenter: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
