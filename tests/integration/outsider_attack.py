#!/usr/bin/python3
"""An outsider's attack on switchboardd, with a client that is not ours.

Debian's python3-msgpack speaks to a real server as any msgpack-RPC client
would, reading nothing of Switchboard but docs/protocol.md:

  1. the wire contract the page states (response shape, msgid, error maps,
     notifications never answered, unknown methods answered, bad bytes close
     that connection alone);
  2. every method in the page's table, each of its documented arguments in
     turn replaced by a hostile value (long strings, NUL bytes, binary, the
     extreme integers, floats, nested maps), with an admin token, an org
     admin's and a read-only one: every request must get a well-formed answer
     whose error name and code are the page's, and the server must live;
  3. tenant isolation: a read-only token of one org gets the same refusal for
     another org's data as for data that does not exist;
  4. after all that, SIGTERM still stops the server with exit status 0.

usage: outsider_attack.py SWITCHBOARDD PROTOCOL_MD
Prints "N passed, N failed" and exits 1 on any failure.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import msgpack

SERVER, PROTOCOL_MD = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)
    return ok


# ---------------------------------------------------------------- the page
def read_protocol(path):
    """Methods with their arguments, and the error table, from the page."""
    text = open(path, encoding="utf-8").read()
    methods = {}
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        name = re.match(r"`([a-z_]+\.[a-z_]+)`", block)
        if not name:
            continue
        args = re.findall(r"^\| `([a-z_]+)` \| (\w+) \| (yes|no) \|", block, flags=re.M)
        methods[name.group(1)] = [(a, t, req == "yes") for a, t, req in args]
    errors = dict((name, int(code))
                  for code, name in re.findall(r"^\| (\d+) \| `([A-Z_]+)` \|", text, flags=re.M))
    return methods, errors


METHODS, ERRORS = read_protocol(PROTOCOL_MD)
check(len(METHODS) >= 40, "the page lists the methods (found %d)" % len(METHODS))
check("INVALID_ARGUMENT" in ERRORS and "NOT_FOUND" in ERRORS, "the page lists the errors")


# ---------------------------------------------------------------- the wire
class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False, unicode_errors="surrogateescape",
                                         strict_map_key=False, max_buffer_size=64 << 20)
        self.msgid = 0

    def send(self, msg):
        self.sock.sendall(msgpack.packb(msg, use_bin_type=True))

    def recv(self):
        """The next message, or None when the server closed the connection.
        Notifications (a changes.watch's) are checked and set aside."""
        while True:
            for msg in self.unpacker:
                if isinstance(msg, list) and len(msg) == 3 and msg[0] == 2:
                    notification(self, msg)
                    continue
                return msg
            try:
                data = self.sock.recv(1 << 16)
            except (ConnectionResetError, socket.timeout):
                return None
            if not data:
                return None
            self.unpacker.feed(data)

    def call(self, method, args=None):
        """(error, result, the whole response), or (None, None, None) when closed."""
        self.msgid = (self.msgid + 1) & 0xFFFFFFFF
        try:
            self.send([0, self.msgid, method, [args] if args is not None else []])
        except (BrokenPipeError, ConnectionResetError):
            return None, None, None
        reply = self.recv()
        if reply is None:
            return None, None, None
        return (reply[2] if len(reply) == 4 else None), (reply[3] if len(reply) == 4 else None), reply

    def close(self):
        self.sock.close()


NOTIFIED = {"changes": 0, "changes.error": 0}
WATCH_KEYS = {"org", "seq", "time", "token", "method", "ids", "summary", "changes",
              "changes_total"}


def notification(conn, msg):
    """A notification as the page says: [2, "changes", {org, seq, ...}] of the
    watching token's own org only, or [2, "changes.error", {code, name, message}]."""
    _, name, params = msg
    if not check(name in NOTIFIED and isinstance(params, dict),
                 "a notification is changes or changes.error with a map: %r" % (str(msg)[:200],)):
        return
    NOTIFIED[name] += 1
    if name == "changes.error":
        check(set(params) >= {"code", "name", "message"} and params.get("name") in ERRORS,
              "changes.error is {code, name, message}: %r" % (params,))
        return
    check(set(params) >= WATCH_KEYS, "a changes notification holds %s: %r" %
          (sorted(WATCH_KEYS), sorted(params)))
    org = TOKEN_ORG.get(getattr(conn, "token", None))
    if org is not None:
        check(params.get("org") == org and "log_seq" not in params and "org_seq" not in params,
              "an org's token sees its own org's writes, numbered by the org only: %r" %
              ({k: params.get(k) for k in ("org", "seq", "log_seq", "org_seq")},))


def well_formed(reply, msgid, what):
    """A response as the page says: [1, msgid, error, result], error nil or {code, name, message}."""
    if not check(isinstance(reply, list) and len(reply) == 4 and reply[0] == 1,
                 "%s: a response is [1, msgid, error, result], got %r" % (what, str(reply)[:200])):
        return False
    ok = check(reply[1] == msgid, "%s: msgid %r answered as %r" % (what, msgid, reply[1]))
    err = reply[2]
    if err is not None:
        ok &= check(isinstance(err, dict) and set(err) >= {"code", "name", "message"},
                    "%s: an error is a map {code, name, message}: %r" % (what, err))
        if isinstance(err, dict):
            name = err.get("name")
            ok &= check(name in ERRORS, "%s: error name %r is not in the page's table" % (what, name))
            ok &= check(ERRORS.get(name) == err.get("code"),
                        "%s: %s has code %r, the page says %r" % (what, name, err.get("code"),
                                                                   ERRORS.get(name)))
            msg = err.get("message")
            ok &= check(isinstance(msg, str) and 0 < len(msg) < 4096,
                        "%s: an error's message is a sentence: %r" % (what, str(msg)[:200]))
    return ok


# ---------------------------------------------------------------- the server
work = tempfile.mkdtemp(prefix="sboutsider.")
data_dir = os.path.join(work, "data")
sock_path = os.path.join(data_dir, "switchboard.sock")
log = open(os.path.join(work, "server.log"), "wb")
server = subprocess.Popen([SERVER, "--data-dir", data_dir, "--durability", "none"],
                          stdout=log, stderr=log)


def cleanup():
    if server.poll() is None:
        server.kill()
        server.wait()
    shutil.rmtree(work, ignore_errors=True)


def alive(what, grace=0.0):
    """Fails the run when the server has died (waiting up to `grace` s for a dying one)."""
    deadline = time.monotonic() + grace
    while server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if server.poll() is not None:
        check(False, "%s: the server died (status %r); its log:" % (what, server.returncode))
        log.flush()
        sys.stderr.write(open(os.path.join(work, "server.log"), errors="replace").read()[-4000:])
        report_and_exit()
    return True


def report_and_exit():
    cleanup()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


for _ in range(200):
    if os.path.exists(sock_path) and os.path.exists(os.path.join(data_dir, "admin.token")):
        break
    time.sleep(0.05)
alive("start")
admin_token = open(os.path.join(data_dir, "admin.token")).read().strip()


TOKEN_ORG = {}  # an org token's org (the admin's is absent)


def connect(token):
    c = Conn(sock_path)
    c.token = token
    err, res, _ = c.call("token.authenticate", {"token": token})
    if not check(err is None, "authenticate: %r" % (err,)):
        report_and_exit()
    return c


# 1. The wire contract.
c = Conn(sock_path)
err, _, reply = c.call("server.info", {})
well_formed(reply, c.msgid, "before authenticating")
check(err and err.get("name") == "UNAUTHENTICATED", "a request before authenticating: %r" % (err,))
err, res, reply = c.call("token.authenticate", {"token": admin_token})
check(err is None and isinstance(res, dict), "the admin token authenticates: %r" % (err,))
err, _, reply = c.call("no.such_method", {})
well_formed(reply, c.msgid, "unknown method")
check(err and err.get("name") == "UNKNOWN_METHOD", "an unknown method: %r" % (err,))
err, res, reply = c.call("server.info")  # params [] : no arguments
check(err is None and isinstance(res, dict), "params [] is no arguments: %r" % (err,))
c.send([2, "server.info", [{}]])  # a notification: executed, never answered
err, res, reply = c.call("server.info", {})
well_formed(reply, c.msgid, "the request after a notification")
check(err is None, "the connection works after a notification and an unknown method")
for bad in ([0, 1, "server.info"], [0, "one", "server.info", []], [7, 1, "server.info", []],
            [0, 1, 42, []], {"not": "an array"}):
    c2 = Conn(sock_path)
    c2.call("token.authenticate", {"token": admin_token})
    c2.send(bad)
    reply = c2.recv()
    check(reply is None or (isinstance(reply, list) and reply[0] == 1 and reply[2]),
          "a message that is not a request is refused or closes: %r" % (bad,))
    c2.close()
c3 = Conn(sock_path)
c3.sock.sendall(b"\xc1" * 16)  # 0xc1 is never used by msgpack
check(c3.recv() is None, "bytes that are not msgpack close the connection")
c3.close()
err, res, _ = c.call("server.info", {})
check(err is None, "another connection is unharmed by a framing error")
alive("the wire contract")

# The tenants and their tokens.
for org in ("acme", "beta", "scratch"):
    err, _, _ = c.call("org.create", {"org": org, "name": org.title()})
    check(err is None, "org.create %s: %r" % (org, err))
err, res, _ = c.call("callcenter.create", {
    "org": "acme", "internal_name": "SupportEU", "display_name": "Support (EU)",
    "adapter_url": "https://softphone.example.com/cti", "softphone_height": 500,
    "softphone_width": 320, "compatibility_mode": "Lightning"})
check(err is None, "callcenter.create: %r" % (err,))
cc_id = res.get("id") if isinstance(res, dict) else "04v000000000000AAA"
err, _, _ = c.call("user.upsert", {"org": "acme", "id": "005000000000001AAA", "name": "Ada",
                                   "profile": "Agent"})
check(err is None, "user.upsert: %r" % (err,))
err, _, _ = c.call("member.add", {"org": "acme", "user": "005000000000001AAA",
                                  "callcenter": "SupportEU"})
check(err is None, "member.add: %r" % (err,))
tokens = {}
for org, role in (("acme", "read_only"), ("beta", "org_admin")):
    err, res, _ = c.call("token.create", {"org": org, "role": role, "label": "outsider"})
    check(err is None and "token" in res, "token.create %s %s: %r" % (org, role, err))
    tokens[role] = res["token"]
    TOKEN_ORG[res["token"]] = org

# 2. Every method, every documented argument, hostile values.
GOOD = {
    "org": "acme", "callcenter": "SupportEU", "id": cc_id, "user": "005000000000001AAA",
    "users": ["005000000000001AAA"], "internal_name": "Probe1", "display_name": "Probe",
    "adapter_url": "https://probe.example.com", "name": "Probe", "profile": "Agent",
    "role": "read_only", "limit": 10, "after": "", "softphone_height": 500,
    "softphone_width": 320, "compatibility_mode": "Lightning",
}
# Methods whose ordinary arguments would destroy the set-up act on a scratch org or a missing id.
DESTRUCTIVE = {"org.delete": {"org": "scratch"}, "token.revoke": {"id": "tk_000000000000"},
               "callcenter.delete": {"callcenter": "NoSuchCenter"}}
HOSTILE = [
    "", "A" * 17, "A" * 19, "A" * 65, "A" * 400, "B" * 1025, "C" * 5000, "D" * 70000,
    "005000000000001AAA\x00junk", "acme\x00", "\x00", "../../etc/passwd", "%s%n%s%n",
    "\udcff\udcfe", b"binary\x00bytes", 0, -1, 2**63 - 1, -2**63, 2**64 - 1, 1e308, -0.0,
    True, None, [], ["A" * 400] * 3, {}, {"a": {"b": [1, {"c": "A" * 300}]}},
]



def attack(conn, who, method, args):
    for name, _type, _required in args:
        for value in HOSTILE:
            base = {a: GOOD[a] for a, _t, _r in args if a in GOOD}
            base.update(DESTRUCTIVE.get(method, {}))
            base[name] = value
            try:
                conn.msgid += 1
                conn.sock.sendall(msgpack.packb([0, conn.msgid, method, [base]], use_bin_type=True,
                                                unicode_errors="surrogateescape"))
            except (BrokenPipeError, ConnectionResetError):
                reply = None
            else:
                reply = conn.recv()
            what = "%s as %s, %s=%r" % (method, who, name, str(value)[:40])
            if reply is None:
                # Only a message over the size limit may close the connection.
                check(False, "%s: the connection was closed" % what)
                alive(what, grace=2.0)
                conn = connect(conn.token)
                continue
            well_formed(reply, conn.msgid, what)
        alive("%s as %s, %s" % (method, who, name))
    return conn


started = time.monotonic()
for who, token in (("admin", admin_token), ("org_admin of beta", tokens["org_admin"]),
                   ("read_only of acme", tokens["read_only"])):
    conn = connect(token)
    conn.token = token
    for method, args in sorted(METHODS.items()):
        if method == "token.authenticate":
            continue
        conn = attack(conn, who, method, args)
    conn.close()
print("attacked %d methods with %d values as 3 tokens in %.1f s; %d changes notifications "
      "came to the watches the attack started" %
      (len(METHODS), len(HOSTILE), time.monotonic() - started, NOTIFIED["changes"]))
check(NOTIFIED["changes"] > 0, "changes.watch sent notifications")

# 3. Tenant isolation: another org's data and missing data get the same refusal.
reader = connect(tokens["read_only"])
for method, args in sorted(METHODS.items()):
    names = [a for a, _t, _r in args]
    if "org" not in names or method.split(".")[0] in ("token",):
        continue
    replies = []
    for org in ("beta", "nopq"):
        base = {a: GOOD[a] for a in names if a in GOOD}
        base["org"] = org
        err, res, _ = reader.call(method, base)
        if isinstance(err, dict):
            err = dict(err, message=str(err.get("message")).replace(org, "ORG"))
        replies.append((err, res))
    check(replies[0] == replies[1],
          "%s: another org's data and a missing org answer alike: %r vs %r" %
          (method, replies[0], replies[1]))
    check(replies[0][0] is not None, "%s: acme's token is refused beta's data" % method)
reader.close()
alive("isolation")

# 4. SIGTERM still stops it cleanly.
c.close()
server.send_signal(signal.SIGTERM)
try:
    status = server.wait(timeout=30)
except subprocess.TimeoutExpired:
    status = None
check(status == 0, "SIGTERM stops the server with status 0 (got %r)" % (status,))
report_and_exit()
