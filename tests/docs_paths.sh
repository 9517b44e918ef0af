#!/usr/bin/env bash
# Every file or folder of the repository that README.md, bench/README.md and
# docs/*.md name exists: a path in backticks that starts with one of the
# repository's top folders (`core/layout.c`, `server/methods/`), and every
# relative link ([the store](docs/store.md), (plugins.md#isolation)). Files
# move (issue 13 moved 65); the pages must follow them.
# usage: docs_paths.sh SOURCE_DIR
set -eu
cd "$1"
top='(abi|bench|client|core|docs|index|plugins|scripts|server|store|tests|tools)/'
status=0 checked=0
for page in README.md bench/README.md docs/*.md; do
  dir=$(dirname "$page")
  # Paths in backticks, relative to the repository (as the pages write them).
  # shellcheck disable=SC2016 # the backticks are Markdown's, not the shell's
  while read -r path; do
    checked=$((checked + 1))
    # A pattern (`tests/unit/test_store_*.c`) must match at least one file.
    if ! compgen -G "$path" >/dev/null; then
      echo "$page names \`$path\`, which does not exist" >&2
      status=1
    fi
  done < <(grep -oE '`(\./)?[A-Za-z0-9_./*-]+`' "$page" | tr -d '`' | grep -E "^(\./)?$top" |
           sort -u)
  # Links, relative to the page; anchors and other sites aside.
  while read -r link; do
    target=${link%%#*}
    [ -n "$target" ] || continue
    checked=$((checked + 1))
    if [ ! -e "$dir/$target" ]; then
      echo "$page links to $link, which does not exist" >&2
      status=1
    fi
  done < <(grep -oE '\]\([^) ]+\)' "$page" | sed -E 's/^\]\(//; s/\)$//' |
           grep -vE '^(https?:|mailto:|#)' | sort -u)
done
[ $status -ne 0 ] || echo "docs_paths: the $checked paths and links the pages name exist"
exit $status
