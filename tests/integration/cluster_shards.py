#!/usr/bin/python3
"""Two shards in the placement bucket, a failover by cluster.promote, and a
restarted old primary that must not take a write (issue 19).

  1. scripts/cluster starts three nats-server nodes on 127.0.0.1; shard s1's
     primary s1a and shard s2's primary s2a start on empty stores, one admin
     token shared; each makes its shard in the bucket (numbers 1 and 2), an
     org id taken on one shard is refused on the other; ids minted on the
     two shards carry their shard's number; each shard gets a replica (s1b,
     s2b) from its primary's hot backup;
  2. two writers per shard upsert users on their shard's primary, recording
     every acknowledged write; s1a is killed with -9, and s1b is promoted
     with cluster.promote (the test prints the stall of s1's writes); s1a
     restarted with its old command line (--shard s1) starts as a replica:
     its writes answer NOT_PRIMARY, and it follows;
  3. then, per shard: every acknowledged write is on every member, all
     members have the same applied sequence and the same users (a digest of
     every user read back); cluster.show shows both shards (epochs, primary,
     replicas, org counts) and the four members;
  4. an org move under load: sbctl --cluster org move acme --to s2 while two
     writers and a reader use it (the writers retry ORG_MOVING and follow
     MOVED); every acknowledged write is then on both members of s2, with
     equal move.digest; s1 answers MOVED; sbctl --cluster reads it on s2; a
     move stopped after the placement switch (sbctl's test hook) switches it
     back and leaves the org on its shard alone; the test prints the writes'
     longest gap;
  5. org.delete frees the id for the other shard; a standalone server
     answers cluster.show with NOT_CLUSTERED.

usage: cluster_shards.py SWITCHBOARDD SCRIPTS_CLUSTER SBCTL SBSTORE
Exits 77 (skipped) when nats-server is not installed, or switchboardd was
built without libnats.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

from cluster_harness import Checks, Cluster, skip_without_nats
from rpc_conn import Conn

SERVER, CLUSTER, SBCTL, SBSTORE = sys.argv[1:5]
WRITE_SECONDS = 3.0
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
check = Checks()
skip_without_nats()
t_start = time.time()
cl = Cluster(SERVER, CLUSTER, "sb-shards-", 24000)
tmp = cl.tmp
procs = cl.procs
token = None


def start_server(name, *args, cluster=True):
    extra = ["--member", name] if cluster else []
    return cl.start_server(name, *extra, *args, cluster=cluster)[1]


def call(sock, method, args):
    c = Conn(sock, token)
    try:
        return c.call(method, args)
    finally:
        c.close()


def replica_from_backup(primary, name, shard):
    backup = os.path.join(tmp, name + ".sbk")
    subprocess.run([SBCTL, "--socket", os.path.join(tmp, primary, "switchboard.sock"), "backup",
                    backup], check=True, env=dict(os.environ, SB_TOKEN=token),
                   stdout=subprocess.DEVNULL)
    d = os.path.join(tmp, name)
    subprocess.run([SBSTORE, "restore", backup, d], check=True, stdout=subprocess.DEVNULL)
    os.chmod(d, 0o700)
    shutil.copy(os.path.join(tmp, primary, "admin.token"), d)
    return start_server(name, "--replica-of", shard)


def id_space(sfid):
    return BASE62.index(sfid[13]) * 62 + BASE62.index(sfid[14])


def digest(sock, org):
    """(users, sha256) of every user of the org, read back page by page."""
    c = Conn(sock, token)
    h = hashlib.sha256()
    n = 0
    after = None
    while True:
        args = {"org": org, "limit": 1000}
        if after:
            args["after"] = after
        err, res = c.call("user.list", args)
        if err is not None:
            c.close()
            return -1, repr(err)
        for u in res["users"]:
            h.update(("%s\t%s\n" % (u["id"], u["name"])).encode())
            n += 1
        if not res["more"] or not res["users"]:
            break
        after = res["users"][-1]["id"]
    c.close()
    return n, h.hexdigest()


try:
    cl.start_nats()
    socks = {"s1a": start_server("s1a", "--shard", "s1")}
    token = open(os.path.join(tmp, "s1a", "admin.token")).read().strip()
    os.makedirs(os.path.join(tmp, "s2a"), mode=0o700)
    shutil.copy(os.path.join(tmp, "s1a", "admin.token"), os.path.join(tmp, "s2a"))
    socks["s2a"] = start_server("s2a", "--shard", "s2")
    primary = {"s1": "s1a", "s2": "s2a"}
    orgs = {"s1": "acme", "s2": "globex"}
    for shard, org in orgs.items():
        err, _ = call(socks[primary[shard]], "org.create", {"org": org})
        check(err is None, "org.create %s on %s: %r" % (org, shard, err))
    # An org id is the cluster's: taken on s1, refused on s2, nothing stored there.
    err, _ = call(socks["s2a"], "org.create", {"org": "acme"})
    check(err is not None and err["name"] == "ALREADY_EXISTS",
          "org acme again on s2: %r" % (err,))
    err, _ = call(socks["s2a"], "org.get", {"org": "acme"})
    check(err is not None and err["name"] == "NOT_FOUND", "s2 stored nothing of acme: %r" % (err,))
    # A create whose local write fails leaves no org.<ORG> behind: the id
    # is free for the other shard (the watch thread settles it).
    err, _ = call(socks["s1a"], "org.create", {"org": "initech", "name": "x" * 300})
    check(err is not None and err["name"] == "INVALID_VALUE", "a bad org name on s1: %r" % (err,))
    ok = False
    deadline = time.time() + 5
    while not ok and time.time() < deadline:
        err, _ = call(socks["s2a"], "org.create", {"org": "initech"})
        ok = err is None
        if not ok:
            time.sleep(0.1)
    check(ok, "initech, refused on s1, is created on s2: %r" % (err,))
    # Ids carry the shard's number: the two shards never mint the same one.
    spaces = {}
    for shard, org in orgs.items():
        err, res = call(socks[primary[shard]], "callcenter.create", {
            "org": org, "internal_name": "Support", "display_name": "Support",
            "adapter_url": "https://cti.example.com", "softphone_height": 400,
            "softphone_width": 300, "compatibility_mode": "Lightning"})
        check(err is None, "callcenter.create on %s: %r" % (shard, err))
        spaces[shard] = id_space(res["id"]) if err is None else None
    err, show = call(socks["s1a"], "cluster.show", {})
    numbers = {s["shard"]: s["number"] for s in (show or {}).get("shards", [])}
    check(err is None and spaces == numbers and len(set(numbers.values())) == 2,
          "ids in the shards' number spaces: %r, numbers %r" % (spaces, numbers))
    for shard in ("s1", "s2"):
        name = shard + "b"
        socks[name] = replica_from_backup(primary[shard], name, shard)

    acked = {"s1": {}, "s2": {}}
    lock = threading.Lock()
    stop = threading.Event()
    refused = {}
    last_ack = {"s1": 0.0, "s2": 0.0}
    stall = {"s1": 0.0, "s2": 0.0}

    def writer(shard, k):
        conn = None
        n = 0
        while not stop.is_set():
            if conn is None:
                try:
                    conn = Conn(socks[primary[shard]], token)
                except (OSError, AssertionError):
                    time.sleep(0.05)
                    continue
            uid = "005%s%d%010dAAA" % (shard[1], k, n)
            name = "%s-w%d-%d" % (shard, k, n)
            try:
                err, res = conn.call("user.upsert", {"org": orgs[shard], "id": uid,
                                                     "name": name})
            except OSError:
                err = {"name": "CLOSED"}
            now = time.time()
            with lock:
                if err is None:
                    acked[shard][uid] = name
                    if last_ack[shard]:
                        stall[shard] = max(stall[shard], now - last_ack[shard])
                    last_ack[shard] = now
                    n += 1
                else:
                    refused[err["name"]] = refused.get(err["name"], 0) + 1
            if err is not None:  # the primary is gone or fenced: find the new one
                conn.close()
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=writer, args=(s, k)) for s in ("s1", "s2")
               for k in range(2)]
    started = time.time()
    for t in threads:
        t.start()
    time.sleep(1.0)
    procs["s1a"].send_signal(signal.SIGKILL)
    procs["s1a"].wait()
    killed = time.time()
    err, res = call(socks["s2b"], "cluster.promote", {"shard": "s1", "member": "s1b"})
    check(err is None and res["epoch"] == 2 and res["old_primary"] == "s1a",
          "cluster.promote s1 s1b: %r %r" % (err, res))
    promoted = time.time()
    primary["s1"] = "s1b"
    # A replica of another shard, or the primary itself, is refused.
    err, _ = call(socks["s1b"], "cluster.promote", {"shard": "s1", "member": "s2b"})
    check(err is not None and err["name"] == "PROMOTE_REFUSED", "promote s2b to s1: %r" % (err,))
    # sbctl cluster promote SHARD MEMBER: the same, the words without their flags.
    refused_cli = subprocess.run([SBCTL, "--socket", socks["s2b"], "cluster", "promote", "s1",
                                  "s2b"], env=dict(os.environ, SB_TOKEN=token),
                                 capture_output=True, text=True, timeout=30)
    check(refused_cli.returncode == 1 and "PROMOTE_REFUSED" in refused_cli.stderr and
          "s2b" in refused_cli.stderr, "sbctl cluster promote s1 s2b: %d %s" %
          (refused_cli.returncode, refused_cli.stderr))
    # The old primary, restarted as it was (--shard s1), is a replica now.
    socks["s1a"] = start_server("s1a", "--shard", "s1")
    err, res = call(socks["s1a"], "user.upsert", {"org": "acme", "id": "005999999999999AAA",
                                                  "name": "old"})
    check(err is not None and err["name"] == "NOT_PRIMARY",
          "a write on the restarted old primary: %r" % (err,))
    err, info = call(socks["s1a"], "server.info", {})
    check(err is None and info["cluster"]["role"] == "replica" and
          info["cluster"]["primary"] == "s1b" and info["cluster"]["epoch"] == 2,
          "the restarted old primary says: %r" % ((info or {}).get("cluster"),))
    while time.time() - started < WRITE_SECONDS + 1.0:
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    first_after = None
    print("acknowledged writes: s1 %d, s2 %d; refused: %r" %
          (len(acked["s1"]), len(acked["s2"]), refused))
    print("stall of s1's writes (kill -9 of its primary, then cluster.promote %.2f s later): "
          "%.2f s; longest gap between s2's writes meanwhile: %.2f s" %
          (promoted - killed, stall["s1"], stall["s2"]))
    check(len(acked["s1"]) > 20 and len(acked["s2"]) > 20, "both shards took writes")
    check(stall["s1"] < 30, "s1's writes came back after the failover")

    # Every member of a shard: the same applied sequence, the same users,
    # every acknowledged write.
    members = {"s1": ("s1b", "s1a"), "s2": ("s2a", "s2b")}
    for shard, names in members.items():
        last = call(socks[names[0]], "server.info", {})[1]["changes"]["last_seq"]
        deadline = time.time() + 20
        while time.time() < deadline and any(
                call(socks[m], "server.info", {})[1]["cluster"]["applied_seq"] < last
                for m in names[1:]):
            time.sleep(0.05)
        applied = [call(socks[m], "server.info", {})[1]["cluster"]["applied_seq"] for m in names]
        check(len(set(applied)) == 1, "%s: applied sequences %r" % (shard, applied))
        digests = [digest(socks[m], orgs[shard]) for m in names]
        check(len(set(digests)) == 1 and digests[0][0] >= len(acked[shard]),
              "%s: the same users on every member: %r" % (shard, digests))
        for m in names:
            c = Conn(socks[m], token)
            missing = 0
            for uid, name in acked[shard].items():
                err, got = c.call("user.get", {"org": orgs[shard], "id": uid})
                if err is not None or got["name"] != name:
                    missing += 1
            c.close()
            check(missing == 0, "%s: %d of %d acknowledged writes missing on %s" %
                  (shard, missing, len(acked[shard]), m))

    # cluster.show, as any member sees it (after member.<M>'s next report).
    time.sleep(2.5)
    err, show = call(socks["s2b"], "cluster.show", {})
    shards = {s["shard"]: s for s in (show or {}).get("shards", [])}
    roles = {m["member"]: m["role"] for m in (show or {}).get("members", [])}
    check(err is None and shards["s1"]["epoch"] == 2 and shards["s1"]["primary"] == "s1b" and
          shards["s1"]["replicas"] == ["s1a"] and shards["s2"]["epoch"] == 1 and
          shards["s2"]["replicas"] == ["s2b"] and shards["s1"]["orgs"] == 1 and
          shards["s2"]["orgs"] == 2, "cluster.show's shards: %r" % (show,))
    check(roles == {"s1a": "replica", "s1b": "primary", "s2a": "primary", "s2b": "replica"},
          "cluster.show's members: %r" % (roles,))
    # An org move under load: acme, s1 -> s2, by sbctl --cluster org move --to, while two
    # writers and a reader keep using it (writers retry ORG_MOVING, and follow MOVED to s2).
    move_stop = threading.Event()
    move = {"acked": {}, "refused": {}, "read_fail": [], "reads": 0, "gap": 0.0, "last": 0.0}
    where = {"acme": "s1"}

    def move_writer(k):
        n = 0
        while not move_stop.is_set():
            uid = "005m%d%010dAAA" % (k, n)
            try:
                err, _ = call(socks[primary[where["acme"]]], "user.upsert",
                              {"org": "acme", "id": uid, "name": "mv-%d" % n})
            except OSError:
                err = {"name": "CLOSED"}
            now = time.time()
            with lock:
                if err is None:
                    move["acked"][uid] = "mv-%d" % n
                    if move["last"]:
                        move["gap"] = max(move["gap"], now - move["last"])
                    move["last"] = now
                    n += 1
                else:
                    move["refused"][err["name"]] = move["refused"].get(err["name"], 0) + 1
                    if err["name"] == "MOVED":
                        where["acme"] = "s2"
            if err is not None:
                time.sleep(0.01)

    def move_reader():
        uid = next(iter(acked["s1"]))
        while not move_stop.is_set():
            err, got = call(socks[primary[where["acme"]]], "user.get", {"org": "acme", "id": uid})
            with lock:
                move["reads"] += 1
                if err is not None and err["name"] == "MOVED":
                    where["acme"] = "s2"
                elif err is not None or got["name"] != acked["s1"][uid]:
                    move["read_fail"].append(err)

    mthreads = [threading.Thread(target=move_writer, args=(k,)) for k in range(2)]
    mthreads.append(threading.Thread(target=move_reader))
    for t in mthreads:
        t.start()
    time.sleep(0.5)
    env = dict(os.environ, SB_TOKEN=token, SB_CLUSTER=cl.urls)
    moved = subprocess.run([SBCTL, "org", "move", "acme", "--to", "s2"], env=env,
                           capture_output=True, text=True, timeout=60)
    print("sbctl org move acme --to s2 (two writers, one reader):\n" + moved.stdout.rstrip())
    time.sleep(0.5)
    move_stop.set()
    for t in mthreads:
        t.join()
    check(moved.returncode == 0 and "switched the placement: org.acme names shard s2 (was s1)"
          in moved.stdout and "writes paused" in moved.stdout,
          "sbctl org move acme --to s2: %d %s %s" % (moved.returncode, moved.stdout,
                                                     moved.stderr))
    print("during the move: %d writes acknowledged, refused %r, longest gap between acknowledged "
          "writes %.3f s; %d reads, %d failed" % (len(move["acked"]), move["refused"],
                                                  move["gap"], move["reads"],
                                                  len(move["read_fail"])))
    check(not move["read_fail"], "reads of acme during its move failed: %r" % move["read_fail"][:3])
    check(set(move["refused"]) <= {"ORG_MOVING", "MOVED"},
          "writes during the move were refused only as ORG_MOVING or MOVED: %r" % move["refused"])
    check(where["acme"] == "s2" and len(move["acked"]) > 10,
          "the writers followed MOVED to s2 and kept writing (%d)" % len(move["acked"]))
    # Every member of s2 has every acknowledged write of acme, before the move and during it,
    # at the same applied sequence and with the same digest of the org's records.
    last = call(socks["s2a"], "server.info", {})[1]["changes"]["last_seq"]
    deadline = time.time() + 20
    while time.time() < deadline and \
            call(socks["s2b"], "server.info", {})[1]["cluster"]["applied_seq"] < last:
        time.sleep(0.05)
    everything = dict(acked["s1"], **move["acked"])
    for m in ("s2a", "s2b"):
        c = Conn(socks[m], token)
        missing = [uid for uid, name in everything.items()
                   if (lambda r: r[0] is not None or r[1]["name"] != name)(
                       c.call("user.get", {"org": "acme", "id": uid}))]
        c.close()
        check(not missing, "acme on %s after the move: %d of %d acknowledged writes missing" %
              (m, len(missing), len(everything)))
    digests = [call(socks[m], "move.digest", {"org": "acme"})[1] for m in ("s2a", "s2b")]
    check(digests[0]["digest"] == digests[1]["digest"] and digests[0]["state"] == "none",
          "acme's digest on s2a and s2b: %r" % digests)
    err, _ = call(socks["s1b"], "user.get", {"org": "acme", "id": next(iter(acked["s1"]))})
    check(err is not None and err["name"] == "MOVED" and "shard s2" in err["message"],
          "acme on its old primary answers MOVED naming shard s2: %r" % (err,))
    got = subprocess.run([SBCTL, "user", "get", next(iter(move["acked"])), "--org", "acme",
                          "--json"], env=env, capture_output=True, text=True, timeout=30)
    check(got.returncode == 0 and "mv-" in got.stdout,
          "sbctl --cluster reads acme on s2 after the move: %s %s" % (got.stdout, got.stderr))
    again = subprocess.run([SBCTL, "org", "move", "acme", "--to", "s2"], env=env,
                           capture_output=True, text=True, timeout=30)
    check(again.returncode == 2 and "on shard s2 already" in again.stderr,
          "a move to the org's own shard: %d %s" % (again.returncode, again.stderr))
    # A move that fails after the placement switch switches it back and undoes both sides.
    failed = subprocess.run([SBCTL, "org", "move", "initech", "--to", "s1"],
                            env=dict(env, SBCTL_MOVE_FAIL_AFTER="switch"), capture_output=True,
                            text=True, timeout=60)
    err_s1, _ = call(socks["s1b"], "org.get", {"org": "initech"})
    err_s2, _ = call(socks["s2a"], "org.get", {"org": "initech"})
    routed = subprocess.run([SBCTL, "org", "get", "initech", "--json"], env=env,
                            capture_output=True, text=True, timeout=30)
    check(failed.returncode == 1 and "did not happen" in failed.stderr and
          err_s1 is not None and err_s1["name"] == "NOT_FOUND" and err_s2 is None and
          routed.returncode == 0, "a move of initech stopped after the switch: %d %s; s1 %r, s2 "
          "%r; routed get: %s %s" % (failed.returncode, failed.stderr, err_s1, err_s2,
                                     routed.stdout, routed.stderr))
    err, show = call(socks["s2b"], "cluster.show", {})
    counts = {s["shard"]: s["orgs"] for s in (show or {}).get("shards", [])}
    check(counts == {"s1": 0, "s2": 3}, "cluster.show's org counts after the move: %r" % (counts,))
    # org.delete takes org.<ORG> out of the bucket: the id is free on the other shard.
    err, _ = call(socks["s2a"], "org.delete", {"org": "globex", "force": True})
    check(err is None, "org.delete globex: %r" % (err,))
    ok = False
    deadline = time.time() + 5
    while not ok and time.time() < deadline:
        err, _ = call(socks["s1b"], "org.create", {"org": "globex"})
        ok = err is None
        if not ok:
            time.sleep(0.2)
    check(ok, "globex, deleted on s2, is created on s1: %r" % (err,))

    # A standalone server has no cluster to show.
    sa = start_server("standalone", cluster=False)
    c = Conn(sa, open(os.path.join(tmp, "standalone", "admin.token")).read().strip())
    err, _ = c.call("cluster.show", {})
    c.close()
    check(err is not None and err["name"] == "NOT_CLUSTERED", "cluster.show standalone: %r" % (err,))
finally:
    cl.stop(check.failed)

print("%d passed, %d failed in %.1f s" % (check.passed, check.failed, time.time() - t_start))
sys.exit(1 if check.failed else 0)
