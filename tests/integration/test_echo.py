"""Echo through `cat`: message ↔ line mapping, ordering, binary mode, pings."""
import asyncio
import os

import pytest
import websockets

import wsb
from wsb import script


PAD = "p" * 56


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def connect(url, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("compression", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("close_timeout", 3)
    return websockets.connect(url, **kw)


async def recv(ws, timeout=5):
    return await asyncio.wait_for(ws.recv(), timeout)


@pytest.fixture
def echo(start_server):
    return start_server([script("echo.sh")])


def test_text_messages_round_trip(echo):
    msgs = ["hello", "second message", "ünïcødé ✓ 😀", "x" * 70000]

    async def go():
        async with connect(echo.url()) as ws:
            for m in msgs:
                await ws.send(m)
                assert await recv(ws) == m
    run(go())


def test_empty_message_gives_empty_message(echo):
    async def go():
        async with connect(echo.url()) as ws:
            await ws.send("")
            assert await recv(ws) == ""
            await ws.send("after")
            assert await recv(ws) == "after"
    run(go())


def test_embedded_newline_becomes_two_messages(echo):
    async def go():
        async with connect(echo.url()) as ws:
            await ws.send("a\nb")
            assert await recv(ws) == "a"
            assert await recv(ws) == "b"
            await ws.send("c\n\nd")
            assert [await recv(ws) for _ in range(3)] == ["c", "", "d"]
    run(go())


def test_trailing_cr_from_client_is_stripped_with_the_newline(echo):
    # Client sends "x\r": the child reads "x\r\n", prints "x\r\n", which is "x".
    async def go():
        async with connect(echo.url()) as ws:
            await ws.send("x\r")
            assert await recv(ws) == "x"
    run(go())


def test_child_line_endings(start_server):
    srv = start_server([script("crlf.sh")])

    async def go():
        async with connect(srv.url()) as ws:
            got = [await recv(ws) for _ in range(5)]
            # One "\n" or "\r\n" is removed; a lone or second "\r" stays.
            assert got == ["x", "mid\rdle", "", "y\r", "z"]
    run(go())


@pytest.mark.timeout(60)
def test_many_pipelined_messages_come_back_in_order(echo):
    n = 20000  # about 1.4 MB each way

    async def go():
        # max_queue=None: the client library keeps draining the socket, but the
        # test reads nothing until every message has been sent.
        async with connect(echo.url(), max_queue=None) as ws:
            async def sender():
                for i in range(n):
                    await ws.send(f"message {i:06d} " + PAD)
            # Everything is sent before a single message is read.
            try:
                await asyncio.wait_for(sender(), 20)
            except asyncio.TimeoutError:
                pytest.fail("could not send 20000 small messages within 20 s "
                            "(server stopped reading: relay deadlock?)")
            for i in range(n):
                try:
                    got = await recv(ws, 10)
                except asyncio.TimeoutError:
                    pytest.fail(f"message {i} never came back (relay deadlock?)")
                assert got == f"message {i:06d} " + PAD
    run(go(), timeout=50)


@pytest.mark.differs_from_websocketd("one goroutine relays both directions: blocked writing "
                                     "stdin while cat is blocked writing stdout")
@pytest.mark.timeout(40)
def test_one_two_mib_message_of_short_lines(echo):
    lines = [f"{i:07d}" + "q" * 92 for i in range(20000)]  # 100 bytes each, 2 MB

    async def go():
        async with connect(echo.url(), max_queue=None) as ws:
            send = asyncio.ensure_future(ws.send("\n".join(lines)))
            for i, want in enumerate(lines):
                try:
                    got = await recv(ws, 10)
                except asyncio.TimeoutError:
                    pytest.fail(f"line {i} of {len(lines)} never came back (relay deadlock)")
                assert got == want
            await asyncio.wait_for(send, 5)
    run(go(), timeout=35)


@pytest.mark.differs_from_websocketd("binary mode deadlocks for payloads over 64 KiB (BUG006)")
@pytest.mark.timeout(40)
def test_one_mib_binary_message_through_cat(start_server):
    srv = start_server([script("echo.sh")], flags=["--binary"])
    data = os.urandom(1 << 20)

    async def go():
        async with connect(srv.url()) as ws:
            send = asyncio.ensure_future(ws.send(data))
            got = bytearray()
            while len(got) < len(data):
                try:
                    m = await recv(ws, 10)
                except asyncio.TimeoutError:
                    pytest.fail(f"only {len(got)} of {len(data)} bytes came back")
                assert isinstance(m, bytes), "binary mode must send binary messages"
                got += m
            await asyncio.wait_for(send, 5)
            assert len(got) == len(data)
            assert bytes(got) == data
    run(go(), timeout=35)


def test_ping_answered_with_same_payload(echo):
    with wsb.RawWS(echo.port) as c:
        for payload in (b"ping-payload-1", b"", bytes(range(125))):
            c.send_frame(wsb.OP_PING, payload)
            msg = c.recv_message(timeout=5, return_control=True)
            assert msg == (wsb.OP_PONG, payload)
        # The connection still works afterwards.
        c.send_text("after pings")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"after pings")


def test_ping_via_client_library(echo):
    async def go():
        async with connect(echo.url()) as ws:
            waiter = await ws.ping(b"abc")
            await asyncio.wait_for(waiter, 5)
    run(go())


def test_two_connections_get_separate_children(echo):
    async def go():
        async with connect(echo.url()) as a, connect(echo.url()) as b:
            await a.send("to-a")
            await b.send("to-b")
            assert await recv(b) == "to-b"
            assert await recv(a) == "to-a"
    run(go())


def test_binary_message_in_text_mode_is_written_raw(echo):
    # websocketd 0.4.1: a binary message goes to stdin as is, with no newline.
    with wsb.RawWS(echo.port) as c:
        c.send_frame(wsb.OP_BIN, b"bin")
        c.send_text("after")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"binafter")


def test_text_message_in_binary_mode_gets_newline(start_server):
    srv = start_server([script("echo.sh")], flags=["--binary"])
    with wsb.RawWS(srv.port) as c:
        c.send_text("txt")
        got = b""
        while len(got) < 4:
            op, payload = c.recv_message(timeout=5)
            assert op == wsb.OP_BIN
            got += payload
        assert got == b"txt\n"


@pytest.mark.timeout(60)
def test_fifty_concurrent_connections(echo):
    async def one(i):
        async with connect(echo.url()) as ws:
            for j in range(10):
                await ws.send(f"c{i} m{j}")
                assert await recv(ws, 10) == f"c{i} m{j}"

    async def go():
        await asyncio.gather(*(one(i) for i in range(50)))
    run(go(), timeout=45)
