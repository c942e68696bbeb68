"""The example scripts in examples/ behind the real binary.

Each test starts wsbridge with one example exactly as the README's one-liner
does and checks the first messages a client gets. Everything is bounded: a
message that does not come within a few seconds fails the test.
"""
import os
import re
import shutil
import time

import pytest

import wsb

EXAMPLES = os.path.normpath(os.path.join(wsb.HERE, "..", "..", "examples"))


def example(relpath: str) -> str:
    path = os.path.join(EXAMPLES, relpath)
    assert os.access(path, os.X_OK), f"{path} missing or not executable"
    return path


def text(ws: wsb.RawWS, timeout: float = 10.0) -> str:
    """Next message, which must be a text message."""
    msg = ws.recv_message(timeout)
    assert msg[0] == wsb.OP_TEXT, f"expected a text message, got {msg!r}"
    return msg[1].decode()


def needs(program: str):
    return pytest.mark.skipif(shutil.which(program) is None, reason=f"{program} not installed")


COUNTERS = ["count.sh", "python/count.py", pytest.param("node/count.js", marks=needs("node"))]
GREETERS = ["greeter.sh", "python/greeter.py", pytest.param("node/greeter.js", marks=needs("node"))]


@pytest.mark.timeout(40)
@pytest.mark.parametrize("name", COUNTERS)
def test_counter_sends_one_number_a_second(start_server, name):
    srv = start_server([example(name)])
    with wsb.RawWS(srv.port) as ws:
        assert text(ws) == "1"
        # The second number comes about a second later, not all at the end:
        # a counter that buffered its stdout would fail here.
        assert text(ws, timeout=4) == "2"


@pytest.mark.timeout(40)
@pytest.mark.parametrize("name", GREETERS)
def test_greeter_answers_each_message(start_server, name):
    srv = start_server([example(name)])
    with wsb.RawWS(srv.port) as ws:
        for who in ("Ada", "Grace Hopper", "ünïcødé"):
            ws.send_text(who)
            assert text(ws) == f"Hello, {who}!"
        ws.send_close(1000)
        code, _, seen = ws.expect_close(timeout=3)
        assert seen == [] and code == 1000


ENV_DUMPS = ["env.sh", "python/env.py", pytest.param("node/env.js", marks=needs("node"))]


@pytest.mark.timeout(40)
@pytest.mark.parametrize("name", ENV_DUMPS)
def test_env_dump_lists_the_cgi_environment(start_server, name):
    srv = start_server([example(name)])
    with wsb.RawWS(srv.port, path="/room?x=1", headers={"X-Demo": "yes"}) as ws:
        code, _, seen = ws.expect_close(timeout=5)
    lines = [payload.decode() for op, payload in seen]
    assert code == 1000
    assert lines == sorted(lines), f"{name} sorts its output"
    env = dict(line.split("=", 1) for line in lines if "=" in line)
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(srv.port)
    assert env["QUERY_STRING"] == "x=1"
    assert env["HTTP_X_DEMO"] == "yes"
    assert env["SERVER_SOFTWARE"].startswith("wsbridge/")


@pytest.mark.timeout(40)
def test_chat_relays_between_clients_through_the_shared_file(start_server, tmp_path):
    room = tmp_path / "room.txt"
    env = dict(os.environ, CHAT_FILE=str(room))
    srv = start_server([example("chat.sh")], flags=["--passenv=PATH,CHAT_FILE"], env=env)
    with wsb.RawWS(srv.port) as alice, wsb.RawWS(srv.port) as bob:
        assert text(alice) == "Welcome! What is your name?"
        alice.send_text("alice")
        # Seeing her own "joined" line proves alice's follower is in place.
        assert text(alice) == "* alice joined"

        assert text(bob) == "Welcome! What is your name?"
        bob.send_text("bob")
        assert text(bob) == "* bob joined"
        assert text(alice) == "* bob joined"

        bob.send_text("hi all")
        assert text(alice) == "bob: hi all"
        assert text(bob) == "bob: hi all"
        alice.send_text("hello bob")
        assert text(bob) == "alice: hello bob"
        assert text(alice) == "alice: hello bob"

        bob.send_close(1000)
        bob.expect_close(timeout=3)
        assert text(alice) == "* bob left"
        alice.send_close(1000)
        alice.expect_close(timeout=3)
    expected = ["* alice joined", "* bob joined", "bob: hi all", "alice: hello bob",
                "* bob left", "* alice left"]
    deadline = time.monotonic() + 3
    while room.read_text().splitlines() != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert room.read_text().splitlines() == expected


@pytest.mark.timeout(40)
@needs("vmstat")
def test_vmstat_feed_streams_lines(start_server):
    srv = start_server([example("vmstat.sh")])
    with wsb.RawWS(srv.port) as ws:
        assert text(ws).startswith("procs")
        columns = text(ws).split()
        assert "free" in columns and "id" in columns
        first = text(ws).split()
        assert len(first) == len(columns) and all(re.fullmatch(r"\d+", f) for f in first)
        # And it keeps coming: the next sample a second later.
        second = text(ws, timeout=4).split()
        assert len(second) == len(columns)


@pytest.mark.timeout(40)
def test_tail_feed_sends_last_lines_then_new_ones(start_server, tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join(f"old {i}\n" for i in range(1, 13)))
    env = dict(os.environ, TAIL_FILE=str(log))
    srv = start_server([example("tail.sh")], flags=["--passenv=PATH,TAIL_FILE"], env=env)
    with wsb.RawWS(srv.port) as ws:
        assert [text(ws) for _ in range(10)] == [f"old {i}" for i in range(3, 13)]
        with open(log, "a") as f:
            f.write("new 1\n")
        assert text(ws) == "new 1"
        # Rotation: the file is replaced; tail -F follows the new one.
        os.rename(log, tmp_path / "app.log.1")
        log.write_text("after rotation\n")
        assert text(ws, timeout=5) == "after rotation"


def test_readme_lists_every_example():
    """Each example is runnable with a one-liner from the README."""
    with open(os.path.join(EXAMPLES, "..", "README.md")) as f:
        readme = f.read()
    names = ["count.sh", "greeter.sh", "env.sh", "chat.sh", "vmstat.sh", "tail.sh",
             "python/count.py", "python/greeter.py", "node/count.js", "node/greeter.js",
             "python/env.py", "node/env.js"]
    missing = [n for n in names if f"examples/{n}" not in readme]
    assert not missing, f"README.md has no one-liner for {missing}"
