#!/usr/bin/env bash
# The README's quickstart as a person sees it (issue 18): typed into a shell
# in a tmux terminal 100 columns wide, then members with UTF-8 names listed.
# What the screen shows is read back: no line wider than the terminal, and
# the columns after "Zoë Ångström" and "山田太郎" start where the header's do.
# usage: sbctl_tmux.sh SWITCHBOARDD SBCTL README
set -u
server=$1 sbctl=$2 readme=$3
repo=$(cd "$(dirname "$readme")" && pwd)
command -v tmux >/dev/null || { echo "SKIP: tmux is not installed (scripts/install-deps)"; exit 0; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sbtmux.XXXXXX")
export SB_DATA_DIR="$work/data"
mkdir -p "$work/bin"
ln -s "$sbctl" "$work/bin/sbctl"
tmux=(tmux -L "sbtmux$$" -f /dev/null)
passed=0 failed=0
pid=
cleanup() {
  "${tmux[@]}" kill-server 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
width() { printf '%s' "$1" | LC_ALL=C.UTF-8 wc -L; } # display columns

"$server" --durability none 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do [ -S "$SB_DATA_DIR/switchboard.sock" ] && break; sleep 0.05; done

# The script the person types: the quickstart's lines, then people with UTF-8 names.
{
  echo "cd '$repo'"
  awk '/^```sh quickstart/{on=1; next} /^```/{on=0} on' "$readme" | grep -v '^export PATH'
  printf "printf 'id,name,profile\\\\n005000000000010,Zoë Ångström,Agent\\\\n005000000000011,山田太郎,Supervisor\\\\n' >'%s/u.csv'\n" "$work"
  echo "sbctl user import '$work/u.csv' --org acme"
  echo "sbctl member add --org acme --user 005000000000010 --callcenter SupportEU"
  echo "sbctl member add --org acme --user 005000000000011 --callcenter SupportEU"
  echo "sbctl member list --org acme --callcenter SupportEU"
  echo "sbctl plugin list"
  echo "echo QUICKSTART-DONE"
} >"$work/typed.sh"

"${tmux[@]}" new-session -d -x 100 -y 40 -s qs \
  "env -i HOME='$work' TERM=xterm-256color LANG=C.UTF-8 PATH='$work/bin:/usr/bin:/bin' SB_DATA_DIR='$SB_DATA_DIR' PS1='$ ' bash --norc --noprofile"
"${tmux[@]}" set-option -t qs history-limit 5000 >/dev/null
"${tmux[@]}" send-keys -t qs "source '$work/typed.sh'" Enter
screen=
for _ in $(seq 200); do
  screen=$("${tmux[@]}" capture-pane -t qs -p -J -S -)
  grep -q '^QUICKSTART-DONE' <<<"$screen" && break
  sleep 0.1
done
printf '%s\n' "$screen" >"$work/screen.txt"
grep -q '^QUICKSTART-DONE' <<<"$screen" && ok || fail "the quickstart did not finish in 20 s"

# Every line fits the 100-column terminal (capture-pane -J joins wrapped lines):
# the tables of callcenter list, member list and plugin list included.
wide=0
while IFS= read -r line; do
  case "$line" in *'$ '*) continue ;; esac # the typed commands themselves
  [ "$(width "$line")" -le 100 ] || { wide=$((wide + 1)); echo "  too wide ($(width "$line")): $line" >&2; }
done < <(sed -n '/^NAME  *VERSION/,/^dir:/p; /^ID  *INTERNAL-NAME/,/^more:/p; /^USER  *NAME/,/^more:/p' "$work/screen.txt")
[ "$wide" -eq 0 ] && ok || fail "$wide table lines wider than 100 columns"
grep -q '^NAME  *VERSION' "$work/screen.txt" && ok || fail "no plugin list table"

# Aligned: PROFILE's column in the header is where each row's profile starts.
header=$(grep '^USER  *NAME  *PROFILE' "$work/screen.txt" | tail -n 1)
col=$(width "${header%%PROFILE*}")
for who in 'Zoë Ångström:Agent' '山田太郎:Supervisor' 'Ada Agent:Agent'; do
  name=${who%%:*} profile=${who##*:}
  row=$(grep -F "$name" "$work/screen.txt" | grep -v '^\$\|printf' | tail -n 1)
  [ -n "$row" ] || { fail "no row for $name"; continue; }
  rest=${row#*"$name"}
  at=$(( $(width "${row%%"$name"*}$name") + $(width "${rest%%"$profile"*}") ))
  [ "$at" -eq "$col" ] && ok || fail "$name: its profile starts at column $at, the header's at $col: '$row'"
done

if [ "$failed" -ne 0 ]; then
  echo "--- the screen:" >&2
  cat "$work/screen.txt" >&2
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
