"""Command line: websocketd's flag syntax, exit codes, argument pass-through, logs."""
import re
import socket

import pytest

import wsb
from wsb import script

# websocketd 0.4.1's flags (`websocketd --help`).
OPTIONS_041 = [
    "port", "address", "sameorigin", "origin", "ssl", "sslcert", "sslkey", "redirport",
    "passenv", "binary", "reverselookup", "dir", "staticdir", "cgidir", "maxforks",
    "closems", "header", "header-ws", "header-http", "devconsole", "loglevel", "version",
    "license",
]
# Flags of websocketd's unreleased main branch, plus wsbridge's own.
OPTIONS_NEWER = ["unixsocket", "sslca", "pingms", "maxframesize", "passstderr", "maxmessage"]


def cli(bin_path, *args, timeout=5):
    return wsb.run_cli(bin_path, list(args), timeout=timeout)


def echo_round_trip(port, text="ping"):
    with wsb.RawWS(port) as c:
        c.send_text(text)
        return c.recv_message(timeout=5)


def test_version_exits_0(bin_path):
    r = cli(bin_path, "--version")
    assert r.returncode == 0, r
    assert r.stdout.strip(), "version text expected on stdout"


@pytest.mark.differs_from_websocketd("the version line names the program")
def test_version_names_wsbridge(bin_path):
    r = cli(bin_path, "--version")
    assert r.stdout.decode().startswith("wsbridge"), r.stdout


def test_help_exits_0_and_lists_websocketd_options(bin_path):
    r = cli(bin_path, "--help")
    assert r.returncode == 0, r
    text = (r.stdout + r.stderr).decode()
    missing = [o for o in OPTIONS_041 if not re.search(rf"-{re.escape(o)}\b", text)]
    assert not missing, f"--help does not mention: {missing}"


@pytest.mark.differs_from_websocketd("0.4.1 lacks main's and wsbridge's newer options")
def test_help_lists_newer_options(bin_path):
    r = cli(bin_path, "--help")
    text = (r.stdout + r.stderr).decode()
    missing = [o for o in OPTIONS_NEWER if not re.search(rf"-{re.escape(o)}\b", text)]
    assert not missing, f"--help does not mention: {missing}"


def test_unknown_option_exits_2(bin_path):
    r = cli(bin_path, "--bogus-option", script("echo.sh"))
    assert r.returncode == 2, r
    assert b"bogus-option" in r.stderr, r.stderr


def test_bad_option_value_exits_2(bin_path):
    r = cli(bin_path, "--port=notanumber", script("echo.sh"))
    assert r.returncode == 2, r


def test_no_command_exits_1(bin_path):
    r = cli(bin_path, "--port=1")
    assert r.returncode == 1, r


def test_bad_loglevel_exits_1(bin_path):
    r = cli(bin_path, "--loglevel=bogus", script("echo.sh"))
    assert r.returncode == 1, r


def test_command_not_found_exits_1(bin_path):
    r = cli(bin_path, "--port=1", "/nonexistent/definitely-not-here")
    assert r.returncode == 1, r


def test_port_in_use_exits_3(bin_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        r = cli(bin_path, f"--port={port}", "--address=127.0.0.1", script("echo.sh"))
        assert r.returncode == 3, r


@pytest.mark.parametrize("spelling", ["-port=N", "-port N", "--port N", "--port=N"])
def test_port_flag_spellings(start_server, spelling):
    def argv(port):
        flag = spelling.replace("N", str(port)).split(" ")
        return [*flag, "-address=127.0.0.1", script("echo.sh")]
    srv = start_server([], argv_fn=argv)
    assert echo_round_trip(srv.port) == (wsb.OP_TEXT, b"ping")


def test_last_scalar_flag_wins(start_server):
    srv = start_server([], argv_fn=lambda port: ["--port=1", f"--port={port}",
                                                 "--address=127.0.0.1", script("echo.sh")])
    assert echo_round_trip(srv.port) == (wsb.OP_TEXT, b"ping")


@pytest.mark.parametrize("flag", ["--binary", "--binary=true", "-binary=1", "--binary=t"])
def test_binary_flag_spellings(start_server, flag):
    srv = start_server([script("echo.sh")], flags=[flag])
    with wsb.RawWS(srv.port) as c:
        c.send_frame(wsb.OP_BIN, b"\x00\x01bin\xff")
        assert c.recv_message(timeout=5) == (wsb.OP_BIN, b"\x00\x01bin\xff")


def test_binary_false_means_text_mode(start_server):
    srv = start_server([script("echo.sh")], flags=["--binary=false"])
    assert echo_round_trip(srv.port, "text") == (wsb.OP_TEXT, b"text")


def test_arguments_after_command_go_to_child_verbatim(start_server):
    args = ["--devconsole", "-x", "--port=1", "two words", "", "--"]
    srv = start_server([script("args.sh"), *args])
    with wsb.RawWS(srv.port) as c:
        got = [c.recv_message(timeout=5)[1].decode() for _ in range(len(args) + 1)]
    assert got == [f"argc={len(args)}", *args]


def test_double_dash_ends_options(start_server):
    srv = start_server([], argv_fn=lambda port: [f"--port={port}", "--address=127.0.0.1", "--",
                                                 script("args.sh"), "-a"])
    with wsb.RawWS(srv.port) as c:
        assert c.recv_message(timeout=5)[1] == b"argc=1"
        assert c.recv_message(timeout=5)[1] == b"-a"


LOG_LINE = re.compile(r"^(?P<time>[^|]+) \| (?P<level>[A-Z]+) *\| (?P<cat>[a-z]+) *\| "
                      r"(?P<fields>.*) \| (?P<msg>.*)$")


def test_log_layout_on_stdout(start_server):
    srv = start_server([script("echo.sh")])
    assert echo_round_trip(srv.port) == (wsb.OP_TEXT, b"ping")
    assert srv.wait_log("DISCONNECT", 3), srv.log()
    lines = srv.log().splitlines()
    conn = [m for m in map(LOG_LINE.match, lines) if m and m["msg"] == "CONNECT"]
    disc = [m for m in map(LOG_LINE.match, lines) if m and m["msg"] == "DISCONNECT"]
    assert conn and disc, f"no CONNECT/DISCONNECT lines in websocketd layout:\n{srv.log()}"
    assert conn[0]["level"] == "ACCESS" and conn[0]["cat"] == "session", conn[0].group(0)
    assert "remote:'127.0.0.1'" in conn[0]["fields"], conn[0].group(0)
    assert re.search(r"pid:'\d+'", disc[0]["fields"]), disc[0].group(0)
    # Time is RFC 1123 with a numeric zone, e.g. "Tue, 24 Nov 2026 17:29:16 +0000".
    assert re.match(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$",
                    conn[0]["time"]), conn[0]["time"]
    assert srv.stderr() == "", f"unexpected stderr output: {srv.stderr()!r}"


def test_child_stderr_is_logged_not_sent(start_server):
    srv = start_server([script("stderr.sh")])
    with wsb.RawWS(srv.port) as c:
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"to-stdout-line")
        c.send_text("x")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"x")
    assert srv.wait_log("to-stderr-line", 3), srv.log()
    line = [ln for ln in srv.log().splitlines() if "to-stderr-line" in ln][0]
    m = LOG_LINE.match(line)
    assert m and m["level"] == "ERROR" and m["cat"] == "stderr", line


