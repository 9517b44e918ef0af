#!/usr/bin/env bash
# Runs docs/operating.md's "Backup and restore" blocks as written, against a
# real server: the backup block (sbctl backup, sbctl verify), then the restore
# block (sbstore restore, sbstore verify), then starts a server on the
# restored directory, as the page says, and reads back what was written.
# usage: backup_doc.sh SWITCHBOARDD SBCTL SBSTORE OPERATING_MD
set -u
server=$1 sbctl=$2 sbstore=$3 page=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/sbbk.XXXXXX")
export HOME="$work" SB_DATA_DIR="$work/data"
mkdir -p "$work/bin"
ln -s "$sbctl" "$work/bin/sbctl"
ln -s "$sbstore" "$work/bin/sbstore"
ln -s "$server" "$work/bin/switchboardd"
export PATH="$work/bin:$PATH"
pids=()
failed=0

# shellcheck disable=SC2317 # called by the trap
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; failed=1; }

start() { # start DATA_DIR
  switchboardd --data-dir "$1" --durability none 2>>"$work/server.log" &
  pids+=($!)
  for _ in $(seq 200); do [ -S "$1/switchboard.sock" ] && [ -s "$1/admin.token" ] && return; sleep 0.05; done
  fail "no server came up on $1"; exit 1
}

block() { # block NAME: the page's ```sh NAME block
  awk -v name="$1" '$0 == "```sh " name {on=1; next} /^```/{on=0} on' "$page"
}

start "$SB_DATA_DIR"
sbctl org create acme >/dev/null || fail "org create"
sbctl user upsert --org acme --id 005000000000001 --name Ada >/dev/null || fail "user upsert"

for name in backup restore; do
  text=$(block "$name")
  [ -n "$text" ] || { fail "no \`\`\`sh $name block in $page"; continue; }
  if ! bash -e -c "$text" >"$work/$name.out" 2>&1; then
    fail "the $name block failed:"; sed 's/^/  | /' "$work/$name.out" >&2
  fi
done
grep -q 'every write up to change [1-9]' "$work/backup.out" || fail "sbctl backup printed no sequence"
grep -q '^clean: ' "$work/backup.out" || fail "sbctl verify did not say clean"
grep -q '^restored ' "$work/restore.out" || fail "sbstore restore did not say restored"
grep -q '^clean: ' "$work/restore.out" || fail "sbstore verify did not say clean"

# "start the server on it": the restored store serves what was backed up.
start "$HOME/switchboard-restored"
sbctl --data-dir "$HOME/switchboard-restored" user get --org acme 005000000000001 >"$work/get.out" 2>&1 ||
  fail "the restored server does not have user 005000000000001: $(cat "$work/get.out")"
grep -q Ada "$work/get.out" || fail "the restored user is not Ada"

[ $failed -eq 0 ] && echo "backup_doc: the page's backup and restore blocks work as written"
exit $failed
