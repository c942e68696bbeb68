"""RFC 6455 framing: every malformed client frame gets its close code; valid
but unusual framing (fragments, interleaved pings) works."""
import pytest

import wsb
from wsb import OP_BIN, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, script


@pytest.fixture
def echo(start_server):
    return start_server([script("echo.sh")])


def send_and_expect_close(port, frames, expected_code):
    """Send raw frames (bytes) and expect a close frame with expected_code,
    no echoed data, and then the TCP connection to end."""
    with wsb.RawWS(port) as c:
        # Prove the session works before the violation.
        c.send_text("before")
        assert c.recv_message(timeout=5) == (OP_TEXT, b"before")
        for f in frames:
            c.send_raw(f)
        try:
            code, _, data = c.expect_close(timeout=5)
        except wsb.Closed:
            pytest.fail(f"TCP closed without a close frame (expected {expected_code})")
        assert code == expected_code, f"close code {code}, expected {expected_code}"
        assert data == [], f"data delivered after the violation: {data!r}"
        assert c.wait_eof(5), "server did not close TCP after the protocol error"


F = wsb.encode_frame

MALFORMED = {
    # name: (frames, expected close code)
    "unmasked_frame": ([F(OP_TEXT, b"hello", mask=False)], 1002),
    "rsv1_set": ([F(OP_TEXT, b"hello", rsv=4)], 1002),
    "rsv2_set": ([F(OP_TEXT, b"hello", rsv=2)], 1002),
    "rsv3_set": ([F(OP_TEXT, b"hello", rsv=1)], 1002),
    "opcode_3": ([F(3, b"x")], 1002),
    "opcode_11": ([F(11, b"x")], 1002),
    "fragmented_ping": ([F(OP_PING, b"p", fin=False)], 1002),
    "ping_126_bytes": ([F(OP_PING, b"p" * 126)], 1002),
    "continuation_without_start": ([F(OP_CONT, b"orphan")], 1002),
    "text_during_fragmented_message": ([F(OP_TEXT, b"part1", fin=False), F(OP_TEXT, b"new")],
                                       1002),
    "binary_during_fragmented_message": ([F(OP_TEXT, b"part1", fin=False), F(OP_BIN, b"new")],
                                         1002),
    "invalid_utf8_single_frame": ([F(OP_TEXT, b"ab\xff\xfecd")], 1007),
    "invalid_utf8_second_fragment": ([F(OP_TEXT, b"valid ", fin=False),
                                      F(OP_CONT, b"\xc3\x28", fin=True)], 1007),
    "utf8_surrogate": ([F(OP_TEXT, b"\xed\xa0\x80")], 1007),
    "utf8_overlong": ([F(OP_TEXT, b"\xc0\xaf")], 1007),
    "close_one_byte_payload": ([F(OP_CLOSE, b"\x03")], 1002),
    "close_code_1005": ([F(OP_CLOSE, wsb.close_payload(1005))], 1002),
    "close_code_1006": ([F(OP_CLOSE, wsb.close_payload(1006))], 1002),
    "close_code_999": ([F(OP_CLOSE, wsb.close_payload(999))], 1002),
    "close_code_5000": ([F(OP_CLOSE, wsb.close_payload(5000))], 1002),
    "close_reason_invalid_utf8": ([F(OP_CLOSE, wsb.close_payload(1000, b"\xff\xfe"))], 1007),
    # 64-bit length with the most significant bit set (RFC 6455 §5.2).
    "length_msb_set": ([bytes([0x81, 0xFF]) + (1 << 63 | 5).to_bytes(8, "big") + b"\0\0\0\0"],
                       1002),
    # A 1 TiB frame: over the default --maxmessage (16 MiB), refused from its header.
    "length_one_tib": ([bytes([0x82, 0xFF]) + (1 << 40).to_bytes(8, "big") + b"\0\0\0\0"],
                       1009),
}

# Cases websocketd 0.4.1 (gorilla, no UTF-8 validation) gets wrong.
WEBSOCKETD_GETS_WRONG = {
    "invalid_utf8_single_frame": "no UTF-8 validation of text messages",
    "invalid_utf8_second_fragment": "no UTF-8 validation of text messages",
    "utf8_surrogate": "no UTF-8 validation of text messages",
    "utf8_overlong": "no UTF-8 validation of text messages",
    "close_reason_invalid_utf8": "no UTF-8 validation of close reasons",
    "close_one_byte_payload": "gorilla treats a 1-byte close payload as 'no status'",
    "length_one_tib": "websocketd has no message size limit",
    "length_msb_set": "gorilla drops TCP without a close frame",
}


