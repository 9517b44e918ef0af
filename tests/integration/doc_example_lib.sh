# Sourced by index_example.sh and client_example.sh: a docs page's example
# program, as a user follows the page: install Switchboard into a temporary
# prefix, take the program out of the page, and build it with pkg-config.
# After doc_example_setup: $work (the temporary directory, removed at exit),
# $pid (a server the script starts there, killed at exit), PATH,
# PKG_CONFIG_PATH and SB_DATA_DIR pointing into it, and the shell in $work.

doc_example_setup() { # BUILD_DIR NAME
  work=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX")
  pid=
  trap doc_example_cleanup EXIT
  cmake --install "$1" --prefix "$work/prefix" >/dev/null
  export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" PATH="$work/prefix/bin:$PATH"
  export SB_DATA_DIR="$work/data"
  cd "$work"
}

doc_example_cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}

doc_example_build() { # PAGE BLOCK_TAG PKG_CONFIG_NAME PROGRAM [CFLAGS...]
  local page=$1 tag=$2 pc=$3 program=$4
  shift 4
  awk -v tag="$tag" '$0 == "```c " tag {on=1; next} /^```/{on=0} on' "$page" >"$work/$program.c"
  [ -s "$work/$program.c" ] || { echo "FAIL: no $tag block in $page" >&2; exit 1; }
  # A sanitizer build's library needs its runtime first: build the program the same way.
  local extra=() lib
  lib=$(ls "$work"/prefix/lib/lib"$pc".so)
  if ldd "$lib" | grep -q libasan; then extra=(-fsanitize=address,undefined); fi
  if ldd "$lib" | grep -q libtsan; then extra=(-fsanitize=thread); fi
  # The page's command, with those flags when they apply:
  # shellcheck disable=SC2046 # pkg-config's words are words on purpose
  cc "${extra[@]}" "$@" "$program.c" $(pkg-config --cflags --libs "$pc") -o "$program"
}
