"""Edges that break naive servers: split and coalesced input, header spellings,
long lines, stderr floods, children that die mid-stream, IPv6."""
import asyncio
import socket
import time

import pytest
import websockets

import wsb
from wsb import script


@pytest.fixture
def echo(start_server):
    return start_server([script("echo.sh")])


def finish_handshake(sock, key, timeout=5):
    head, rest = wsb.read_http_head(sock, timeout)
    status, _, headers = wsb.parse_head(head)
    assert status == 101, (status, headers)
    assert dict(headers).get("sec-websocket-accept") == wsb.accept_for(key)
    return rest


def test_request_and_frames_delivered_byte_by_byte(echo):
    key = wsb.make_key()
    data = wsb.upgrade_request(echo.port, key=key)
    with socket.create_connection(("127.0.0.1", echo.port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in data:
            s.sendall(bytes([b]))
            time.sleep(0.0005)
        rest = finish_handshake(s, key)
        c = wsb.RawWS.__new__(wsb.RawWS)
        c.sock, c.buf = s, rest
        frame = wsb.encode_frame(wsb.OP_TEXT, "split ✓".encode())
        for b in frame:
            s.sendall(bytes([b]))
            time.sleep(0.0005)
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, "split ✓".encode())


@pytest.mark.differs_from_websocketd("gorilla refuses a client that sends data before the "
                                     "handshake completes and drops the connection")
def test_frames_in_the_same_packet_as_the_request(echo):
    key = wsb.make_key()
    frames = b"".join(wsb.encode_frame(wsb.OP_TEXT, f"early {i}".encode()) for i in range(3))
    with socket.create_connection(("127.0.0.1", echo.port), timeout=5) as s:
        s.sendall(wsb.upgrade_request(echo.port, key=key) + frames)
        rest = finish_handshake(s, key)
        c = wsb.RawWS.__new__(wsb.RawWS)
        c.sock, c.buf = s, rest
        for i in range(3):
            assert c.recv_message(timeout=5) == (wsb.OP_TEXT, f"early {i}".encode())


@pytest.mark.parametrize("upgrade,connection", [
    ("websocket", "Upgrade"),
    ("WebSocket", "upgrade"),
    ("websocket", "keep-alive, Upgrade"),   # Firefox
    ("WEBSOCKET", "Keep-Alive,UPGRADE"),
])
def test_upgrade_header_spellings(echo, upgrade, connection):
    with wsb.RawWS(echo.port, headers={"Upgrade": upgrade, "Connection": connection}) as c:
        c.send_text("ok")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"ok")


def test_lowercase_header_names(echo):
    key = wsb.make_key()
    req = (f"GET / HTTP/1.1\r\nhost: 127.0.0.1:{echo.port}\r\nupgrade: websocket\r\n"
           f"connection: Upgrade\r\nsec-websocket-key: {key}\r\n"
           f"sec-websocket-version: 13\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", echo.port), timeout=5) as s:
        s.sendall(req)
        finish_handshake(s, key)


def test_no_subprotocol_or_extension_is_negotiated(echo):
    with wsb.RawWS(echo.port, headers={"Sec-WebSocket-Protocol": "chat",
                                       "Sec-WebSocket-Extensions": "permessage-deflate"}) as c:
        assert c.response.header("sec-websocket-protocol") is None
        assert c.response.header("sec-websocket-extensions") is None


def test_header_ws_sets_subprotocol(start_server):
    srv = start_server([script("echo.sh")], flags=["--header-ws=Sec-WebSocket-Protocol: chat"])
    with wsb.RawWS(srv.port, headers={"Sec-WebSocket-Protocol": "chat"}) as c:
        assert c.response.header("sec-websocket-protocol") == "chat"
        c.send_text("proto")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"proto")


