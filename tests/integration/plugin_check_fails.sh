#!/usr/bin/env bash
# sb-plugin-check fails each bad mock plugin, for the right reason, and survives it.
# usage: plugin_check_fails.sh SB_PLUGIN_CHECK MOCK_DIR
set -u
check=$1 dir=$2
passed=0 failed=0
expect() { # expect PLUGIN TEXT
  out=$("$check" "$dir/$1.so" 2>&1)
  status=$?
  if [ "$status" -eq 1 ] && grep -q -- "$2" <<<"$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $1: exit $status, want 1 and '$2':" >&2
    sed 's/^/  | /' <<<"$out" >&2
  fi
}
expect wrong_major "refuses it (major check)"
expect too_short "refuses it (size check)"
expect missing_entry "refuses it (entry_points check)"
expect garbage "rendered no adapter_url"
expect crashing "call_event with a malformed event (case 2): it crashed"
expect hanging "claim with a Call Center with no items: it hung"
if "$check" "$dir/good.so" >/dev/null; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL: good.so does not pass" >&2; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
