#!/usr/bin/python3
"""What one tenant can make the server hold or redo, with a client that is not ours.

Debian's python3-msgpack against a real server (issue 12, "hunt for the same
class elsewhere"):

  1. the bundled adapters load in the build tree (the isolated child is found
     beside the server: a fresh build once refused them all);
  2. a voice call's transcript is bounded: a segment of more than 4096 bytes
     and a transcript past 1 MiB are refused. Unbounded, one org's appends of
     1 MB each grew one record to 300 MB, each append rewrote it on the writer
     thread (0.7 s, other tenants' writes waited up to 1.3 s), and the org's
     voicecall.list answered REPLY_TOO_LARGE for good;
  3. a filtered voicecall.list examines at most 10,000 calls a request, and
     says where to go on (next_after);
  4. one connection's 64 pipelined requests leave the loop to the others
     between them;
  5. one org's tokens hold at most --max-connections-per-org connections;
  6. one org's prepare steps hold at most 4 threads of the pool;
  7. one connection's pipelined requests hold at most --max-inflight-bytes.

usage: outsider_growth.py SWITCHBOARDD
Prints "N passed, N failed" and exits 1 on any failure.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import msgpack

SERVER = sys.argv[1]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)
    return ok


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False,
                                         max_buffer_size=64 << 20)
        self.msgid = 0

    def call(self, method, args):
        self.msgid += 1
        self.sock.sendall(msgpack.packb([0, self.msgid, method, [args]], use_bin_type=True))
        while True:
            for msg in self.unpacker:
                return msg[2], msg[3]
            data = self.sock.recv(1 << 16)
            if not data:
                return {"name": "CLOSED"}, None
            self.unpacker.feed(data)


work = tempfile.mkdtemp(prefix="sbgrowth.")
data_dir = os.path.join(work, "data")
sock_path = os.path.join(data_dir, "switchboard.sock")
log = open(os.path.join(work, "server.log"), "wb")
def extra_server(name, *flags):
    """Starts another server with `flags` on a data directory of its own and
    waits for it: (process, socket path, admin token)."""
    path = os.path.join(work, name)
    proc = subprocess.Popen([SERVER, "--data-dir", path] + list(flags), stdout=log, stderr=log)
    sock = os.path.join(path, "switchboard.sock")
    token_file = os.path.join(path, "admin.token")
    for _ in range(200):
        if os.path.exists(sock) and os.path.exists(token_file):
            break
        time.sleep(0.05)
    return proc, sock, open(token_file).read().strip()


# SB_TEST_LOOPS: the main server's --loops (ctest runs 1, the default, and 2:
# with two loops the others' requests wait for the server's lock, not a pass).
LOOPS = ["--loops", os.environ["SB_TEST_LOOPS"]] if os.environ.get("SB_TEST_LOOPS") else []
server = subprocess.Popen([SERVER, "--data-dir", data_dir, "--durability", "none"] + LOOPS,
                          stdout=log, stderr=log)
try:
    for _ in range(200):
        if os.path.exists(sock_path) and os.path.exists(os.path.join(data_dir, "admin.token")):
            break
        time.sleep(0.05)
    admin = Conn(sock_path)
    err, _ = admin.call("token.authenticate",
                        {"token": open(os.path.join(data_dir, "admin.token")).read().strip()})
    check(err is None, "the admin authenticates: %r" % (err,))

    # 1. The bundled adapters load.
    err, res = admin.call("plugin.list", {})
    plugins = res.get("plugins", []) if isinstance(res, dict) else []
    demo = [p for p in plugins if "demo" in str(p.get("name", "")) + str(p.get("file", ""))]
    check(err is None and demo and all(p.get("state") == "loaded" for p in demo),
          "the bundled demo adapter loads in the build tree: %r" % (demo or plugins)[:2])

    # 1b. Reloads run as prepare steps on several pool threads: pipelined,
    # they are taken one at a time (two at once initialised one plugin twice
    # and could end one set's trial while the other swapped the set).
    admin.sock.sendall(b"".join(msgpack.packb([0, 900 + i, "plugin.reload", [{}]])
                                for i in range(8)))
    answers = []
    while len(answers) < 8:
        for msg in admin.unpacker:
            answers.append(msg)
            break
        else:
            data = admin.sock.recv(1 << 16)
            if not data:
                break
            admin.unpacker.feed(data)
    check(len(answers) == 8 and all(a[2] is None for a in answers),
          "8 pipelined plugin.reload are all answered OK: %r" % ([a[2] for a in answers],))
    err, res = admin.call("plugin.list", {})
    plugins = res.get("plugins", []) if isinstance(res, dict) else []
    check(server.poll() is None and any(p.get("name") == "demo" and p.get("state") == "loaded"
                                        for p in plugins),
          "after concurrent reloads the server lives and demo is loaded")

    # 2. Transcripts are bounded.
    err, _ = admin.call("org.create", {"org": "acme", "name": "Acme"})
    check(err is None, "org.create: %r" % (err,))
    err, _ = admin.call("callcenter.create", {
        "org": "acme", "internal_name": "Sup", "display_name": "Support",
        "adapter_url": "https://softphone.example.com", "softphone_height": 500,
        "softphone_width": 320})
    check(err is None, "callcenter.create: %r" % (err,))
    call = {"org": "acme", "callcenter": "Sup", "vendor_call_key": "k1"}
    err, _ = admin.call("call.start", call)
    check(err is None, "call.start: %r" % (err,))
    err, _ = admin.call("call.transcript", dict(call, text="x" * 4097, segment_id="big"))
    check(err and err.get("name") == "INVALID_VALUE" and "4096" in err.get("message", ""),
          "a segment of 4097 bytes is refused, naming the limit: %r" % (err,))
    err, _ = admin.call("call.transcript", dict(call, text="y" * 4096, segment_id="max"))
    check(err is None, "a segment of 4096 bytes is kept: %r" % (err,))
    refused_at = None
    for i in range(300):  # 256 segments of 4 KiB fill 1 MiB
        err, _ = admin.call("call.transcript", dict(call, text="z" * 4096, segment_id="s%d" % i))
        if err is not None:
            refused_at = i
            break
    check(refused_at is not None and refused_at >= 250 and err.get("name") == "INVALID_VALUE"
          and "transcript" in err.get("message", ""),
          "a transcript past 1 MiB is refused (at segment %r: %r)" % (refused_at, err))
    err, res = admin.call("voicecall.list", {"org": "acme"})
    check(err is None and len(res["voicecalls"]) == 1,
          "the org's voice calls still list: %r" % (err,))

    # 3. A filtered voicecall.list examines a bounded number of calls a request.
    # Unbounded, a read-only token's filter that matched nothing decoded every
    # call of the org on the event loop: with 300,000 calls (13 s to make),
    # 0.43 s a request, and 8 pipelined held another tenant's answer 2.6 s.
    err, _ = admin.call("user.upsert", {"org": "acme", "id": "005000000000007AAA",
                                        "name": "Ada", "profile": "Agent"})
    check(err is None, "user.upsert: %r" % (err,))
    total, sent, got = 12000, 0, 0
    while got < total:
        while sent < total and sent - got < 60:
            args = dict(call, vendor_call_key="n%d" % sent)
            if sent == total - 1:
                args["user"] = "005000000000007AAA"
            admin.msgid += 1
            admin.sock.sendall(msgpack.packb([0, admin.msgid, "call.start", [args]]))
            sent += 1
        for msg in admin.unpacker:
            got += 1
            if msg[2] is not None:
                check(False, "call.start %d: %r" % (got, msg[2]))
            break
        else:
            admin.unpacker.feed(admin.sock.recv(1 << 16))
    pages, found, after, more = 0, [], None, True
    while more and pages < 10:
        args = {"org": "acme", "user": "005000000000007AAA", "limit": 5}
        if after:
            args["after"] = after
        err, res = admin.call("voicecall.list", args)
        if not check(err is None, "voicecall.list filtered, page %d: %r" % (pages, err)):
            break
        if pages == 0:
            check(res["more"] and res.get("next_after") and not res["voicecalls"],
                  "the first page stops at the scan bound, empty, with more and next_after: %r"
                  % ({k: v for k, v in res.items() if k != "voicecalls"},))
        found += res["voicecalls"]
        more, after = res["more"], res.get("next_after")
        pages += 1
    check(not more and len(found) == 1 and found[0]["vendor_call_key"] == "n%d" % (total - 1),
          "following next_after finds the one call of the user, past 12,000 others, in %d pages"
          % pages)

    # 4. One connection's pipelined requests do not hold the loop for the others:
    # a pass over them stops after 1 ms, the rest waits for a later turn. Before,
    # 64 pipelined lists of 10 ms each held another tenant's answer 0.6 s.
    other = Conn(sock_path)
    err, _ = other.call("token.authenticate",
                        {"token": open(os.path.join(data_dir, "admin.token")).read().strip()})
    heavy = {"org": "acme", "user": "005000000000008AAA", "limit": 1}
    started = time.monotonic()
    admin.sock.sendall(b"".join(msgpack.packb([0, 100000 + i, "voicecall.list", [heavy]])
                                for i in range(64)))
    time.sleep(0.02)
    asked = time.monotonic()
    err, _ = other.call("server.info", {})
    other_s = time.monotonic() - asked
    replies = 0
    while replies < 64:
        for msg in admin.unpacker:
            replies += 1
            break
        else:
            admin.unpacker.feed(admin.sock.recv(1 << 16))
    all_s = time.monotonic() - started
    # With two loops the other connection is on the other loop: it waits only
    # for the server's lock between passes (0.37 s was measured once, when the
    # loops took it without turns: 1/8 of the whole is well below that).
    check(err is None and other_s < all_s / (8 if LOOPS else 2),
          "another connection is answered in %.3f s while 64 pipelined lists take %.3f s"
          % (other_s, all_s))
    check(server.poll() is None, "the server lives")

    # 6. One org's prepare steps (adapter calls, parsing, org.doctor) hold at
    # most 4 of the thread pool's threads: 32 pipelined org.doctor requests of
    # a read-only token on an org of 100,000 users made another org's
    # member.add wait 2.8 s for a thread. Here 30,000 users: a doctor's share
    # of the time, not its length, is what the check compares.
    for k in range(3):
        users = [{"id": "005%012dAAA" % (100000 + k * 10000 + i), "name": "u",
                  "profile": "p%d" % (i % 50)} for i in range(10000)]
        err, _ = admin.call("user.upsert_bulk", {"org": "acme", "users": users})
        check(err is None, "user.upsert_bulk: %r" % (err,))
    for org in ("beta",):
        admin.call("org.create", {"org": org, "name": org})
        admin.call("callcenter.create", {
            "org": org, "internal_name": "Sup", "display_name": "Support",
            "adapter_url": "https://softphone.example.com", "softphone_height": 500,
            "softphone_width": 320})
        admin.call("user.upsert", {"org": org, "id": "005000000000001AAA", "name": "Bo",
                                   "profile": "Agent"})
    err, res = admin.call("token.create", {"org": "acme", "role": "read_only", "label": "x"})
    doctor = Conn(sock_path)
    doctor.call("token.authenticate", {"token": res["token"]})
    started = time.monotonic()
    doctor.sock.sendall(b"".join(msgpack.packb([0, 1000 + i, "org.doctor", [{"org": "acme"}]])
                                 for i in range(32)))
    time.sleep(0.1)
    asked = time.monotonic()
    err, _ = other.call("member.add", {"org": "beta", "user": "005000000000001AAA",
                                       "callcenter": "Sup"})
    other_s = time.monotonic() - asked
    replies = 0
    while replies < 32:
        for msg in doctor.unpacker:
            replies += 1
            break
        else:
            doctor.unpacker.feed(doctor.sock.recv(1 << 16))
    all_s = time.monotonic() - started
    # With two loops the other connection is on the other loop: it waits only
    # for the server's lock between passes (0.37 s was measured once, when the
    # loops took it without turns: 1/8 of the whole is well below that).
    check(err is None and other_s < all_s / (8 if LOOPS else 2),
          "another org's member.add is answered in %.3f s while 32 doctors take %.3f s"
          % (other_s, all_s))

    # 5. One org's tokens cannot take every connection slot: with 12 slots, a
    # read-only token of acme held all 10 open to org tokens, and beta's
    # tokens got CONNECTION_LIMIT.
    small, small_sock, small_token = extra_server(
        "small", "--durability", "none", "--max-connections", "12",
        "--max-connections-per-org", "4")
    try:
        sa = Conn(small_sock)
        sa.call("token.authenticate", {"token": small_token})
        tokens = {}
        for org in ("acme", "beta"):
            sa.call("org.create", {"org": org, "name": org})
            err, res = sa.call("token.create", {"org": org, "role": "read_only", "label": "x"})
            tokens[org] = res["token"] if res else None
        held, refusal = [], None
        for _ in range(12):
            c = Conn(small_sock)
            err, _ = c.call("token.authenticate", {"token": tokens["acme"]})
            if err is not None:
                refusal = err
                break
            held.append(c)
        check(len(held) == 4 and refusal and refusal.get("name") == "CONNECTION_LIMIT"
              and "--max-connections-per-org" in refusal.get("message", ""),
              "one org's token holds at most --max-connections-per-org connections (%d, %r)"
              % (len(held), refusal))
        err, _ = Conn(small_sock).call("token.authenticate", {"token": tokens["beta"]})
        check(err is None, "another org still connects while acme holds its share: %r" % (err,))
    finally:
        small.kill()
        small.wait()

    # 7. What one connection's pipelined requests hold is bounded in bytes
    # (--max-inflight-bytes, 4 MiB), not only in count: 8 connections of 64
    # pipelined bulk writes of 880 KB each, waiting for the writer, made the
    # server 973 MiB. Measured only without a sanitizer (ASan keeps freed
    # memory in quarantine; TSan doubles every allocation with its shadow).
    mem, mem_sock, token = extra_server("mem")
    try:
        ma = Conn(mem_sock)
        ma.call("token.authenticate", {"token": token})
        ma.call("org.create", {"org": "acme", "name": "acme"})
        users = [{"id": "005%012dAAA" % i, "name": "n" * 30, "profile": "p" * 20}
                 for i in range(10000)]
        bulk = msgpack.packb([0, 1, "user.upsert_bulk", [{"org": "acme", "users": users}]])
        maps = open("/proc/%d/maps" % mem.pid).read()
        sanitized = "libasan" in maps or "libtsan" in maps
        floods = []
        for _ in range(4):
            c = Conn(mem_sock)
            c.call("token.authenticate", {"token": token})
            c.sock.setblocking(False)
            floods.append([c, 0])
        payload = bulk * 64
        until = time.monotonic() + 20
        while time.monotonic() < until and any(f[1] < len(payload) for f in floods):
            for f in floods:
                try:
                    f[1] += f[0].sock.send(payload[f[1]:f[1] + (1 << 20)])
                except BlockingIOError:
                    pass
        status = dict(line.split(":", 1) for line in open("/proc/%d/status" % mem.pid))
        peak_mib = int(status["VmHWM"].split()[0]) // 1024
        check(sanitized or peak_mib < 200,
              "4 connections of 64 pipelined 880 KB writes: the server's peak is %d MiB "
              "(under 200)" % peak_mib)
        check(mem.poll() is None, "the server lives through the flood")
    finally:
        mem.kill()
        mem.wait()

    # 8. Unread replies are bounded over all of one org's connections, not
    # only per connection: 60 read-only connections of one token, each with
    # 8 pipelined check_batch of 10,000 users and never reading, held 1.5 GB
    # (--write-cap-bytes each). Past --max-unread-bytes-per-org a large reply
    # is a small REPLY_TOO_LARGE; another org is served as usual.
    ur, ur_sock, ur_token = extra_server(
        "unread", "--durability", "none", "--max-unread-bytes-per-org", "8MiB",
        "--max-unread-bytes", "64MiB")
    try:
        ua = Conn(ur_sock)
        ua.call("token.authenticate", {"token": ur_token})
        ids = ["005%012dAAA" % i for i in range(2000)]
        readers = {}
        for org in ("acme", "beta"):
            ua.call("org.create", {"org": org, "name": org})
            err, _ = ua.call("user.upsert_bulk", {"org": org, "users": [
                {"id": i, "name": "n" * 200, "profile": "p" * 60} for i in ids]})
            check(err is None, "%s's users: %r" % (org, err))
            err, res = ua.call("token.create", {"org": org, "role": "read_only", "label": "x"})
            readers[org] = res["token"] if res else None
        batch = {"users": ids}
        # One reply is about 0.6 MB: 6 connections x 4 unread replies pass 8 MiB.
        sleepers = []
        for _ in range(6):
            c = Conn(ur_sock)
            c.call("token.authenticate", {"token": readers["acme"]})
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.sock.sendall(b"".join(msgpack.packb([0, 100 + k, "softphone.check_batch",
                                                   [dict(batch, org="acme")]])
                                    for k in range(4)))
            sleepers.append(c)
        time.sleep(2)
        late = Conn(ur_sock)
        late.call("token.authenticate", {"token": readers["acme"]})
        err, _ = late.call("softphone.check_batch", dict(batch, org="acme"))
        check(err and err.get("name") == "REPLY_TOO_LARGE"
              and "this org's connections' unread replies" in err.get("message", ""),
              "past acme's unread budget, acme's next batch is REPLY_TOO_LARGE: %r" % (err,))
        other = Conn(ur_sock)
        other.call("token.authenticate", {"token": readers["beta"]})
        err, res = other.call("softphone.check_batch", dict(batch, org="beta"))
        check(err is None and res is not None,
              "another org's batch is answered while acme's replies lie unread: %r" % (err,))
        for c in sleepers:
            c.sock.close()
        time.sleep(0.5)
        err, res = late.call("softphone.check_batch", dict(batch, org="acme"))
        check(err is None, "once acme's unread replies are gone, its batch is answered: %r"
              % (err,))
        check(ur.poll() is None, "the server lives through the unread flood")
    finally:
        ur.kill()
        ur.wait()
finally:
    if server.poll() is None:
        server.kill()
    server.wait()
    if failed:
        sys.stderr.write(open(os.path.join(work, "server.log"), errors="replace").read()[-3000:])
    shutil.rmtree(work, ignore_errors=True)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
