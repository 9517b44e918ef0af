#!/usr/bin/env bash
# sbctl's help as a new operator meets it (issue 18): a group's commands,
# did-you-mean, an example in every command's help; the man page and the
# bash and zsh completion scripts, generated from the method table, match
# the checked-in copies (regenerate: build/tools/sbctl --man > docs/sbctl.1,
# --completion bash > tools/completion/sbctl.bash, --completion zsh >
# tools/completion/_sbctl), complete as typed, and are installed by cmake --install.
# usage: sbctl_help.sh SBCTL SOURCE_DIR BUILD_DIR
set -u
sbctl=$1 src=$2 build=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/sbhelp.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SB_DATA_DIR="$work/none" # no server: help needs none
passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
run() { # run WANT_STATUS ARGS...: output in $work/out, $work/err
  local want=$1; shift
  "$sbctl" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  [ "$got" -eq "$want" ] && ok || { fail "sbctl $*: exit $got, want $want"; sed 's/^/  | /' "$work/out" "$work/err" >&2; }
}
has() { # has FILE TEXT
  grep -qF -- "$2" "$work/$1" && ok || { fail "'$2' not in $1"; sed 's/^/  | /' "$work/$1" >&2; }
}

# Drift: each generated file is what the method table makes now.
for pair in "--man:docs/sbctl.1" "--completion bash:tools/completion/sbctl.bash" "--completion zsh:tools/completion/_sbctl"; do
  args=${pair%%:*} file=${pair#*:}
  # shellcheck disable=SC2086
  if "$sbctl" $args | diff -u "$src/$file" - >"$work/diff"; then ok; else
    fail "$file differs from sbctl $args: regenerate it"; head -20 "$work/diff" >&2; fi
done

# A group's commands; a group alone says them too (exit 2).
run 0 org --help
has out "org create"
has out "org doctor"
run 0 user --help
has out "user import FILE"
run 2 member
has err "member list"
# Did you mean: a command, a flag.
run 2 mebmer lsit --org acme
has err "did you mean 'sbctl member list'?"
run 2 member list --org acme --calcenter X
has err "did you mean --callcenter?"
run 2 org frobnicate
has err "org create"
# Words in place of flags, in order, each argument once.
run 2 org get acme --org globex
has err "org is given twice"
run 2 cluster promote s1 s1b extra
has err "unexpected 'extra'"
run 0 cluster promote --help
has out "usage: sbctl cluster promote SHARD MEMBER"
run 2 user get 005000000000001 --org acme --min-seq -1
has err "--min-seq takes"
# Every command's help has an example that names the command.
"$sbctl" --completion bash >"$work/c.bash"
groups=$(sed -n "s/^    \([a-z]*\)) verbs='\(.*\)' ;;$/\1:\2/p" "$work/c.bash")
n=0
while IFS=: read -r noun verbs; do
  for verb in $verbs; do
    "$sbctl" "$noun" "$verb" --help >"$work/out" 2>&1
    n=$((n + 1))
    grep -q "^  sbctl $noun $verb" "$work/out" || fail "sbctl $noun $verb --help has no example"
  done
done <<<"$groups"
[ "$n" -ge 50 ] && ok || fail "only $n commands found in the completion script"

# Bash completion, as the shell calls it.
cat >"$work/t.bash" <<T
source "$src/tools/completion/sbctl.bash"
t() { COMP_WORDS=("\$@"); COMP_CWORD=\$((\${#COMP_WORDS[@]} - 1)); _sbctl; echo "\${COMPREPLY[*]}"; }
t sbctl mem
t sbctl member l
t sbctl -o json member list --call
t sbctl -o ""
t sbctl user import x.csv --data
T
bash "$work/t.bash" >"$work/comp" 2>&1
expected=$'member\nlist lookup\n--callcenter\ntable wide json csv name\n--data-loader'
[ "$(cat "$work/comp")" = "$expected" ] && ok || { fail "bash completion"; diff <(echo "$expected") "$work/comp" >&2; }
if command -v zsh >/dev/null; then
  zsh -n "$src/tools/completion/_sbctl" && ok || fail "_sbctl is not valid zsh"
fi

# cmake --install puts the man page and both scripts where man and the shells look.
if cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1; then ok; else
  fail "cmake --install"; tail -5 "$work/install.log" >&2; fi
for f in share/man/man1/sbctl.1 share/bash-completion/completions/sbctl share/zsh/site-functions/_sbctl; do
  [ -s "$work/prefix/$f" ] && ok || fail "not installed: $f"
done
if command -v man >/dev/null; then
  MANPATH="$work/prefix/share/man" man sbctl 2>/dev/null | grep -q "sbctl member add" && ok || fail "man sbctl does not show the commands"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
