#!/usr/bin/env python3
"""A phone that pairs by the typed code, written from docs/relay-protocol.md alone, in another language.

It uses python-spake2 (SPAKE2_Symmetric) and websockets, not Caret's code: if it pairs with the relay, the
document names the construction exactly enough for a third party. Driven by tests/interop.rs.

    spake2_phone.py HOST PORT CODE NAME

Prints one JSON line: the credentials when paired, or {"refused": CODE, "message": …} when the desktop
refused (exit status 2). Any other failure is a traceback and exit status 1.
"""

import hashlib
import hmac
import json
import ssl
import struct
import sys

import spake2
from spake2 import SPAKE2_Symmetric
from websockets.sync.client import connect

IDENTITY = b"caret-desktop relay pairing v1"


def mac(key, *parts):
    """HMAC-SHA256 over the parts, each preceded by its length as an 8-byte big-endian number."""
    message = b"".join(struct.pack(">Q", len(part)) + part for part in parts)
    return hmac.new(key, message, hashlib.sha256).digest()


def refused(answer):
    print(json.dumps({"refused": answer.get("code"), "message": answer.get("message")}))
    sys.exit(2)


def main():
    host, port, code, name = sys.argv[1:5]
    # The password: the code's ASCII digits, everything else dropped.
    password = "".join(c for c in code if c in "0123456789").encode("ascii")

    # Not pinned (the phone has no fingerprint yet): the confirmation proves the certificate instead.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3

    # Generous deadlines: the test is about what is said, not how fast, and CI runs it beside other tests on
    # two cores (once, on 2026-12-08, the relay's answer to the upgrade took over 10 s there).
    with connect(f"wss://{host}:{port}/v1/pair/code", ssl=context, server_hostname="caret.local",
                 open_timeout=30) as socket:
        certificate = socket.socket.getpeercert(binary_form=True)
        seen = hashlib.sha256(certificate).digest()

        exchange = SPAKE2_Symmetric(password, idSymmetric=IDENTITY)
        outbound = exchange.start()
        assert len(outbound) == 33 and outbound[0] == 0x53
        socket.send(json.dumps({"type": "pake", "msg": outbound.hex(), "name": name}))
        answer = json.loads(socket.recv(timeout=30))
        if answer["type"] != "pake":
            refused(answer)
        key = exchange.finish(bytes.fromhex(answer["msg"]))

        socket.send(json.dumps({"type": "confirm", "mac": mac(key, b"caret phone v1", seen).hex()}))
        answer = json.loads(socket.recv(timeout=30))
        if answer["type"] != "paired":
            refused(answer)
        expected = mac(key, b"caret desktop v1", seen, answer["device_id"].encode("ascii"),
                       answer["token"].encode("ascii"))
        if answer["fingerprint"] != seen.hex() or not hmac.compare_digest(expected,
                                                                          bytes.fromhex(answer["mac"])):
            raise SystemExit("the desktop's confirmation did not check")
        print(json.dumps({
            "device_id": answer["device_id"],
            "token": answer["token"],
            "fingerprint": answer["fingerprint"],
            "address": f"{host}:{port}",
            "spake2_version": spake2.__version__,
        }))


if __name__ == "__main__":
    main()
