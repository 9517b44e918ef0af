"""What the cluster tests (cluster_replica.py, cluster_shards.py, cluster_routing.py) share: their
checks' count, the skip without nats-server, three NATS nodes from
scripts/cluster on ports of their own, and switchboardd members started in a
temporary directory and waited for."""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from rpc_conn import Conn


class Checks:
    """check(ok, what): counts, and prints what failed."""

    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL:", what, file=sys.stderr)
        return ok


def skip_without_nats():
    if shutil.which("nats-server") is None:
        print("SKIPPED: nats-server is not installed (SB_WITH_CLUSTER=1 scripts/install-deps)")
        sys.exit(77)


def ports_free(base):
    """Whether the nine ports of three NATS nodes at `base` (scripts/cluster: BASE+1..3 for
    clients, +2001..3 for the cluster, +4001..3 for monitoring) can be bound on 127.0.0.1 now."""
    for offset in (1, 2, 3, 2001, 2002, 2003, 4001, 4002, 4003):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", base + offset))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_base(port_floor):
    """A base from `port_floor` up whose ports are free: a random one first, so that tests
    started together (ctest -j) do not pick the same, and a NATS cluster left over by another
    run is never joined (a test once found its shard made already, by another test's nodes)."""
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    # Bases less than 2000 apart: one test's client ports are never another's cluster or
    # monitoring ports (+2000, +4000), whatever the two bases; every test passes the same floor.
    for _ in range(200):
        base = port_floor + rng.randrange(0, 200) * 10
        if ports_free(base):
            return base
    raise SystemExit("no free ports for three NATS nodes from %d on" % port_floor)


class Cluster:
    """A temporary directory, three NATS nodes on free ports from `port_floor`
    (BASE+1..3, +2001..3, +4001..3; free_base), and the servers started in it."""

    def __init__(self, server, script, prefix, port_floor):
        self.server = server
        self.script = script
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.base = free_base(port_floor)
        self.env = dict(os.environ, SB_CLUSTER_PORT_BASE=str(self.base), TMPDIR=self.tmp)
        self.urls = ",".join("nats://127.0.0.1:%d" % (self.base + i) for i in (1, 2, 3))
        self.nats_dir = os.path.join(self.tmp, "nats")
        self.procs = {}

    def start_nats(self):
        subprocess.run([self.script, "start", self.nats_dir], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def start_server(self, name, *args, cluster=True):
        """Starts switchboardd on TMP/name (with --cluster unless told) and
        waits until its admin token authenticates: (data dir, socket)."""
        d = os.path.join(self.tmp, name)
        os.makedirs(d, mode=0o700, exist_ok=True)
        log = open(os.path.join(self.tmp, name + ".log"), "ab")
        extra = ["--cluster", self.urls] if cluster else []
        p = subprocess.Popen([self.server, "--data-dir", d, *extra, *args], stdout=log,
                             stderr=subprocess.STDOUT)
        sock = os.path.join(d, "switchboard.sock")
        deadline = time.time() + 45  # a replica waits up to 30 s for its consumer
        while time.time() < deadline:
            if p.poll() is not None:
                text = open(log.name).read()
                if "built without libnats" in text:
                    print("SKIPPED: switchboardd was built without libnats")
                    sys.exit(77)
                raise SystemExit("%s exited: %s" % (name, text[-2000:]))
            if os.path.exists(sock):
                try:
                    Conn(sock, open(os.path.join(d, "admin.token")).read().strip()).close()
                    break
                except (OSError, AssertionError):
                    pass
            time.sleep(0.05)
        self.procs[name] = p
        return d, sock

    def stop(self, failed):
        """Kills what still runs, stops the NATS nodes; keeps the directory when a check failed."""
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run([self.script, "stop", self.nats_dir], env=self.env,
                       stdout=subprocess.DEVNULL)
        if failed == 0:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print("kept for a look:", self.tmp, file=sys.stderr)
