#!/usr/bin/env bash
# libswitchboard-client exports exactly the functions its public header
# declares: none of the static libraries it links (the framer, core), none of
# client.h's internal part (sb_client_open, the JSON helpers), none missing.
# usage: client_exports.sh LIBRARY HEADER
set -eu
lib=$1 header=$2
exported=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
declared=$(grep -o '^[a-z].*\bsb_client_[a-z_]*(' "$header" | grep -o 'sb_client_[a-z_]*' | sort -u)
[ -n "$declared" ] || { echo "FAIL: no function found in $header" >&2; exit 1; }
if [ "$exported" != "$declared" ]; then
  echo "FAIL: exported and declared differ (< exported only, > declared only):" >&2
  diff <(echo "$exported") <(echo "$declared") >&2 ||
    { echo "exported: $exported" >&2; echo "declared: $declared" >&2; }
  exit 1
fi
echo "client exports: $(echo "$declared" | wc -l) functions, as declared"
