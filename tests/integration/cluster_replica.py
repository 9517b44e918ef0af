#!/usr/bin/python3
"""A shard's primary and its replica on a three-node NATS JetStream cluster.

  1. scripts/cluster starts three nats-server nodes on 127.0.0.1; a primary
     (--shard s1) starts on an empty store; a replica bootstraps from the
     primary's hot backup (sbctl backup, sbstore restore) and follows;
  2. four writers upsert users on the primary, recording every acknowledged
     write; meanwhile the replica is killed with -9 and restarted, and one
     NATS node is killed with -9 (the test prints the longest write stall);
  3. a write refused on the replica answers NOT_PRIMARY; a second member
     started with --shard s1 is a replica (the placement bucket names the
     primary); promoted with cluster.promote, it takes writes, and the
     running first primary refuses writes (NOT_PRIMARY) and follows as a
     replica from then on; a read with the
     write's min_seq on the replica sees the write; a min_seq past the log
     answers REPLICA_BEHIND after --min-seq-wait-ms (2 s here), also through
     sbctl's --min-seq; a watcher on
     the replica gets the primary's write; a token revoked on the primary
     closes its connection to the replica;
  4. then: every acknowledged write is on the replica, both have the same
     applied sequence, and, servers stopped, every database but meta is
     byte for byte the same on the replica, the new primary and the old one (mdb_dump): the change log's entries
     are the same, with no gap and none twice; sbstore verify passes on both.

usage: cluster_replica.py SWITCHBOARDD SBCTL SBSTORE SCRIPTS_CLUSTER
Exits 77 (skipped) when nats-server is not installed, or switchboardd was
built without libnats.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from cluster_harness import Checks, Cluster, skip_without_nats
from rpc_conn import Conn

SERVER, SBCTL, SBSTORE, CLUSTER = sys.argv[1:5]
WRITE_SECONDS = 6.0
check = Checks()
skip_without_nats()
cl = Cluster(SERVER, CLUSTER, "sb-cluster-", 24000)
tmp, base, procs, nats_dir = cl.tmp, cl.base, cl.procs, cl.nats_dir


def start_server(name, *args):
    return cl.start_server(name, "--min-seq-wait-ms", "2000", *args)


def info(sock, token):
    c = Conn(sock, token)
    err, res = c.call("server.info", {})
    c.close()
    return res


try:
    cl.start_nats()
    metrics_port = base + 5000
    prim_dir, prim_sock = start_server("primary", "--shard", "s1", "--metrics-address",
                                       "127.0.0.1:%d" % metrics_port)
    token = open(os.path.join(prim_dir, "admin.token")).read().strip()
    c = Conn(prim_sock, token)
    err, _ = c.call("org.create", {"org": "acme", "name": "Acme"})
    check(err is None, "org.create on the primary: %r" % (err,))
    for i in range(20):
        err, _ = c.call("user.upsert", {"org": "acme", "id": "005B%011d" % i,
                                        "name": "before %d" % i})
        check(err is None, "a write before the backup: %r" % (err,))
    # A Call Center with a member: its softphone view is in the backup, and a
    # replica starting on it must not write views of its own (a write on a
    # replica is refused, and the start with it).
    err, _ = c.call("callcenter.create", {
        "org": "acme", "internal_name": "Support", "display_name": "Support",
        "adapter_url": "https://cti.example.com", "softphone_height": 400,
        "softphone_width": 300, "compatibility_mode": "Lightning"})
    check(err is None, "callcenter.create on the primary: %r" % (err,))
    err, _ = c.call("member.add", {"org": "acme", "callcenter": "Support",
                                   "user": "005B%011d" % 0})
    check(err is None, "member.add on the primary: %r" % (err,))
    c.close()

    # The replica: a hot backup of the primary, restored, with its admin token.
    backup = os.path.join(tmp, "s1.sbk")
    subprocess.run([SBCTL, "--socket", prim_sock, "backup", backup], check=True,
                   env=dict(os.environ, SB_TOKEN=token), stdout=subprocess.DEVNULL)
    rep_dir = os.path.join(tmp, "replica")
    subprocess.run([SBSTORE, "restore", backup, rep_dir], check=True, stdout=subprocess.DEVNULL)
    os.chmod(rep_dir, 0o700)
    shutil.copy(os.path.join(prim_dir, "admin.token"), rep_dir)
    rep_dir, rep_sock = start_server("replica", "--replica-of", "s1")
    r = info(rep_sock, token)
    check(r["cluster"]["role"] == "replica", "the replica says so: %r" % (r.get("cluster"),))

    acked = {}  # user id -> (name, seq)
    lock = threading.Lock()
    stop = threading.Event()
    stalls = []
    errors = {}

    def writer(k):
        conn = Conn(prim_sock, token)
        n = 0
        worst = 0.0
        while not stop.is_set():
            uid = "005%d%011dAAA" % (k, n)
            name = "w%d-%d" % (k, n)
            t0 = time.time()
            err, res = conn.call("user.upsert", {"org": "acme", "id": uid, "name": name})
            worst = max(worst, time.time() - t0)
            n += 1
            with lock:
                if err is None:
                    acked[uid] = (name, res["seq"])
                else:
                    errors[err["name"]] = errors.get(err["name"], 0) + 1
        stalls.append(worst)
        conn.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    started = time.time()
    for t in threads:
        t.start()
    time.sleep(1.0)
    procs["replica"].send_signal(signal.SIGKILL)
    procs["replica"].wait()
    time.sleep(0.5)
    start_server("replica", "--replica-of", "s1")
    time.sleep(0.5)
    with open(os.path.join(nats_dir, "n1.pid")) as f:
        os.kill(int(f.read()), signal.SIGKILL)  # one NATS node of three
    killed_at = time.time()
    while time.time() - started < WRITE_SECONDS:
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    print("%d acknowledged writes in %.1f s; refused: %r; the longest write took %.2f s "
          "(a NATS node killed %.1f s in)" % (len(acked), time.time() - started, errors,
                                               max(stalls), killed_at - started))
    check(len(acked) > 100, "the primary took writes while a node was down")

    # The replica catches up.
    last = info(prim_sock, token)["changes"]["last_seq"]
    t0 = time.time()
    deadline = t0 + 30
    while time.time() < deadline and info(rep_sock, token)["cluster"]["applied_seq"] < last:
        time.sleep(0.05)
    print("the replica caught up with change %d %.2f s after the writers stopped" %
          (last, time.time() - t0))

    # Writes on the replica are refused; read-your-writes with min_seq.
    rc = Conn(rep_sock, token)
    err, _ = rc.call("user.upsert", {"org": "acme", "id": "005999999999999AAA", "name": "x"})
    check(err is not None and err["name"] == "NOT_PRIMARY", "a write on the replica: %r" % (err,))
    pc = Conn(prim_sock, token)
    err, res = pc.call("user.upsert", {"org": "acme", "id": "005888888888888AAA", "name": "ryw"})
    check(err is None, "a write on the primary after the faults: %r" % (err,))
    if err is None:
        acked["005888888888888AAA"] = ("ryw", res["seq"])
        err, got = rc.call("user.get", {"org": "acme", "id": "005888888888888AAA",
                                        "min_seq": res["seq"]})
        check(err is None and got["name"] == "ryw", "read-your-writes on the replica: %r" % (err,))
    t0 = time.time()
    err, _ = rc.call("user.get", {"org": "acme", "id": "005888888888888AAA",
                                  "min_seq": 1 << 40})
    waited = time.time() - t0
    check(err is not None and err["name"] == "REPLICA_BEHIND" and 1.9 <= waited < 15,
          "a min_seq past the log: %r after %.2f s" % (err, waited))
    # The same through sbctl: --min-seq N on any read.
    sb_env = dict(os.environ, SB_TOKEN=token)
    if "005888888888888AAA" in acked:
        seq = acked["005888888888888AAA"][1]
        got = subprocess.run([SBCTL, "--socket", rep_sock, "user", "get", "005888888888888AAA",
                              "--org", "acme", "--min-seq", str(seq), "--json"], env=sb_env,
                             capture_output=True, text=True, timeout=30)
        check(got.returncode == 0 and '"ryw"' in got.stdout,
              "sbctl user get --min-seq %d on the replica: %s %s" % (seq, got.stdout, got.stderr))
    behind = subprocess.run([SBCTL, "--socket", rep_sock, "user", "get", "005888888888888AAA",
                             "--org", "acme", "--min-seq", str(1 << 40)], env=sb_env,
                            capture_output=True, text=True, timeout=30)
    check(behind.returncode == 1 and "REPLICA_BEHIND" in behind.stderr,
          "sbctl --min-seq past the log: %d %s" % (behind.returncode, behind.stderr))
    # A watcher on the replica gets a write made on the primary.
    wc = Conn(rep_sock, token)
    err, _ = wc.call("changes.watch", {"org": "acme"})
    check(err is None, "changes.watch on the replica: %r" % (err,))
    err, _ = pc.call("user.upsert", {"org": "acme", "id": "005555555555555AAA", "name": "watched"})
    if err is None:
        acked["005555555555555AAA"] = ("watched", 0)
    got = None
    wc.sock.settimeout(0.2)
    deadline = time.time() + 10
    while got is None and time.time() < deadline:
        for msg in wc.unpacker:
            if msg[0] == 2 and msg[1] == "changes":
                got = msg[2]
                break
        if got is None:
            try:
                wc.unpacker.feed(wc.sock.recv(1 << 16))
            except socket.timeout:
                pass
    check(got is not None and got.get("method") == "user.upsert",
          "the replica's watcher got the primary's write: %r" % (got,))
    wc.close()

    # An org's token has no seq to wait for (it counts every org's writes).
    err, made = pc.call("token.create", {"org": "acme", "role": "read_only"})
    check(err is None, "token.create: %r" % (err,))
    if err is None:
        err, _ = rc.call("user.get", {"org": "acme", "id": "005888888888888AAA",
                                      "min_seq": made["seq"]})  # the admin's: waits for it
        oc = Conn(rep_sock, made["token"])
        err, _ = oc.call("user.get", {"org": "acme", "id": "005888888888888AAA", "min_seq": 1})
        check(err is not None and err["name"] == "ACCESS_DENIED",
              "min_seq with an org's token: %r" % (err,))
        err, r = oc.call("server.info", {})
        check(err is None and "cluster" not in r, "an org's token sees no cluster: %r" % (r,))
        # Revoked on the primary: the replica closes its connections too.
        err, res = pc.call("token.revoke", {"id": made["id"]})
        check(err is None, "token.revoke: %r" % (err,))
        closed = False
        deadline = time.time() + 10
        while not closed and time.time() < deadline:
            try:
                err, _ = oc.call("user.get", {"org": "acme", "id": "005888888888888AAA"})
            except OSError as e:  # the close came first
                err = {"name": "CLOSED", "error": str(e)}
            closed = err is not None and err.get("name") == "CLOSED"
            if not closed:
                time.sleep(0.1)
        check(closed, "the replica closed the revoked token's connection: %r" % (err,))
        oc.close()
        try:
            Conn(rep_sock, made["token"])
            check(False, "the revoked token authenticates on the replica")
        except AssertionError:
            pass
    pc.close()
    last = info(prim_sock, token)["changes"]["last_seq"]
    deadline = time.time() + 10
    while time.time() < deadline and info(rep_sock, token)["cluster"]["applied_seq"] < last:
        time.sleep(0.05)
    r = info(rep_sock, token)
    check(r["cluster"]["applied_seq"] == last and r["changes"]["last_seq"] == last,
          "same applied sequence: primary %d, replica %r" % (last, r["cluster"]))
    check(r["cluster"]["error"] == "", "the replica follows: %r" % (r["cluster"],))
    # A second member of the shard started with --shard s1 (from the same
    # backup) is a replica: the placement bucket names the primary. Promoted
    # with cluster.promote while the first primary runs, it takes writes;
    # the first one sees the bucket (or its next publish is refused), takes
    # no more writes and follows the stream as a replica by itself.
    p2_dir = os.path.join(tmp, "primary2")
    subprocess.run([SBSTORE, "restore", backup, p2_dir], check=True, stdout=subprocess.DEVNULL)
    os.chmod(p2_dir, 0o700)
    shutil.copy(os.path.join(prim_dir, "admin.token"), p2_dir)
    p2_dir, p2_sock = start_server("primary2", "--shard", "s1")
    r = info(p2_sock, token)
    check(r["cluster"]["role"] == "replica" and r["cluster"]["primary"] == "s1-primary",
          "a second --shard s1 starts as a replica: %r" % (r["cluster"],))
    p2 = Conn(p2_sock, token)
    err, res = p2.call("user.upsert", {"org": "acme", "id": "005777777777777AAA", "name": "p2"})
    check(err is not None and err["name"] == "NOT_PRIMARY" and "s1-primary" in err["message"],
          "a write on it names the primary: %r" % (err,))
    err, res = None, None
    deadline = time.time() + 10  # until member.s1-primary2 reports it follows
    while time.time() < deadline:
        err, res = p2.call("cluster.promote", {"shard": "s1", "member": "s1-primary2"})
        if err is None or err["name"] != "PROMOTE_REFUSED":
            break
        time.sleep(0.2)
    check(err is None and res["epoch"] == 2 and res["old_primary"] == "s1-primary",
          "cluster.promote: %r %r" % (err, res))
    deadline = time.time() + 10
    while time.time() < deadline:
        err, res = p2.call("user.upsert", {"org": "acme", "id": "005777777777777AAA",
                                           "name": "p2"})
        if err is None:
            break
        time.sleep(0.05)
    check(err is None, "a write on the new primary: %r" % (err,))
    if err is None:
        acked["005777777777777AAA"] = ("p2", res["seq"])
    p2.close()
    pc = Conn(prim_sock, token)
    for attempt in range(2):
        err, _ = pc.call("user.upsert", {"org": "acme", "id": "005666666666666AAA",
                                         "name": "old"})
        check(err is not None and err["name"] == "NOT_PRIMARY",
              "write %d on the old primary is refused: %r" % (attempt + 1, err))
    pc.close()
    last = info(p2_sock, token)["changes"]["last_seq"]
    # Its consumer is made after the fence: JetStream may still be electing
    # after the NATS node killed above (15 s and more seen on a loaded machine).
    deadline = time.time() + 40
    while time.time() < deadline and (info(prim_sock, token)["cluster"]["applied_seq"] < last or
                                      info(prim_sock, token)["cluster"]["role"] != "replica"):
        time.sleep(0.05)
    r = info(prim_sock, token)
    check(r["cluster"]["role"] == "replica" and r["cluster"]["applied_seq"] == last,
          "the old primary follows as a replica: %r (the new one is at %d)" % (r["cluster"], last))
    metrics = ""
    deadline = time.time() + 5  # the gauges are sampled once a second
    while time.time() < deadline and 'role="replica"' not in metrics:
        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port,
                                         timeout=5).read().decode()
        time.sleep(0.2)
    check('switchboard_cluster_role{shard="s1",member="s1-primary",role="replica"} 1' in metrics
          and "switchboard_cluster_epoch 2\n" in metrics,
          "the old primary's metrics: %r" % [l for l in metrics.splitlines()
                                             if l.startswith("switchboard_cluster")])
    deadline = time.time() + 10
    while time.time() < deadline and info(rep_sock, token)["cluster"]["applied_seq"] < last:
        time.sleep(0.05)
    check(info(rep_sock, token)["cluster"]["applied_seq"] == last,
          "the replica follows the new primary")

    missing = 0
    for uid, (name, seq) in sorted(acked.items()):
        err, got = rc.call("user.get", {"org": "acme", "id": uid})
        if err is not None or got["name"] != name:
            missing += 1
    check(missing == 0, "%d of %d acknowledged writes are missing on the replica" %
          (missing, len(acked)))
    rc.close()

    # Stopped: the same content, database by database (the change log too).
    # (the new primary's, the replica's and the old primary's, which follows).
    for name in ("primary", "primary2", "replica"):
        procs[name].send_signal(signal.SIGTERM)
        check(procs[name].wait(timeout=30) == 0, "%s stops cleanly" % name)
    dbs = subprocess.run(["mdb_dump", "-l", p2_dir], check=True, capture_output=True,
                         text=True).stdout.split()
    check("changes" in dbs and "users" in dbs, "mdb_dump lists the databases: %r" % (dbs,))
    for db in dbs:
        if db == "meta":
            continue  # the store's own counters (reclaimed pages) may differ
        a = subprocess.run(["mdb_dump", "-s", db, p2_dir], capture_output=True).stdout
        b = subprocess.run(["mdb_dump", "-s", db, rep_dir], capture_output=True).stdout
        o = subprocess.run(["mdb_dump", "-s", db, prim_dir], capture_output=True).stdout
        check(a == b, "database %s differs between the primary and the replica" % db)
        check(a == o, "database %s differs between the primary and the old primary" % db)
    for d in (prim_dir, p2_dir, rep_dir):
        v = subprocess.run([SBSTORE, "verify", d], capture_output=True, text=True)
        check(v.returncode == 0, "sbstore verify %s: %s" % (d, v.stdout + v.stderr))
finally:
    cl.stop(check.failed)

print("%d passed, %d failed" % (check.passed, check.failed))
sys.exit(1 if check.failed else 0)