def test_loglevel_none_is_silent(start_server):
    srv = start_server([script("echo.sh")], flags=["--loglevel=none"])
    assert echo_round_trip(srv.port) == (wsb.OP_TEXT, b"ping")
    srv.terminate()
    assert srv.log() == "", srv.log()


def test_several_addresses_all_listen(start_server):
    srv = start_server([script("echo.sh")], flags=["--address=[::1]"])
    assert echo_round_trip(srv.port, "v4") == (wsb.OP_TEXT, b"v4")
    with wsb.RawWS(srv.port, host="::1") as c:
        c.send_text("v6")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"v6")


def test_duplicate_address_exits_3(bin_path):
    port = wsb.free_port()
    r = cli(bin_path, f"--port={port}", "--address=127.0.0.1", "--address=127.0.0.1",
            script("echo.sh"))
    assert r.returncode == 3, r


def refuses_to_start(bin_path, *args):
    """Runs wsbridge on loopback with echo.sh; it must exit 2 at once."""
    r = cli(bin_path, "--address=127.0.0.1", *args, script("echo.sh"))
    assert r.returncode == 2, r
    assert r.stdout == b"", r.stdout
    return r.stderr.decode()


@pytest.mark.parametrize("value, allowed", [
    ("99999", "allowed: 1 to 65535, or 0 for 80 (443 with --ssl)"),  # 0.4.1-style wrap: 34463
    ("-1", "allowed: 1 to 65535"),
    ("65536", "allowed: 1 to 65535"),
    ("", "not an integer"),
])
def test_port_out_of_range_is_refused_and_nothing_listens(bin_path, value, allowed):
    # The old parser kept the low 16 bits (99999 → 34463, -1 → 65535) and
    # served there; a port that wraps onto a free one would answer.
    free = wsb.free_port()
    wrapped = str(free + 65536) if value == "99999" else value
    err = refuses_to_start(bin_path, f"--port={wrapped}")
    assert f'invalid value "{wrapped}" for flag -port' in err, err
    assert allowed in err, err
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", free)) != 0, "something listens on the wrapped port"


@pytest.mark.parametrize("flag, why", [
    ("--redirport=70000", "out of range; allowed: 1 to 65535, or 0 for none"),
    ("--closems=-1", "out of range; allowed: 0 to 86400000"),
    ("--maxmessage=99999999999999999999G", "out of range; allowed: 0 (unlimited) to 1T"),
    ("--workers=65", "out of range; allowed: 0 to 64"),
    ("--shutdown-timeout=0", "out of range; allowed: 0.001 to 86400"),
    ("--header=bad", "no ':' after the header name"),
    ("--header-http=X: a\r\nSet-Cookie: b", "header value has a control character"),
    ("--address=::1", "an IPv6 address needs brackets, e.g. [::1]"),
    ("--trusted-proxy=10.0.0.0/99", "bad prefix length"),
])
def test_bad_values_are_refused_with_what_is_allowed(bin_path, flag, why):
    name, value = flag[2:].split("=", 1)
    err = refuses_to_start(bin_path, f"--port={wsb.free_port()}", flag)
    assert f'invalid value "{value}" for flag -{name}: {why}' in err, err


def test_missing_or_unreadable_tls_files_are_named_with_the_reason(bin_path, tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("not checked before the certificate\n")
    r = cli(bin_path, "--address=127.0.0.1", f"--port={wsb.free_port()}", "--ssl",
            f"--sslcert={tmp_path}/missing.pem", f"--sslkey={key}", "cat")
    assert r.returncode == 3, r
    assert f"--sslcert={tmp_path}/missing.pem: No such file or directory" in r.stderr.decode(), r.stderr
    assert b"SSL routines" not in r.stdout + r.stderr
    r = cli(bin_path, "--address=127.0.0.1", f"--port={wsb.free_port()}", "--ssl",
            f"--sslcert={key}", f"--sslkey={tmp_path}", "cat")
    assert r.returncode == 3, r
    assert f"--sslkey={tmp_path}: Is a directory" in r.stderr.decode(), r.stderr
