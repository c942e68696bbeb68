"""--passstderr (websocketd's main branch): stdout and stderr lines both reach
the client as JSON text messages; stderr is still logged."""
import json

import wsb
from wsb import script


def test_both_streams_arrive_as_json(start_server):
    srv = start_server([script("stderr.sh")], flags=["--passstderr"])
    with wsb.RawWS(srv.port) as c:
        got = [json.loads(c.recv_message(timeout=5)[1]) for _ in range(2)]
        c.send_text("echoed <&>")
        echoed = c.recv_message(timeout=5)[1]
    assert {"stream": "stderr", "data": "to-stderr-line"} in got
    assert {"stream": "stdout", "data": "to-stdout-line"} in got
    # Go's encoding/json escapes <, > and &; clients may compare bytes.
    assert echoed == b'{"stream":"stdout","data":"echoed \\u003c\\u0026\\u003e"}'
    assert srv.wait_log("to-stderr-line")


def test_without_the_flag_stderr_is_only_logged(start_server):
    srv = start_server([script("stderr.sh")])
    with wsb.RawWS(srv.port) as c:
        assert c.recv_message(timeout=5)[1] == b"to-stdout-line"
        c.send_text("x")
        assert c.recv_message(timeout=5)[1] == b"x"
    assert srv.wait_log("to-stderr-line")


def test_passstderr_with_binary_exits_1(bin_path):
    r = wsb.run_cli(bin_path, ["--passstderr", "--binary", "cat"])
    assert r.returncode == 1
