"""Differential test: the same scripts and clients against websocketd 0.4.1
(/usr/bin/websocketd) and wsbridge must observe the same things, except for
the differences listed in DIFFERENCES, each deliberate and documented.

A scenario returns a dict of observations; every key whose value differs is
an observed difference "<scenario>:<key>". The observed set must equal the
listed set exactly: a new difference fails, and so does a listed one that
disappears (then the list is stale).
"""
import os

import pytest

import wsb
from wsb import script

DIFFERENCES = {
    "env:HTTP_PROXY": "httpoxy: wsbridge does not turn a Proxy request header into HTTP_PROXY",
    "exit:close_code": "child exit: websocketd drops TCP with no close frame (1006); "
                       "wsbridge sends a close frame that says how it ended (1000 for exit 0)",
    "partial:lines": "websocketd drops an unterminated last line at EOF; wsbridge delivers it",
    "invalid_utf8_output:payloads": "websocketd puts invalid UTF-8 in text frames; wsbridge "
                                    "replaces it with U+FFFD so clients do not fail",
    "invalid_utf8_input:result": "websocketd passes invalid UTF-8 text to the child; wsbridge "
                                 "closes with 1007 as RFC 6455 §8.1 requires",
    "handshake:bad_version": "websocketd answers 400; RFC 6455 §4.4 wants 426 with "
                             "Sec-WebSocket-Version: 13",
    "handshake:short_key": "websocketd's gorilla accepts any non-empty key; RFC 6455 §4.2.1 "
                           "needs 16 base64-encoded bytes (400)",
    "sigterm:close_code": "websocketd has no SIGTERM handler (clients see 1006); wsbridge "
                          "closes open connections with 1001",
    "unlaunchable:status": "a command that cannot start: websocketd answers 101 then drops "
                           "the connection; wsbridge answers 500 before the upgrade",
    "sigterm:exit_status": "websocketd is killed by SIGTERM (-15); wsbridge shuts down and "
                           "exits 0",
}

# Environment variables compared by presence only: their values differ by nature.
ENV_PRESENCE_ONLY = {"SERVER_SOFTWARE", "UNIQUE_ID", "REMOTE_PORT", "HTTP_SEC_WEBSOCKET_KEY"}


# ---------------------------------------------------------------- scenarios
# Each takes start(command, flags=()) -> Server and returns {key: observation}.

def sc_echo(start):
    srv = start([script("echo.sh")])
    sent = ["hello", "", "a\nb", "x\r", "ünï ✓", "  spaced  ", "tab\there", "c\r\nd"]
    with wsb.RawWS(srv.port) as c:
        for m in sent:
            c.send_text(m)
        replies = [c.recv_message(timeout=5) for _ in range(len(sent) + 2)]
        c.send_close(1000, b"done")
        code, _, _ = c.expect_close(timeout=5)
    return {"replies": replies, "close_echo": code}


def sc_exit(start):
    srv = start([script("lines_then_exit.sh"), "300"])
    with wsb.RawWS(srv.port) as c:
        lines, code = c.messages_until_end()
    return {"lines": lines, "close_code": code}


def sc_multiline(start):
    srv = start([script("crlf.sh")])
    with wsb.RawWS(srv.port) as c:
        return {"lines": [c.recv_message(timeout=5) for _ in range(5)]}


def sc_count(start):
    srv = start([script("count.sh"), "100"])
    with wsb.RawWS(srv.port) as c:
        lines, _ = c.messages_until_end()
    return {"lines": lines}


def sc_env(start):
    srv = start([script("env.sh")])
    headers = {"Host": "example.test:8080", "X-Foo-Bar": "v1", "Origin": "http://o.example",
               "User-Agent": "diff/1", "Proxy": "http://evil.example", "Cookie": "a=b; c=d",
               "X-Dup": "first", "x-dup": "second", "X_Under": "under",
               "X-Spaces": "  padded value  ", "X-Empty": ""}
    with wsb.RawWS(srv.port, "/dir/a%20b?x=1&y=%20z+q", headers) as c:
        lines, _ = c.messages_until_end()
    env = dict(line.decode().partition("=")[::2] for line in lines)
    out = {}
    for k, v in env.items():
        out[k] = "<present>" if k in ENV_PRESENCE_ONLY else v
    return out


