#!/bin/sh
# The systemd unit, as cmake --install installs it, passes systemd-analyze
# verify without a single warning (verify says "ignoring" and still exits 0
# for a misspelt key or a bad value, so any output fails the test), and holds
# what docs/operating.md promises. No running systemd is needed.
#   usage: systemd_unit.sh BUILD_DIR
set -eu
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
unit="$work/prefix/lib/systemd/system/switchboardd.service"
[ -f "$unit" ] || { echo "FAIL: cmake --install put no unit at $unit"; exit 1; }
[ -f "$work/prefix/lib/sysusers.d/switchboard.conf" ] || { echo "FAIL: no sysusers.d file"; exit 1; }
# The unit names the configured prefix's server; verify checks that it is an
# executable, so it is pointed at the one just installed.
sed "s|^ExecStart=[^ ]*/switchboardd|ExecStart=$work/prefix/bin/switchboardd|" "$unit" \
    >"$work/switchboardd.service"
out=$(cd "$work" && systemd-analyze verify ./switchboardd.service 2>&1) || {
    echo "FAIL: systemd-analyze verify: $out"; exit 1; }
if [ -n "$out" ]; then
    echo "FAIL: systemd-analyze verify warns: $out"
    exit 1
fi
for line in Type=notify NotifyAccess=main User=switchboard ExecReload= WatchdogSec= \
            ProtectSystem=strict ReadWritePaths=/var/lib/switchboard NoNewPrivileges=yes \
            PrivateTmp=yes StateDirectory=switchboard; do
    grep -q "^$line" "$unit" || { echo "FAIL: the unit lacks $line"; exit 1; }
done
echo "the unit verifies"
