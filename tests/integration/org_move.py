#!/usr/bin/python3
"""sbctl org move between two standalone servers (issue 19), under load.

  1. Server A holds org acme (users, Call Centers, members, a layout and its
     assignment, contacts, rules, an org token) and org other; server B is
     empty.
  2. A move refused midway (SBCTL_MOVE_FAIL_AFTER=freeze, the test's hook)
     leaves A serving acme (writes too) and B without a trace of it; a move
     to a server that has the org already is refused the same way.
  3. The move, while writers write acme's users on A (acknowledged writes
     recorded; ORG_MOVING retried; MOVED sends them to B, as a client does).
  4. After it: the digests are equal; every acknowledged write is on B; A
     answers MOVED for acme (to the admin and to acme's token) and still
     serves other untouched; acme's token opens it on B; B's verify is clean.
  5. The write pause sbctl printed.

usage: org_move.py SWITCHBOARDD SBCTL REPO
Prints "N passed, N failed" and exits 1 on any failure.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from rpc_conn import Conn

SERVER, SBCTL, REPO = sys.argv[1], sys.argv[2], sys.argv[3]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)
    return ok


work = tempfile.mkdtemp(prefix="sbmove.")
servers = {}


def start(name):
    d = os.path.join(work, name)
    os.mkdir(d, 0o700)
    log = open(os.path.join(work, name + ".log"), "wb")
    p = subprocess.Popen([SERVER, "--data-dir", d, "--durability", "none"], stdout=log, stderr=log)
    sock = os.path.join(d, "switchboard.sock")
    for _ in range(200):
        if os.path.exists(sock) and os.path.exists(os.path.join(d, "admin.token")):
            break
        time.sleep(0.05)
    time.sleep(0.1)
    servers[name] = (p, d, sock, open(os.path.join(d, "admin.token")).read().strip())
    return servers[name]


def ok(conn, method, args):
    err, res = conn.call(method, args)
    if err is not None:
        raise RuntimeError("%s %r: %r" % (method, args, err))
    return res


def sbctl(data_dir, *args, env_extra=None):
    env = dict(os.environ, SB_DATA_DIR=data_dir)
    env.pop("SB_TOKEN", None)
    env.update(env_extra or {})
    return subprocess.run([SBCTL] + list(args), capture_output=True, text=True, env=env,
                          timeout=120)


def user_id(i):
    return "005%012d" % i


try:
    _, dir_a, sock_a, tok_a = start("a")
    _, dir_b, sock_b, tok_b = start("b")
    a, b = Conn(sock_a, tok_a), Conn(sock_b, tok_b)

    # 1. acme with a bit of everything, and another org beside it.
    for org in ("acme", "other"):
        ok(a, "org.create", {"org": org})
    cc = ok(a, "callcenter.create", {"org": "acme", "internal_name": "SupportEU",
                                     "display_name": "Support (EU)",
                                     "adapter_url": "https://softphone.example.com/cti"})
    ok(a, "callcenter.create", {"org": "acme", "internal_name": "Sales", "display_name": "Sales",
                                "adapter_url": "https://softphone.example.com/cti"})
    ok(a, "callcenter.create", {"org": "other", "internal_name": "Other", "display_name": "Other",
                                "adapter_url": "https://softphone.example.com/cti"})
    for i in range(1, 41):
        ok(a, "user.upsert", {"org": "acme", "id": user_id(i), "name": "Agent %d" % i,
                              "profile": "Agent", "department": "Sales" if i % 2 else "Support"})
        if i <= 20:
            ok(a, "member.add", {"org": "acme", "callcenter": "SupportEU", "user": user_id(i)})
    ok(a, "user.upsert", {"org": "other", "id": user_id(1), "name": "Other's", "profile": "Agent"})
    ok(a, "member.add", {"org": "other", "callcenter": "Other", "user": user_id(1)})
    layout = json.load(open(os.path.join(REPO, "docs/examples/layout.json")))
    put = ok(a, "layout.put", {"org": "acme", "layout": layout, "default": True})
    ok(a, "contact.upsert_bulk", {"org": "acme", "callcenter": "SupportEU", "contacts": [
        {"id": "003%012d" % i, "name": "Contact %d" % i, "phones": ["+1415555%04d" % i]}
        for i in range(1, 11)]})
    ok(a, "rules.put", {"org": "acme", "rules": [
        {"name": "sales", "callcenter": "Sales",
         "when": [{"field": "department", "op": "equals", "values": ["Sales"]}]}]})
    org_token = ok(a, "token.create", {"org": "acme", "role": "org_admin", "label": "t"})["token"]
    other_before = ok(a, "move.digest", {"org": "other"})["digest"]
    acme_before = ok(a, "move.digest", {"org": "acme"})
    check(acme_before["records"] > 80, "acme has many records to move: %r" % acme_before)

    # 2. A move refused midway: A serves, B has nothing.
    r = sbctl(dir_a, "org", "move", "acme", "--to-socket", sock_b,
              env_extra={"SBCTL_MOVE_FAIL_AFTER": "freeze"})
    check(r.returncode == 1 and "did not happen" in r.stderr and
          "nothing it received stays" in r.stderr,
          "a move stopped after the freeze fails and says so: %r" % ((r.returncode, r.stderr),))
    err, _ = a.call("user.upsert", {"org": "acme", "id": user_id(41), "name": "After the abort",
                                    "profile": "Agent"})
    check(err is None, "the source takes the org's writes again after the abort: %r" % err)
    d = ok(b, "move.digest", {"org": "acme"})
    check(d["records"] == 0 and d["state"] == "none", "the target holds nothing of it: %r" % d)
    err, _ = b.call("org.get", {"org": "acme"})
    check(err is not None and err["name"] == "NOT_FOUND", "the target has no such org: %r" % err)
    check(ok(a, "move.digest", {"org": "acme"})["state"] == "none", "the source serves it")

    # A target that has the org already refuses at once; neither side changes.
    ok(b, "org.create", {"org": "acme"})
    r = sbctl(dir_a, "org", "move", "acme", "--to-socket", sock_b)
    check(r.returncode == 1 and "ALREADY_EXISTS" in r.stderr,
          "a move to a server with the org is refused: %r" % ((r.returncode, r.stderr),))
    check(ok(b, "org.get", {"org": "acme"})["id"] == "acme", "the target's own org is kept")
    ok(b, "org.delete", {"org": "acme"})
    check(ok(a, "move.digest", {"org": "acme"})["state"] == "none", "the source still serves it")

    # 3. The move under load.
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()
    retried = {"moving": 0, "moved": 0}
    errors = []

    def writer(k):
        conn, on_b = Conn(sock_a, tok_a), False
        i = 0
        while not stop.is_set() or i < 5:
            i += 1
            uid = user_id(1000 + k * 1000 + i)
            name = "w%d-%d" % (k, i)
            while True:
                err, _ = conn.call("user.upsert", {"org": "acme", "id": uid, "name": name,
                                                   "profile": "Agent"})
                if err is None:
                    with lock:
                        acked[uid] = name
                    break
                if err["name"] == "ORG_MOVING":
                    retried["moving"] += 1
                    time.sleep(0.002)
                elif err["name"] == "MOVED" and not on_b:
                    retried["moved"] += 1
                    conn.close()
                    conn, on_b = Conn(sock_b, tok_b), True
                else:
                    errors.append(err)
                    return
            if i > 2000:
                return

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    r = sbctl(dir_a, "org", "move", "acme", "--to-socket", sock_b)
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    check(r.returncode == 0, "the move succeeds: %r" % ((r.returncode, r.stdout, r.stderr),))
    print(r.stdout.strip())
    check(not errors, "writers saw only ORG_MOVING and MOVED: %r" % errors[:3])
    m = re.search(r"writes paused ([0-9.]+) ms", r.stdout)
    check(m is not None, "sbctl prints the write pause")
    print("org_move: %d acknowledged writes during the move; %d ORG_MOVING retries, %d MOVED; "
          "writes paused %s ms" % (len(acked), retried["moving"], retried["moved"],
                                   m.group(1) if m else "?"))

    # 4. After.
    da, db = ok(a, "move.digest", {"org": "acme"}), ok(b, "move.digest", {"org": "acme"})
    check(da["state"] == "moved" and da["to"] == os.path.realpath(sock_b) and da["records"] == 1,
          "the source is marked moved to the target, its records gone but its token: %r" % da)
    check(db["state"] == "none" and db["records"] >= acme_before["records"],
          "the target serves it: %r" % db)
    missing = [u for u, n in acked.items()
               if b.call("user.get", {"org": "acme", "id": u})[1] is None or
               b.call("user.get", {"org": "acme", "id": u})[1]["name"] != n]
    check(acked and not missing, "every acknowledged write is on the target (%d; missing %r)"
          % (len(acked), missing[:3]))
    check(b.call("user.get", {"org": "acme", "id": user_id(41)})[1] is not None,
          "the write made after the aborted move is on the target")
    err, _ = a.call("org.get", {"org": "acme"})
    check(err is not None and err["name"] == "MOVED" and os.path.realpath(sock_b) in
          err["message"], "the source answers MOVED naming the target: %r" % err)
    err, _ = a.call("org.create", {"org": "acme"})
    check(err is not None and err["name"] == "MOVED", "the moved org cannot be made again there")
    tok_conn = Conn(sock_a, org_token)
    err, _ = tok_conn.call("softphone.check", {"org": "acme", "user": user_id(1)})
    check(err is not None and err["name"] == "MOVED", "acme's token learns MOVED on the source")
    tok_conn.close()
    tok_conn = Conn(sock_b, org_token)
    err, res = tok_conn.call("softphone.check", {"org": "acme", "user": user_id(1)})
    check(err is None and res["softphone"] and res["callcenter"]["id"] == cc["id"] and
          res["layout_source"] == "default",
          "acme's token opens it on the target, member, Call Center, layout: %r" % ((err, res),))
    err, res = tok_conn.call("rules.get", {"org": "acme"})
    check(err is None and res["rules"][0]["name"] == "sales", "its rules moved: %r" % err)
    err, res = tok_conn.call("contact.get", {"org": "acme", "id": "003%012d" % 5})
    check(err is None, "its contacts moved: %r" % err)
    err, _ = tok_conn.call("user.upsert", {"org": "acme", "id": user_id(42), "name": "After",
                                           "profile": "Agent"})
    check(err is None, "the org's token writes on the target: %r" % err)
    tok_conn.close()
    check(ok(a, "move.digest", {"org": "other"})["digest"] == other_before,
          "the other org is untouched on the source")
    check(ok(a, "softphone.check", {"org": "other", "user": user_id(1)})["softphone"],
          "the source still serves the other org")
    v = ok(b, "server.verify", {})
    check(v["clean"], "the target's store verifies clean: %r" % v["problems"][:3])
    v = ok(a, "server.verify", {})
    check(v["clean"], "the source's store verifies clean: %r" % v["problems"][:3])
    a.close()
    b.close()
finally:
    for p, d, _, _ in servers.values():
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
    if failed:
        print("logs kept in", work, file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