def sc_partial(start):
    srv = start([script("partial.sh")])
    with wsb.RawWS(srv.port) as c:
        lines, _ = c.messages_until_end()
    return {"lines": lines}


def sc_invalid_utf8_output(start):
    srv = start([script("invalid_utf8.sh")])
    with wsb.RawWS(srv.port) as c:
        return {"payloads": [c.recv_message(timeout=5) for _ in range(3)]}


def sc_invalid_utf8_input(start):
    srv = start([script("echo.sh")])
    with wsb.RawWS(srv.port) as c:
        c.send_text(b"ab\xffcd")
        try:
            msg = c.recv_message(timeout=3)
        except (wsb.Closed, TimeoutError) as e:
            msg = type(e).__name__
    return {"result": msg}


def sc_handshake(start):
    srv = start([script("echo.sh")])
    p = srv.port

    def status(**kw):
        return wsb.http_exchange(p, wsb.upgrade_request(p, **kw)).status
    return {
        "bad_version": status(headers={"Sec-WebSocket-Version": "8"}),
        "missing_key": status(omit=("Sec-WebSocket-Key",)),
        "short_key": status(key="c2hvcnRrZXk="),
        "post": status(method="POST"),
        "plain_get": wsb.http_exchange(p, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").status,
    }


def sc_origin(start):
    srv = start([script("echo.sh")], flags=["--origin=http://good.example,"
                                            "https://other.example:8443,third.example"])
    p = srv.port

    def status(**kw):
        return wsb.http_exchange(p, wsb.upgrade_request(p, **kw)).status
    return {
        "evil": status(headers={"Origin": "http://evil.example"}),
        "none": status(),
        "null": status(headers={"Origin": "null"}),
        "good": status(headers={"Origin": "http://good.example"}),
        "good_other_port": status(headers={"Origin": "http://good.example:81"}),
        "good_https": status(headers={"Origin": "https://good.example"}),
        "upper_case_host": status(headers={"Origin": "http://GOOD.example"}),
        "second_entry": status(headers={"Origin": "https://other.example:8443"}),
        "second_entry_wrong_port": status(headers={"Origin": "https://other.example:8444"}),
        "schemeless_entry": status(headers={"Origin": "ws://third.example"}),
    }


def sc_sameorigin(start):
    srv = start([script("echo.sh")], flags=["--sameorigin"])
    p = srv.port

    def status(**kw):
        return wsb.http_exchange(p, wsb.upgrade_request(p, **kw)).status
    return {
        "same": status(headers={"Origin": f"http://127.0.0.1:{p}"}),
        "other_port": status(headers={"Origin": "http://127.0.0.1:1"}),
        "default_ports": status(headers={"Origin": "http://example.test",
                                         "Host": "example.test"}),
        "https_vs_http_host": status(headers={"Origin": "https://example.test",
                                              "Host": "example.test"}),
        "none": status(),
    }


def sc_maxforks(start):
    srv = start([script("echo.sh")], flags=["--maxforks=1"])
    with wsb.RawWS(srv.port) as c:
        c.send_text("hold")
        c.recv_message(timeout=5)
        second = wsb.http_exchange(srv.port, wsb.upgrade_request(srv.port)).status
    return {"second": second}


def sc_client_close(start):
    srv = start([script("echo.sh")])
    with wsb.RawWS(srv.port) as c:
        c.send_close(4001, b"bye")
        code, _, _ = c.expect_close(timeout=5)
    return {"echoed": code}


def sc_binary(start):
    srv = start([script("echo.sh")], flags=["--binary"])
    data = bytes(range(256)) * 4
    with wsb.RawWS(srv.port) as c:
        c.send_frame(wsb.OP_BIN, data)
        got = b""
        ops = set()
        while len(got) < len(data):
            op, payload = c.recv_message(timeout=5)
            ops.add(op)
            got += payload
    return {"data": got, "opcodes": sorted(ops)}


def sc_types(start):
    text_srv = start([script("echo.sh")])
    with wsb.RawWS(text_srv.port) as c:
        c.send_frame(wsb.OP_BIN, b"bin")
        c.send_text("after")
        text_mode = c.recv_message(timeout=5)
    bin_srv = start([script("echo.sh")], flags=["--binary"])
    with wsb.RawWS(bin_srv.port) as c:
        c.send_text("txt")
        got = b""
        while len(got) < 4:
            got += c.recv_message(timeout=5)[1]
    return {"binary_in_text_mode": text_mode, "text_in_binary_mode": got}


def sc_stderr(start):
    srv = start([script("stderr.sh")])
    with wsb.RawWS(srv.port) as c:
        first = c.recv_message(timeout=5)
        c.send_text("z")
        second = c.recv_message(timeout=5)
    srv.wait_log("to-stderr-line", 3)
    return {"messages": [first, second], "logged": "to-stderr-line" in srv.log()}


def sc_args(start):
    args = ["-x", "--port=1", "two words"]
    srv = start([script("args.sh"), *args])
    with wsb.RawWS(srv.port) as c:
        return {"lines": [c.recv_message(timeout=5) for _ in range(len(args) + 1)]}


def sc_sigterm(start):
    srv = start([script("echo.sh")])
    c = wsb.RawWS(srv.port)
    try:
        c.send_text("x")
        c.recv_message(timeout=5)
        rc = srv.terminate(timeout=wsb.TEARDOWN_SECONDS)
        try:
            code, _, _ = c.expect_close(timeout=3)
        except (wsb.Closed, TimeoutError):
            code = None
    finally:
        c.close()
    return {"close_code": code, "exit_status": rc}


def sc_unlaunchable(start):
    d = wsb.workdir("wsb-unlaunchable-")
    cmd = os.path.join(d, "vanishing.sh")
    with open(cmd, "w") as f:
        f.write("#!/bin/sh\nexec cat\n")
    os.chmod(cmd, 0o755)
    try:
        srv = start([cmd])
        os.chmod(cmd, 0o644)
        status = wsb.http_exchange(srv.port, wsb.upgrade_request(srv.port)).status
    finally:
        os.unlink(cmd)
        os.rmdir(d)
    return {"status": status, "server_alive": srv.proc.poll() is None}


SCENARIOS = {
    "echo": sc_echo, "exit": sc_exit, "multiline": sc_multiline, "count": sc_count,
    "env": sc_env, "partial": sc_partial, "invalid_utf8_output": sc_invalid_utf8_output,
    "invalid_utf8_input": sc_invalid_utf8_input, "handshake": sc_handshake,
    "origin": sc_origin, "maxforks": sc_maxforks, "client_close": sc_client_close,
    "binary": sc_binary, "stderr": sc_stderr, "args": sc_args, "sigterm": sc_sigterm,
    "unlaunchable": sc_unlaunchable, "types": sc_types, "sameorigin": sc_sameorigin,
}


@pytest.fixture
def pair(websocketd_and_wsbridge):
    return websocketd_and_wsbridge


def test_differences_list_is_well_formed():
    for key, reason in DIFFERENCES.items():
        scenario, _, field = key.partition(":")
        assert scenario in SCENARIOS and field, f"DIFFERENCES key {key!r} names no scenario"
        assert reason.strip(), f"{key} needs a reason"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_behaviour_as_websocketd(pair, name):
    reference_start, subject_start = pair
    ref = SCENARIOS[name](reference_start)
    got = SCENARIOS[name](subject_start)
    observed = {}
    for key in sorted(set(ref) | set(got)):
        a, b = ref.get(key, "<absent>"), got.get(key, "<absent>")
        if a != b:
            observed[f"{name}:{key}"] = (a, b)
    expected = {k for k in DIFFERENCES if k.startswith(name + ":")}
    new = {k: v for k, v in observed.items() if k not in expected}
    gone = expected - set(observed)
    msg = []
    for k, (a, b) in new.items():
        msg.append(f"NEW difference {k}: websocketd={a!r} wsbridge={b!r}")
    for k in sorted(gone):
        msg.append(f"listed difference {k} ({DIFFERENCES[k]}) not observed: both gave "
                   f"{ref.get(k.partition(':')[2], '<absent>')!r}")
    assert not msg, "\n".join(msg)
