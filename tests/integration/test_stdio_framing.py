"""--framing=nul|length (issue 11): exact message boundaries between clients
and the program, newlines and any byte included. Malformed framing from the
program is logged and closes with 1011 after every message framed before it.
The client is python3-websockets."""
import asyncio
import os

import pytest
import websockets

import wsb

PY = "/usr/bin/python3"


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def exchange(srv, sent, expect):
    """Sends `sent`, reads `expect` replies, then closes; returns the replies."""
    async def go():
        async with websockets.connect(srv.url(), max_size=None, ping_interval=None, close_timeout=3) as ws:
            for message in sent:
                await ws.send(message)
            return [await asyncio.wait_for(ws.recv(), 10) for _ in range(expect)]
    return run(go())


def until_close(srv):
    """Every message until the server closes, and its close frame (code, reason)."""
    async def go():
        async with websockets.connect(srv.url(), max_size=None, ping_interval=None, close_timeout=3) as ws:
            got = []
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    got.append(await asyncio.wait_for(ws.recv(), 10))
            return got, ws.close_code, ws.close_reason
    return run(go())


def writer(data: bytes):
    """A program that writes `data` to stdout and exits 0."""
    return [PY, "-c", f"import sys; sys.stdout.buffer.write({data!r})"]


MULTILINE = ["a\nb\nc", "", "line with \r\n inside\n", "x" * 70000, "ünï ✓"]


@pytest.mark.differs_from_websocketd("websocketd has no --framing")
def test_nul_framing_keeps_multiline_text_messages_whole(start_server):
    srv = start_server(["cat"], flags=["--framing=nul"])
    assert exchange(srv, MULTILINE, len(MULTILINE)) == MULTILINE


@pytest.mark.differs_from_websocketd("websocketd has no --framing")
def test_nul_framing_with_binary_sends_binary_messages(start_server):
    srv = start_server(["cat"], flags=["--framing=nul", "--binary"])
    sent = [b"\x01\n\x02\xff", b"\n\n", "text too\n"]
    assert exchange(srv, sent, 3) == [b"\x01\n\x02\xff", b"\n\n", b"text too\n"]


@pytest.mark.differs_from_websocketd("websocketd has no --framing")
def test_length_framing_round_trips_any_bytes_exactly(start_server):
    srv = start_server(["cat"], flags=["--framing=length"])
    sent = [b"\x00\n\x00", b"", bytes(range(256)) * 400, "text\nwith newlines\n"]
    # Every message comes back binary, whatever it was sent as.
    assert exchange(srv, sent, 4) == [b"\x00\n\x00", b"", bytes(range(256)) * 400,
                                      "text\nwith newlines\n".encode()]


@pytest.mark.differs_from_websocketd("websocketd has no --framing")
def test_length_framing_reaches_the_program_prefixed(start_server):
    # The program reads one framed message and reports what it saw.
    program = ("import sys; n = int.from_bytes(sys.stdin.buffer.read(4), 'big'); "
               "body = sys.stdin.buffer.read(n); reply = repr((n, body)).encode(); "
               "sys.stdout.buffer.write(len(reply).to_bytes(4, 'big') + reply)")
    srv = start_server([PY, "-c", program], flags=["--framing=length"])
    assert exchange(srv, [b"two\nlines"], 1) == [repr((9, b"two\nlines")).encode()]


def test_a_length_over_maxmessage_closes_1011_after_the_framed_messages(start_server):
    good = b"\x00\x00\x00\x02ok"
    srv = start_server(writer(good + b"\x00\x10\x00\x00" + b"y" * 10), flags=["--framing=length", "--maxmessage=64K"])
    got, code, reason = until_close(srv)
    assert got == [b"ok"]
    assert (code, reason) == (1011, "message longer than the limit")
    assert srv.wait_log("Malformed output from process (--framing): message longer than the limit")


def test_a_nul_message_over_maxmessage_closes_1011(start_server):
    srv = start_server(writer(b"first\x00" + b"z" * 5000), flags=["--framing=nul", "--maxmessage=4K"])
    got, code, reason = until_close(srv)
    assert got == ["first"]
    assert (code, reason) == (1011, "message longer than the limit")


@pytest.mark.parametrize("framing, output, complete", [
    ("nul", b"one\x00two\x00three", ["one", "two"]),
    ("length", b"\x00\x00\x00\x03one\x00\x00\x00\x0atoo short", [b"one"]),
    ("length", b"\x00\x00\x00\x03one\x00\x00", [b"one"]),  # ends inside a prefix
])
def test_output_ending_mid_message_closes_1011_after_the_complete_ones(start_server, framing, output, complete):
    srv = start_server(writer(output), flags=[f"--framing={framing}"])
    got, code, reason = until_close(srv)
    assert got == complete
    assert (code, reason) == (1011, "output ended in the middle of a message")
    assert srv.wait_log("Malformed output from process (--framing): output ended in the middle of a message")


def test_well_framed_output_then_exit_closes_1000(start_server):
    srv = start_server(writer(b"\x00\x00\x00\x01a\x00\x00\x00\x00"), flags=["--framing=length"])
    assert until_close(srv) == ([b"a", b""], 1000, "")


@pytest.mark.parametrize("args, status, words", [
    (["--framing=lines"], 2, b"allowed: line, nul, length"),
    (["--framing=nul", "--passstderr"], 1, b"--passstderr cannot be used with --framing"),
    (["--framing=length", "--maxmessage=0"], 1, b"--framing=length needs --maxmessage"),
    (["--framing=length", "--maxmessage=4G"], 1, b"at most 4294967295"),
])
def test_meaningless_combinations_are_refused_at_start_up(bin_path, args, status, words):
    result = wsb.run_cli(bin_path, [*args, "cat"])
    assert result.returncode == status, result
    assert words in result.stderr, result.stderr


EXAMPLES = os.path.normpath(os.path.join(wsb.HERE, "..", "..", "examples", "framing"))


@pytest.mark.parametrize("name", ["nul_upper.sh", "nul_upper.py"])
def test_nul_examples(start_server, name):
    srv = start_server([os.path.join(EXAMPLES, name)], flags=["--framing=nul"])
    # ASCII: the shell upper-cases in the C locale the server gives it.
    assert exchange(srv, ["two\nlines", "", "x\r\n"], 3) == ["TWO\nLINES", "", "X\r\n"]


@pytest.mark.parametrize("name", ["length_echo.sh", "length_echo.py"])
def test_length_examples(start_server, name):
    srv = start_server([os.path.join(EXAMPLES, name)], flags=["--framing=length"])
    sent = [b"\x00two\nlines\x00", b"", bytes(range(256)) * 40]
    assert exchange(srv, sent, 3) == [b"echo: " + message for message in sent]
