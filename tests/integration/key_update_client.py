"""A TLS 1.3 client that sends KeyUpdate(update_requested) messages and never
reads, as a hostile client would to make the server queue a reply record for
each. Python's ssl module cannot send a KeyUpdate, so this drives the
system's libssl through ctypes: SSL_key_update, then SSL_do_handshake to put
the message on the wire at once.
"""
from __future__ import annotations

import ctypes
import socket
import struct

_SSL_KEY_UPDATE_REQUESTED = 1
_SSL_CTRL_SET_MIN_PROTO_VERSION = 123
_TLS1_3_VERSION = 0x0304
_SSL_ERROR_WANT_WRITE = 3


def _libssl():
    lib = ctypes.CDLL("libssl.so.3", use_errno=True)
    p = ctypes.c_void_p
    for name, restype, argtypes in (
            ("TLS_client_method", p, []),
            ("SSL_CTX_new", p, [p]),
            ("SSL_CTX_free", None, [p]),
            ("SSL_CTX_ctrl", ctypes.c_long, [p, ctypes.c_int, ctypes.c_long, p]),
            ("SSL_new", p, [p]),
            ("SSL_free", None, [p]),
            ("SSL_set_fd", ctypes.c_int, [p, ctypes.c_int]),
            ("SSL_connect", ctypes.c_int, [p]),
            ("SSL_key_update", ctypes.c_int, [p, ctypes.c_int]),
            ("SSL_do_handshake", ctypes.c_int, [p]),
            ("SSL_write", ctypes.c_int, [p, ctypes.c_char_p, ctypes.c_int]),
            ("SSL_get_error", ctypes.c_int, [p, ctypes.c_int])):
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def flood_key_updates(port: int, upgrade_request: bytes, count: int, blocked_after: float) -> int:
    """Connects to 127.0.0.1:port with TLS 1.3 (no certificate check: only the
    record layer matters), sends `upgrade_request`, then up to `count`
    KeyUpdate(update_requested) messages without ever reading. Returns how
    many were sent before a send stayed blocked for `blocked_after` seconds
    (the server stopped reading), or `count` when none did."""
    lib = _libssl()
    ctx = lib.SSL_CTX_new(lib.TLS_client_method())
    if not ctx:
        raise RuntimeError("SSL_CTX_new failed")
    ssl = None
    # Small buffers, so the server's replies back up into its own memory
    # after a few KiB instead of megabytes of kernel buffers, and a send
    # blocks soon after the server stops reading.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    try:
        # libssl needs a blocking descriptor; the kernel's timeouts bound
        # every wait instead (the handshake's by 10 s).
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 10, 0))
        lib.SSL_CTX_ctrl(ctx, _SSL_CTRL_SET_MIN_PROTO_VERSION, _TLS1_3_VERSION, None)
        ssl = lib.SSL_new(ctx)
        lib.SSL_set_fd(ssl, sock.fileno())
        if lib.SSL_connect(ssl) != 1:
            raise RuntimeError("TLS handshake failed")
        # A WebSocket upgrade first, so no request timeout ends the
        # connection; its answer is never read either.
        if lib.SSL_write(ssl, upgrade_request, len(upgrade_request)) != len(upgrade_request):
            raise RuntimeError("sending the upgrade request failed")
        # From here a send that waits this long fails with EAGAIN, which
        # libssl reports as SSL_ERROR_WANT_WRITE.
        seconds = int(blocked_after)
        micros = int((blocked_after - seconds) * 1e6)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", seconds, micros))
        for sent in range(count):
            if lib.SSL_key_update(ssl, _SSL_KEY_UPDATE_REQUESTED) != 1:
                raise RuntimeError(f"SSL_key_update failed after {sent}")
            result = lib.SSL_do_handshake(ssl)
            if result != 1:
                if lib.SSL_get_error(ssl, result) == _SSL_ERROR_WANT_WRITE:
                    return sent
                raise RuntimeError(f"sending KeyUpdate {sent} failed ({lib.SSL_get_error(ssl, result)}, "
                                   f"errno {ctypes.get_errno()})")
        return count
    finally:
        if ssl:
            lib.SSL_free(ssl)
        lib.SSL_CTX_free(ctx)
        sock.close()