def _cases():
    for name, (frames, code) in MALFORMED.items():
        marks = []
        if name in WEBSOCKETD_GETS_WRONG:
            marks.append(pytest.mark.differs_from_websocketd(WEBSOCKETD_GETS_WRONG[name]))
        yield pytest.param(frames, code, id=name, marks=marks)


@pytest.mark.parametrize("frames,code", list(_cases()))
def test_malformed_frame_gets_close_code(echo, frames, code):
    send_and_expect_close(echo.port, frames, code)


def test_fragmented_text_is_reassembled_into_one_line(echo):
    with wsb.RawWS(echo.port) as c:
        c.send_frame(OP_TEXT, b"hel", fin=False)
        c.send_frame(OP_CONT, b"lo w", fin=False)
        c.send_frame(OP_CONT, b"", fin=False)
        c.send_frame(OP_CONT, b"orld", fin=True)
        assert c.recv_message(timeout=5) == (OP_TEXT, b"hello world")


def test_utf8_character_split_across_fragments_is_valid(echo):
    text = "é€😀".encode()
    with wsb.RawWS(echo.port) as c:
        c.send_frame(OP_TEXT, text[:1], fin=False)
        c.send_frame(OP_CONT, text[1:4], fin=False)
        c.send_frame(OP_CONT, text[4:], fin=True)
        assert c.recv_message(timeout=5) == (OP_TEXT, text)


def test_ping_between_fragments_is_answered(echo):
    with wsb.RawWS(echo.port) as c:
        c.send_frame(OP_TEXT, b"first ", fin=False)
        c.send_frame(OP_PING, b"mid-ping")
        assert c.recv_message(timeout=5, return_control=True) == (OP_PONG, b"mid-ping")
        c.send_frame(OP_CONT, b"second", fin=True)
        assert c.recv_message(timeout=5) == (OP_TEXT, b"first second")


def test_large_frame_lengths(echo):
    # 126 → 16-bit length, 65536 → 64-bit length encodings.
    with wsb.RawWS(echo.port) as c:
        for n in (125, 126, 65535, 65536):
            c.send_text(b"L" * n)
            assert c.recv_message(timeout=5) == (OP_TEXT, b"L" * n)


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 3000, 4999])
def test_valid_close_codes_are_echoed(echo, code):
    with wsb.RawWS(echo.port) as c:
        c.send_close(code, b"reason")
        got, _, _ = c.expect_close(timeout=5)
        assert got == code
        assert c.wait_eof(5)


def test_empty_close_is_answered(echo):
    with wsb.RawWS(echo.port) as c:
        c.send_close(None)
        got, _, _ = c.expect_close(timeout=5)
        assert got in (None, 1000), got
        assert c.wait_eof(5)


def test_nul_and_control_bytes_pass_through(echo):
    with wsb.RawWS(echo.port) as c:
        c.send_text(b"a\x00b\x01\x1b[0m\x7f")
        assert c.recv_message(timeout=5) == (OP_TEXT, b"a\x00b\x01\x1b[0m\x7f")


def test_fragmented_binary_message_in_binary_mode(start_server):
    srv = start_server([script("echo.sh")], flags=["--binary"])
    with wsb.RawWS(srv.port) as c:
        c.send_frame(OP_BIN, b"\x00\x01", fin=False)
        c.send_frame(OP_PING, b"x")
        c.send_frame(OP_CONT, b"\x02\xff", fin=True)
        got = b""
        while len(got) < 4:
            msg = c.recv_message(timeout=5)
            assert msg[0] == OP_BIN
            got += msg[1]
        assert got == b"\x00\x01\x02\xff"


def test_server_frames_are_unmasked(echo):
    with wsb.RawWS(echo.port) as c:
        c.send_text("check mask")
        fin, op, payload, masked = c.recv_frame(timeout=5)
        assert (fin, op, payload, masked) == (True, OP_TEXT, b"check mask", False)


def test_protocol_error_ends_the_child(start_server, stray):
    srv = start_server([script("pid_cat.sh")])
    with wsb.RawWS(srv.port) as c:
        (pid,) = [int(x) for x in c.recv_message(timeout=5)[1].split()]
        stray.add(pid)
        c.send_raw(wsb.encode_frame(OP_TEXT, b"unmasked", mask=False))
        code, _, _ = c.expect_close(timeout=5)
        assert code == 1002
    assert wsb.wait_pid_gone(pid, 3) is not None, "child outlived the protocol error"
