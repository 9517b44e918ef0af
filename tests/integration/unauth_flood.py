#!/usr/bin/env python3
"""Measures switchboardd's memory under a flood of large messages (issue 12, item 4).

Opens N connections that each send most of one large message without ever
authenticating, then hangs them all up, and prints the server's resident
memory (VmRSS) and peak (VmHWM) at each step, and whether the admin can still
connect and authenticate in the middle of the flood.

    tests/integration/unauth_flood.py --socket DATA/switchboard.sock --pid PID \
        --token-file DATA/admin.token [--clients 1000] [--bytes 1000000]

By hand, not in the suite: it moves a gigabyte through the socket.
"""
import argparse
import socket
import struct
import time


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) // 1024
    return f"RSS {out['VmRSS']} MiB (peak {out['VmHWM']} MiB)"


def pack_str(s):
    b = s.encode()
    return bytes([0xA0 | len(b)]) + b if len(b) < 32 else b"\xd9" + bytes([len(b)]) + b


def admin_gets_in(path, token):
    """token.authenticate as the admin: True when it is answered without an error."""
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(path)
        req = b"\x94\x00\x01" + pack_str("token.authenticate") + b"\x91\x81" + pack_str("token")
        req += pack_str(token)
        s.sendall(req)
        reply = s.recv(4096)
        s.close()
        # [1, 1, nil, {...}]: the error slot is nil (0xc0) on success
        return len(reply) > 3 and reply[3] == 0xC0
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--bytes", type=int, default=1000000)
    ap.add_argument("--authenticate", action="store_true",
                    help="authenticate each client as the admin first (a burst of large messages "
                         "from authenticated clients)")
    a = ap.parse_args()
    token = open(a.token_file).read().strip()
    print("before:", rss(a.pid))
    # A str32 declaring a little more than is sent: the message never completes.
    head = b"\xdb" + struct.pack(">I", a.bytes + 1000)
    body = head + b"x" * a.bytes
    conns, refused = [], 0
    for _ in range(a.clients):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(a.socket)
            if a.authenticate:
                req = b"\x94\x00\x01" + pack_str("token.authenticate") + b"\x91\x81"
                s.sendall(req + pack_str("token") + pack_str(token))
                s.recv(4096)
            s.setblocking(False)
            conns.append([s, 0])
        except OSError:
            refused += 1
            s.close()
    # Send round-robin until every client has sent all or its connection broke.
    deadline = time.time() + 60
    while time.time() < deadline:
        progress = False
        for c in conns:
            if c[0] is None or c[1] >= len(body):
                continue
            try:
                n = c[0].send(body[c[1]:c[1] + 65536])
                c[1] += n
                progress = progress or n > 0
            except BlockingIOError:
                pass
            except OSError:
                c[0].close()
                c[0] = None
        if not progress:
            break
    sent = sum(c[1] for c in conns)
    alive = sum(1 for c in conns if c[0] is not None)
    print(f"flood: {len(conns)} connected, {refused} refused at connect, {sent >> 20} MiB sent, "
          f"{alive} still open by the client's count")
    time.sleep(1)
    print("during:", rss(a.pid), "; admin gets in:", admin_gets_in(a.socket, token))
    for c in conns:
        if c[0] is not None:
            c[0].close()
    time.sleep(2)
    print("2 s after they left:", rss(a.pid))
    time.sleep(13)
    print("15 s after they left:", rss(a.pid))


if __name__ == "__main__":
    main()
