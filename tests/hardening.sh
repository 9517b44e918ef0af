#!/usr/bin/env bash
# Checks that a built program carries the hardening of SB_HARDEN (issue 12):
#   PIE            ELF type DYN (a position-independent executable)
#   full RELRO     a GNU_RELRO segment and BIND_NOW (the GOT is read-only)
#   stack guard    it calls __stack_chk_fail (-fstack-protector-strong)
#   FORTIFY        it calls a fortified *_chk function (only when "fortify" is given:
#                  Debug and sanitizer builds go without it)
#   hardening.sh PROGRAM [fortify]
set -euo pipefail
prog=$1
fail() { echo "hardening: $prog: $*" >&2; exit 1; }
command -v readelf >/dev/null || fail "readelf is needed (binutils)"
readelf -h "$prog" | grep -Eq 'Type:[[:space:]]+DYN' || fail "not PIE (ELF type is not DYN)"
readelf -lW "$prog" | grep -q 'GNU_RELRO' || fail "no GNU_RELRO segment (no RELRO)"
readelf -dW "$prog" | grep -Eq '\((FLAGS|FLAGS_1)\).*\b(BIND_NOW|NOW)\b' ||
  fail "no BIND_NOW (partial RELRO only: link with -z now)"
syms=$(readelf -sW --dyn-syms "$prog")
grep -q '__stack_chk_fail' <<<"$syms" || fail "no __stack_chk_fail (no stack protector)"
if [ "${2:-}" = fortify ]; then
  grep -Eq '__[a-z_]+_chk(@|[[:space:]]|$)' <<<"$(grep -v __stack_chk <<<"$syms")" ||
    fail "no fortified function (*_chk): built without _FORTIFY_SOURCE?"
fi
echo "hardening: $prog: PIE, full RELRO, stack protector${2:+, FORTIFY}"
