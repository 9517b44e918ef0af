"""What the cluster tests share: starting one switchboardd member of a test
cluster (--cluster URLS and its role's flags) and waiting until it answers an
authenticated connection (cluster_replica.py, cluster_routing.py); skipping
without nats-server; counting checks (cluster_routing.py)."""
import os
import shutil
import subprocess
import sys
import time

from rpc_conn import Conn


def start_member(server, tmp, urls, name, *args):
    """Starts `server` on tmp/NAME (made 0700) logging to tmp/NAME.log; returns
    (process, data_dir, socket). Exits 77 (skipped) when the server was built
    without libnats; raises SystemExit with its log when it stops at start."""
    d = os.path.join(tmp, name)
    os.makedirs(d, mode=0o700, exist_ok=True)
    log = open(os.path.join(tmp, name + ".log"), "ab")
    p = subprocess.Popen([server, "--data-dir", d, "--cluster", urls, *args], stdout=log,
                         stderr=subprocess.STDOUT)
    sock = os.path.join(d, "switchboard.sock")
    deadline = time.time() + 20
    while time.time() < deadline:
        if p.poll() is not None:
            text = open(log.name).read()
            if "built without libnats" in text:
                print("SKIPPED: switchboardd was built without libnats")
                sys.exit(77)
            raise SystemExit("%s exited: %s" % (name, text[-2000:]))
        if os.path.exists(sock):
            try:
                c = Conn(sock, open(os.path.join(d, "admin.token")).read().strip())
                c.close()
                break
            except (OSError, AssertionError):
                pass
        time.sleep(0.05)
    return p, d, sock


def skip_without_nats():
    """Exits 77 (skipped) when nats-server is not installed."""
    if shutil.which("nats-server") is None:
        print("SKIPPED: nats-server is not installed (SB_WITH_CLUSTER=1 scripts/install-deps)")
        sys.exit(77)


class Checks:
    """Counts checks; a failed one is printed at once, the test goes on."""

    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL:", what, file=sys.stderr)
        return ok
