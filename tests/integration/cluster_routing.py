#!/usr/bin/python3
"""Routing through the placement map: sbctl --cluster and libswitchboard-client.

  1. scripts/cluster starts three nats-server nodes; the helper creates the
     SB_placement bucket; two shards start with one admin token: s1 (a
     primary) and s2 (a primary and a replica from its backup). They write
     their own shard.* and member.* keys (named by --member; cluster.show shows them);
  2. sbctl --cluster (only the NATS URLs and SB_TOKEN) creates org acme with
     --shard s2: it is on s2's primary, not on s1; a write goes to s2's
     primary (its log), reads through one client handle go to the primary
     and the replica in turn (the members' request logs show them);
  3. (fake members on fake shards s9/s3, the test's keys) shard.s9 names a refusing fake: a write answered NOT_PRIMARY is
     retried once the bucket names the real primary again (the replica's log
     shows the refused write, the primary's the one that took); with no
     newer placement the write ends in NOT_PRIMARY, returned as is;
     a member scripted as a server in a move (a fake on its own socket)
     answers ORG_MOVING twice (the write is retried after a back-off) and
     MOVED (the read is retried once the org's key names its new shard);
  4. an org in no shard is refused locally with NO_ROUTE; org create in a
     cluster without --shard is a usage error;
  5. the replica killed, reads through one handle go on, on the primary;
  6. a real sbctl org move acme s2 -> s1 (--to-socket): a routed read ends in MOVED, bounded.

usage: cluster_routing.py SWITCHBOARDD SBCTL SBSTORE SCRIPTS_CLUSTER HELPER
Exits 77 (skipped) without nats-server, or when built without libnats.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from cluster_harness import Checks, Cluster, skip_without_nats
import msgpack
from rpc_conn import Conn

SERVER, SBCTL, SBSTORE, CLUSTER, HELPER = sys.argv[1:6]
check = Checks()
skip_without_nats()
if HELPER == "none":
    print("SKIPPED: built without libnats (no cluster mode in the client)")
    sys.exit(77)

cl = Cluster(SERVER, CLUSTER, "sb-routing-", 24000)
tmp, env, urls, nats_dir = cl.tmp, cl.env, cl.urls, cl.nats_dir
procs = cl.procs
logs = {}


def start_server(name, *args, token_from=None):
    """A member with the cluster's admin token (copied from token_from's data directory), its
    requests in its log (--log-level debug) for the test to count."""
    if token_from is not None:
        os.makedirs(os.path.join(tmp, name), mode=0o700, exist_ok=True)
        shutil.copy(os.path.join(token_from, "admin.token"), os.path.join(tmp, name))
    logs[name] = os.path.join(tmp, name + ".log")
    return cl.start_server(name, "--log-level", "debug", "--log-format", "text", *args)


def helper(*args, check_rc=True):
    r = subprocess.run([HELPER, urls, *args], env=dict(os.environ, SB_TOKEN=token),
                       capture_output=True, text=True, timeout=60)
    if check_rc and r.returncode != 0:
        print("helper %r: %s" % (args, r.stderr), file=sys.stderr)
    return r


def put(key, value):
    r = helper("put", key, value)
    check(r.returncode == 0, "put %s" % key)


def sbctl(*args):
    return subprocess.run([SBCTL, "--cluster", urls, *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, SB_TOKEN=token, SB_DATA_DIR=tmp))


def log_count(name, needle):
    return open(logs[name]).read().count(needle)


def member(name, shard, sock, role):
    put("member." + name, '{"shard": "%s", "socket": "%s", "role": "%s", "epoch": 1, '
        '"applied": 0, "updated_ms": 0}' % (shard, sock, role))


class FakeMember:
    """A member that answers as a server in the middle of a move would: each method's
    scripted refusals first ({"user.upsert": ["ORG_MOVING", "ORG_MOVING"]}), then {}."""

    CODES = {"ORG_MOVING": 58, "MOVED": 57, "NOT_PRIMARY": 54}

    def __init__(self, path, script):
        self.path, self.script, self.seen = path, script, []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(conn,), daemon=True).start()

    def one(self, conn):
        unpacker = msgpack.Unpacker(raw=False)
        while True:
            data = conn.recv(65536)
            if not data:
                return
            unpacker.feed(data)
            for _, msgid, method, params in unpacker:
                self.seen.append(method)
                queue = self.script.get(method, [])
                name = queue.pop(0) if queue else None
                err = None if name is None else {
                    "code": self.CODES[name], "name": name, "message": "scripted " + name}
                conn.sendall(msgpack.packb([1, msgid, err, None if err else {}]))


token = ""
try:
    subprocess.run([CLUSTER, "start", nats_dir], env=env, check=True, stdout=subprocess.DEVNULL)
    s1_dir, s1_sock = start_server("s1-a", "--shard", "s1", "--member", "s1-a")
    token = open(os.path.join(s1_dir, "admin.token")).read().strip()
    s2_dir, s2_sock = start_server("s2-a", "--shard", "s2", "--member", "s2-a",
                                  token_from=s1_dir)
    # s2's replica from a hot backup of its primary, with the cluster's admin token.
    backup = os.path.join(tmp, "s2.sbk")
    subprocess.run([SBCTL, "--socket", s2_sock, "backup", backup], check=True,
                   env=dict(os.environ, SB_TOKEN=token), stdout=subprocess.DEVNULL)
    rep_dir = os.path.join(tmp, "s2-b")
    subprocess.run([SBSTORE, "restore", backup, rep_dir], check=True, stdout=subprocess.DEVNULL)
    os.chmod(rep_dir, 0o700)
    rep_dir, rep_sock = start_server("s2-b", "--replica-of", "s2", "--member", "s2-b",
                                    token_from=s1_dir)

    # The servers registered themselves (cluster_harness waits for each); the bucket must
    # say what they are: shard.s2 names s2-a as primary and s2-b among its replicas.
    deadline = time.time() + 20
    while True:
        c = Conn(s1_sock, token)
        err, show = c.call("cluster.show", {})
        c.close()
        shards = {x["shard"]: x for x in (show or {}).get("shards", [])}
        roles = {m["member"]: m["role"] for m in (show or {}).get("members", [])}
        ok = (err is None and shards.get("s2", {}).get("primary") == "s2-a" and
              shards["s2"].get("replicas") == ["s2-b"] and
              shards.get("s1", {}).get("primary") == "s1-a" and
              roles == {"s1-a": "primary", "s2-a": "primary", "s2-b": "replica"})
        if ok or time.time() > deadline:
            break
        time.sleep(0.2)
    check(ok, "the members wrote their own placement: %r %r" % (err, show))

    # 2. The org, on s2 (only NATS URLs and the token: SB_DATA_DIR points nowhere useful).
    r = sbctl("org", "create", "acme", "--name", "Acme", "--shard", "s2")
    check(r.returncode == 0, "sbctl --cluster org create --shard s2: %s" % r.stderr)
    c = Conn(s2_sock, token)
    err, _ = c.call("org.get", {"org": "acme"})
    check(err is None, "acme is on s2's primary: %r" % (err,))
    c.close()
    c = Conn(s1_sock, token)
    err, _ = c.call("org.get", {"org": "acme"})
    check(err is not None, "acme is not on s1")
    c.close()
    c = Conn(s1_sock, token)
    err, show = c.call("cluster.show", {})
    c.close()
    acme_on = {x["shard"]: x.get("orgs") for x in (show or {}).get("shards", [])}
    check(err is None and acme_on.get("s2") == 1 and acme_on.get("s1") == 0,
          "org.create wrote org.acme naming s2: %r" % (show,))

    uid = "005000000000001AAA"
    before = log_count("s2-a", "method=user.upsert")
    r = sbctl("user", "upsert", "--org", "acme", "--id", uid, "--name", "Ada")
    check(r.returncode == 0, "sbctl --cluster user upsert: %s" % r.stderr)
    check(log_count("s2-a", "method=user.upsert") == before + 1, "the write went to s2's primary")
    check(log_count("s2-b", "method=user.upsert") == 0 and log_count("s1-a", "method=user.upsert") == 0,
          "and nowhere else")
    # The replica has it before reads go there.
    deadline = time.time() + 10
    while time.time() < deadline:
        c = Conn(rep_sock, token)
        err, _ = c.call("user.get", {"org": "acme", "id": uid})
        c.close()
        if err is None:
            break
        time.sleep(0.1)
    r = sbctl("user", "get", uid, "--org", "acme")
    check(r.returncode == 0 and "Ada" in r.stdout, "sbctl --cluster user get: %r" % (r.stdout,))

    reads_a, reads_b = log_count("s2-a", "method=user.get"), log_count("s2-b", "method=user.get")
    r = helper("call", "6", "user.get", '{"org": "acme", "id": "%s"}' % uid)
    served = [l.split()[0] for l in r.stdout.splitlines()]
    check(r.returncode == 0 and len(served) == 6, "six reads through one handle: %r" % r.stdout)
    check(served.count("s2-a") == 3 and served.count("s2-b") == 3,
          "reads alternate over the primary and the replica: %r" % served)
    check(log_count("s2-a", "method=user.get") - reads_a == 3 and
          log_count("s2-b", "method=user.get") - reads_b >= 3,
          "each member's log shows its reads")
    check(log_count("s1-a", "method=user.get") == 0, "no read went to s1")

    # 3. NOT_PRIMARY: a real primary never answers it while the bucket names it (it follows the
    # bucket), so a scripted shard s9 does: np1 refuses every write; the write it refused is
    # retried once shard.s9 names np2. These keys are the fakes' own (no server writes them).
    np1 = FakeMember(os.path.join(tmp, "np1.sock"), {"user.upsert": ["NOT_PRIMARY"] * 100})
    np2 = FakeMember(os.path.join(tmp, "np2.sock"), {})
    member("np1", "s9", np1.path, "primary")
    member("np2", "s9", np2.path, "primary")
    put("shard.s9", '{"epoch": 1, "primary": "np1", "replicas": [], "number": 9}')
    put("org.np", '{"shard": "s9", "state": "serving"}')
    time.sleep(0.3)
    p = subprocess.Popen([HELPER, urls, "call", "1", "user.upsert",
                          '{"org": "np", "id": "%s", "name": "Grace"}' % uid],
                         env=dict(os.environ, SB_TOKEN=token), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline and "user.upsert" not in np1.seen:
        time.sleep(0.02)
    check("user.upsert" in np1.seen, "np1 refused the write first: %r" % np1.seen)
    put("shard.s9", '{"epoch": 2, "primary": "np2", "replicas": ["np1"], "number": 9}')
    out, errtext = p.communicate(timeout=30)
    check(p.returncode == 0 and out.split()[:2] == ["np2", "0"],
          "after NOT_PRIMARY the write was retried on the new primary: %r %r" % (out, errtext))
    check(np2.seen.count("user.upsert") == 1, "np2 took it once: %r" % np2.seen)

    # With no newer placement, NOT_PRIMARY comes back as it is (after a few bounded waits).
    put("shard.s9", '{"epoch": 3, "primary": "np1", "replicas": ["np2"], "number": 9}')
    time.sleep(0.3)
    t0 = time.time()
    r = sbctl("user", "upsert", "--org", "np", "--id", uid, "--name", "Lin")
    took = time.time() - t0
    check(r.returncode == 1 and "NOT_PRIMARY" in r.stderr,
          "NOT_PRIMARY is returned when no placement fixes it: %r" % r.stderr)
    check(took < 15, "bounded: %.1f s" % took)

    # One connection for a whole command: every page of a list, from one member of s2; a
    # backup from the first primary (a command without an org).
    r = sbctl("user", "list", "--org", "acme", "--all", "-o", "name")
    check(r.returncode == 0 and uid in r.stdout, "sbctl --cluster user list --all: %r %r" %
          (r.stdout, r.stderr))
    r = sbctl("backup", os.path.join(tmp, "routed.sbk"))
    check(r.returncode == 0 and os.path.getsize(os.path.join(tmp, "routed.sbk")) > 0,
          "sbctl --cluster backup: %r" % r.stderr)

    # ORG_MOVING: backed off and retried until the member takes the write.
    fake = FakeMember(os.path.join(tmp, "fake.sock"),
                      {"user.upsert": ["ORG_MOVING", "ORG_MOVING"], "user.get": ["MOVED"] * 20})
    put("shard.s3", '{"epoch": 1, "primary": "fake", "replicas": [], "number": 3}')
    member("fake", "s3", fake.path, "primary")
    put("org.mover", '{"shard": "s3", "state": "moving", "to": "s2"}')
    r = helper("call", "1", "user.upsert", '{"org": "mover", "id": "%s", "name": "M"}' % uid)
    check(r.returncode == 0 and r.stdout.split()[:2] == ["fake", "0"] and
          fake.seen.count("user.upsert") == 3,
          "ORG_MOVING is retried: %r %r %r" % (r.stdout, r.stderr, fake.seen))
    # MOVED: org.mv (a fake org: org.acme is the servers' key) names s3, whose member answers
    # MOVED; once it names s1, the read is retried there (s1 answers, without the org).
    put("org.mv", '{"shard": "s3", "state": "serving"}')
    time.sleep(0.3)
    p = subprocess.Popen([HELPER, urls, "call", "1", "user.get",
                          '{"org": "mv", "id": "%s"}' % uid],
                         env=dict(os.environ, SB_TOKEN=token), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline and "user.get" not in fake.seen:
        time.sleep(0.02)
    put("org.mv", '{"shard": "s1", "state": "serving"}')
    out, errtext = p.communicate(timeout=30)
    # The fake may be asked again before the put lands: any newer revision of the map (a
    # member's report every 2 s) ends the client's wait, and it routes by that map, at most
    # three times (REFRESH_TRIES); a TSan run saw two.
    check(out.split()[:1] == ["s1-a"] and "MOVED" not in out and
          1 <= fake.seen.count("user.get") <= 3,
          "after MOVED the read was retried on the org's new shard: %r %r" % (out, errtext))

    # 4. Refused locally.
    r = sbctl("user", "get", uid, "--org", "nowhere")
    check(r.returncode == 1 and "NO_ROUTE" in r.stderr, "an org in no shard: %r" % r.stderr)
    r = sbctl("org", "create", "beta")
    check(r.returncode == 2 and "--shard" in r.stderr, "org create needs --shard: %r" % r.stderr)
    r = sbctl("server", "info", "--json")
    check(r.returncode == 0 and s1_dir in r.stdout,
          "a command without an org goes to the first primary: %r" % r.stdout[:200])
    r = subprocess.run([SBCTL, "--cluster", urls, "--member", "s2-b", "server", "info", "--json"],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, SB_TOKEN=token))
    check(r.returncode == 0 and rep_dir in r.stdout, "--member picks the member: %r" % r.stderr)

    # 5. A dead replica: reads go on, on the primary; first with the replica's connection open
    # (the call fails on it, and is retried), then with a new handle (the connect fails).
    p = subprocess.Popen([HELPER, urls, "call", "8", "user.get",
                          '{"org": "acme", "id": "%s"}' % uid, "-", "300"],
                         env=dict(os.environ, SB_TOKEN=token), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    first = [p.stdout.readline().split()[:1] for _ in range(2)]
    procs["s2-b"].send_signal(signal.SIGKILL)
    procs["s2-b"].wait()
    rest, errtext = p.communicate(timeout=30)
    served = [l.split()[0] for l in rest.splitlines()]
    check(sorted(first) == [["s2-a"], ["s2-b"]], "both members served before: %r" % first)
    check(p.returncode == 0 and served == ["s2-a"] * 6,
          "reads on a dead replica's connection are retried on the primary: %r %r" %
          (rest, errtext))
    r = helper("call", "4", "user.get", '{"org": "acme", "id": "%s"}' % uid)
    served = [l.split()[0] for l in r.stdout.splitlines()]
    check(r.returncode == 0 and served == ["s2-a"] * 4,
          "reads with the replica dead are served by the primary: %r %r" % (r.stdout, r.stderr))

    # 6. A real move: sbctl org move acme from s2's primary to s1's (--to-socket). s2 then
    # answers MOVED for acme (the real server's answer). The move by socket does not switch
    # org.acme (sbctl org move --to SHARD will), so no newer placement comes: a routed read
    # ends, bounded, in MOVED naming s1's socket; the data is on s1.
    r = subprocess.run([SBCTL, "--socket", s2_sock, "org", "move", "acme", "--to-socket", s1_sock],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, SB_TOKEN=token))
    check(r.returncode == 0, "sbctl org move acme to s1: %r" % r.stderr)
    t0 = time.time()
    r = sbctl("user", "get", uid, "--org", "acme")
    took = time.time() - t0
    check(r.returncode == 1 and "MOVED" in r.stderr and s1_sock in r.stderr and took < 15,
          "a routed read of the moved org ends in MOVED, in %.1f s: %r" % (took, r.stderr))
    c = Conn(s1_sock, token)
    err, _ = c.call("user.get", {"org": "acme", "id": uid})
    c.close()
    check(err is None, "acme's user is on s1 after the move: %r" % (err,))
finally:
    for p in procs.values():
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    subprocess.run([CLUSTER, "stop", nats_dir], env=env, stdout=subprocess.DEVNULL)

print("cluster_routing: %d passed, %d failed" % (check.passed, check.failed))
if check.failed == 0:
    shutil.rmtree(tmp, ignore_errors=True)
else:
    print("logs kept in", tmp)
sys.exit(1 if check.failed else 0)
