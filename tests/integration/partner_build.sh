#!/usr/bin/env bash
# A partner's path, as docs/plugins.md gives it: install Switchboard, then
# in an empty folder build the example adapter with two commands and check it.
# usage: partner_build.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 source=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/sbpartner.XXXXXX")
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
mkdir "$work/acme" && cp "$source/docs/examples/partner/acme_phone.c" "$work/acme/"
cd "$work/acme"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" PATH="$work/prefix/bin:$PATH"
# The two commands of docs/plugins.md:
cc $(pkg-config --cflags --libs switchboard-adapter) acme_phone.c -o acme_phone.so
sb-plugin-check ./acme_phone.so
# One symbol exported, as the ABI asks.
[ "$(nm -D --defined-only acme_phone.so | awk '{print $3}')" = sb_adapter_v1 ]
# The installed server finds the installed bundled adapters.
ls "$work/prefix/lib/switchboard/plugins/demo.so" >/dev/null
echo "partner build: 1 passed, 0 failed"