def test_header_goes_on_101_responses_only(start_server):
    # Documented: --header adds to upgrade (101) responses, repeatable, as
    # websocketd 0.4.1 does; plain HTTP answers do not carry it.
    srv = start_server([script("echo.sh")], flags=["--header=X-Extra: one", "--header=X-Other: two"])
    with wsb.RawWS(srv.port) as c:
        assert c.response.header("x-extra") == "one", c.response
        assert c.response.header("x-other") == "two", c.response
        c.send_text("with headers")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"with headers")
    r = wsb.http_request(srv.port, "/", connection_close=True)
    assert r.status == 404 and r.header("x-extra") is None, r


def test_long_stdout_line_is_one_message(start_server):
    srv = start_server([script("long_line.sh"), "300000"])
    with wsb.RawWS(srv.port) as c:
        assert c.recv_message(timeout=10) == (wsb.OP_TEXT, b"L" * 300000)
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"end")


@pytest.mark.differs_from_websocketd("--maxmessage does not exist in websocketd 0.4.1")
def test_line_longer_than_maxmessage_is_split_not_lost(start_server):
    srv = start_server([script("long_line.sh"), "2500"], flags=["--maxmessage=1000"])
    with wsb.RawWS(srv.port) as c:
        got = b""
        for _ in range(10):
            op, payload = c.recv_message(timeout=5)
            assert op == wsb.OP_TEXT
            if payload == b"end":
                break
            assert len(payload) <= 1000, f"message of {len(payload)} bytes over --maxmessage"
            got += payload
        assert got == b"L" * 2500


@pytest.mark.differs_from_websocketd("a stderr line over 4096 bytes stops websocketd's "
                                     "stderr reader and the child blocks")
def test_huge_stderr_line_does_not_block_the_child(start_server):
    srv = start_server([script("stderr_flood.sh")])
    with wsb.RawWS(srv.port) as c:
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"done")
        c.send_text("still alive")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"still alive")


@pytest.mark.differs_from_websocketd("websocketd sends invalid UTF-8 in text frames")
def test_invalid_utf8_output_is_replaced_and_connection_survives(start_server):
    srv = start_server([script("invalid_utf8.sh")])

    async def go():
        async with websockets.connect(srv.url(), compression=None, ping_interval=None) as ws:
            got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(3)]
            assert got == ["ok", "\ufffd\ufffdbad", "after"]
            await ws.send("more")
            assert await asyncio.wait_for(ws.recv(), 5) == "more"
    asyncio.run(asyncio.wait_for(go(), 15))


@pytest.mark.timeout(30)
def test_child_exiting_while_client_floods(start_server):
    srv = start_server([script("exit_after.sh"), "1"])
    for _ in range(3):
        with wsb.RawWS(srv.port) as c:
            c.sock.settimeout(2)
            try:
                for i in range(2000):
                    c.send_text(f"flood {i} " + "x" * 200)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                pass
            # Whatever happens to the flood, the session ends (the close
            # handshake's 2 s timer at the latest; 10 s is the hang bound)
            # and the server lives.
            assert c.wait_eof(10), "the connection outlived its child"
    with wsb.RawWS(srv.port) as c:
        c.send_text("fresh")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"fresh")


@pytest.mark.timeout(30)
def test_many_connect_disconnect_cycles_leave_no_children(start_server, stray):
    srv = start_server([script("pid_cat.sh")])
    pids = []
    for i in range(40):
        c = wsb.RawWS(srv.port)
        (pid,) = [int(x) for x in c.recv_message(timeout=5)[1].split()]
        pids.append(pid)
        stray.add(pid)
        if i % 2:
            c.send_close(1000)
        c.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(wsb.pid_alive(p) for p in pids):
        time.sleep(0.05)
    alive = [p for p in pids if wsb.pid_alive(p)]
    assert not alive, f"children still alive: {alive}"


def test_ipv6_loopback(start_server):
    srv = start_server([script("echo.sh")], address="[::1]")
    with wsb.RawWS(srv.port, host="::1") as c:
        c.send_text("six")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"six")
