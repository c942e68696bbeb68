"""Log output: websocketd's text layout by default, one JSON object per line
with --logformat=json."""
import json

import wsb
from wsb import script


def one_echo(srv, text="hi"):
    with wsb.RawWS(srv.port, "/x?q='quoted'") as c:
        c.send_text(text)
        assert c.recv_message(timeout=5)[1] == text.encode()
        c.send_close(1000)
        c.expect_close(timeout=5)


def test_json_log_lines_parse_and_carry_the_connection_fields(start_server):
    srv = start_server([script("stderr.sh")], flags=["--logformat=json"])
    with wsb.RawWS(srv.port, "/x?q='quoted'") as c:
        assert c.recv_message(timeout=5)[1] == b"to-stdout-line"
        c.send_close(1000)
        c.expect_close(timeout=5)
    assert srv.wait_log('"DISCONNECT"', timeout=5)
    records = [json.loads(line) for line in srv.log().splitlines() if line.strip()]
    assert records, "no log lines"
    for r in records:
        assert {"time", "level", "category", "message"} <= r.keys()
        assert r["time"].endswith("Z")
    connect = next(r for r in records if r["message"] == "CONNECT")
    assert connect["level"] == "ACCESS" and connect["category"] == "session"
    assert connect["url"].endswith("/x?q='quoted'")
    assert connect["remote"] == "127.0.0.1"
    assert connect["id"].isdigit()
    stderr_lines = [r for r in records if r["category"] == "stderr"]
    assert stderr_lines and all(r["id"] == connect["id"] for r in stderr_lines)


def test_text_layout_is_websocketds(start_server):
    srv = start_server(["cat"])
    one_echo(srv)
    assert srv.wait_log("DISCONNECT", timeout=5)
    connect = next(line for line in srv.log().splitlines() if line.endswith("| CONNECT"))
    time_part, level, category, fields, message = [p.strip() for p in connect.split(" | ")]
    assert level == "ACCESS" and category == "session" and message == "CONNECT"
    assert fields.startswith("url:'http://127.0.0.1:")
    # Quotes inside a value are escaped so the fields read back unambiguously.
    assert "?q=\\'quoted\\''" in fields


def test_bad_logformat_exits_1(bin_path):
    r = wsb.run_cli(bin_path, ["--logformat=xml", "cat"])
    assert r.returncode == 1
    assert b"logformat" in r.stderr
