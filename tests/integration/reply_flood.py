#!/usr/bin/python3
"""Measures what unread replies cost switchboardd (issue 12): 60 connections of
one read-only token that never read held 1.5 GB before --max-unread-bytes-per-org
(128 MiB by default) bounded one org's unread replies; 365 MB after, most of it
the batches being answered.

Starts a server in a temporary directory, gives one org 10,000 users with long
names, then opens N connections of one read-only token that each pipeline
softphone.check_batch requests of all 10,000 users and never read, and prints the
server's resident memory.

    tests/integration/reply_flood.py build/server/switchboardd [--conns 60]

By hand, not in the suite (outsider_growth.py tests the budget): it makes the
server hold hundreds of MiB.
"""
import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time

import msgpack


def rpc(sock, unpacker, method, args):
    sock.sendall(msgpack.packb([0, 1, method, [args]]))
    while True:
        for msg in unpacker:
            return msg[2], msg[3]
        unpacker.feed(sock.recv(1 << 20))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("--conns", type=int, default=60)
    ap.add_argument("--pipelined", type=int, default=8)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sbreplies.")
    data = os.path.join(work, "data")
    srv = subprocess.Popen([a.server, "--data-dir", data, "--durability", "none"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        path = os.path.join(data, "switchboard.sock")
        for _ in range(200):
            if os.path.exists(path) and os.path.exists(os.path.join(data, "admin.token")):
                break
            time.sleep(0.05)
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        up = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=1 << 30)
        rpc(s, up, "token.authenticate", {"token": open(os.path.join(data, "admin.token")).read().strip()})
        rpc(s, up, "org.create", {"org": "acme", "name": "acme"})
        ids = ["005%012dAAA" % i for i in range(10000)]
        for k in range(0, 10000, 2500):
            rpc(s, up, "user.upsert_bulk", {"org": "acme", "users": [
                {"id": i, "name": "n" * 200, "profile": "p" * 60} for i in ids[k:k + 2500]]})
        _, tok = rpc(s, up, "token.create", {"org": "acme", "role": "read_only", "label": "x"})
        req = b"".join(msgpack.packb([0, i, "softphone.check_batch", [{"org": "acme", "users": ids}]])
                       for i in range(a.pipelined))
        conns = []
        for _ in range(a.conns):
            c = socket.socket(socket.AF_UNIX)
            c.connect(path)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            rpc(c, msgpack.Unpacker(raw=False), "token.authenticate", {"token": tok["token"]})
            c.sendall(req)
            conns.append(c)
        time.sleep(3)
        status = dict(line.split(":", 1) for line in open("/proc/%d/status" % srv.pid))
        print("%d read-only connections, %d pipelined check_batch of 10,000 users each, unread: RSS %s"
              % (a.conns, a.pipelined, status["VmRSS"].strip()))
    finally:
        srv.kill()
        srv.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
