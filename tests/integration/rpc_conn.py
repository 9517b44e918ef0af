"""A msgpack-RPC connection to switchboardd as any client would make one
(Debian's python3-msgpack, no Switchboard code): authenticated at once,
one request at a time. Shared by the Python integration tests that drive
a server as operators' tools do (ops_service.py, cluster_replica.py)."""
import socket

import msgpack


class Conn:
    def __init__(self, path, token):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        self.msgid = 0
        err, _ = self.call("token.authenticate", {"token": token})
        assert err is None, err

    def call(self, method, args):
        """(error map or None, result); ({"name": "CLOSED"}, None) when the server hangs up."""
        self.msgid += 1
        self.sock.sendall(msgpack.packb([0, self.msgid, method, [args]], use_bin_type=True))
        while True:
            for msg in self.unpacker:
                return msg[2], msg[3]
            data = self.sock.recv(1 << 16)
            if not data:
                return {"name": "CLOSED"}, None
            self.unpacker.feed(data)

    def close(self):
        self.sock.close()
