"""Security hygiene: what a child inherits (descriptors), the privilege drop
(--user/--group), and the options' documentation staying in sync."""
import os
import re
import socket

import pytest

import wsb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def messages_until_close(c, limit=100):
    out = []
    for _ in range(limit):
        msg = c.recv_message(timeout=5)
        if msg[0] == "close":
            return out
        out.append(msg[1].decode())
    raise AssertionError(f"no close after {limit} messages: {out}")


# ------------------------------------------------------------ descriptors

def test_child_gets_only_stdin_stdout_stderr(bin_path, start_server, stray):
    # The server inherits two extra descriptors (as from a careless parent)
    # and holds other sessions' sockets and pipes; none may reach a child.
    # ls is exec'd directly, so what it lists is exactly what it inherited
    # plus the one it opens to read /proc/self/fd.
    srv = start_server([], binary="/bin/bash", argv_fn=lambda port: [
        "-c", 'exec 7</etc/hostname 8>/dev/null; exec "$0" "$@"', bin_path, f"--port={port}",
        "--address=127.0.0.1", "/bin/ls", "-1", "/proc/self/fd"])
    others = [wsb.RawWS(srv.port) for _ in range(2)]
    try:
        with wsb.RawWS(srv.port) as c:
            fds = messages_until_close(c)
        assert sorted(int(x) for x in fds) == [0, 1, 2, 3], f"child inherited descriptors {fds}"
    finally:
        for c in others:
            c.close()


# ------------------------------------------------------------ privilege drop

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")


def free_privileged_port():
    for port in range(900, 1000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip("no free port below 1024")


def status_ids(pid):
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = value.split()
    return ids


@needs_root
@pytest.mark.differs_from_websocketd("websocketd has no --user/--group")
def test_user_binds_a_privileged_port_then_runs_everything_as_nobody(start_server):
    port = free_privileged_port()
    srv = start_server(["/bin/sh", "-c", "id -u; id -g; id -G"], flags=["--user=nobody"], port=port)
    with wsb.RawWS(srv.port) as c:
        uid, gid, groups = messages_until_close(c)
    assert (uid, gid, groups) == ("65534", "65534", "65534"), (uid, gid, groups)
    ids = status_ids(srv.pid)
    assert ids["Uid"] == ["65534"] * 4 and ids["Gid"] == ["65534"] * 4, ids
    assert ids["Groups"] == ["65534"], f"root's groups survived: {ids['Groups']}"


@needs_root
@pytest.mark.differs_from_websocketd("websocketd has no --user/--group")
def test_group_overrides_the_users_primary_group(start_server):
    srv = start_server(["/bin/sh", "-c", "id -u; id -g; id -G"], flags=["--user=nobody", "--group=daemon"])
    with wsb.RawWS(srv.port) as c:
        assert messages_until_close(c) == ["65534", "1", "1"]


@needs_root
@pytest.mark.differs_from_websocketd("websocketd has no --user/--group")
def test_numeric_ids_are_accepted(start_server):
    srv = start_server(["/bin/sh", "-c", "id -u; id -g"], flags=["--user=12345", "--group=54321"])
    with wsb.RawWS(srv.port) as c:
        assert messages_until_close(c) == ["12345", "54321"]


@pytest.mark.differs_from_websocketd("websocketd has no --user/--group")
def test_unknown_user_or_group_refuses_to_start(bin_path):
    for flag in ("--user=no-such-user-h5", "--group=no-such-group-h5"):
        r = wsb.run_cli(bin_path, [f"--port={wsb.free_port()}", "--address=127.0.0.1", flag, "/bin/cat"])
        assert r.returncode == 1, (flag, r)
        assert b"Can't drop privileges" in r.stdout + r.stderr, (flag, r)


@pytest.mark.differs_from_websocketd("websocketd has no --user/--group")
def test_user_and_group_are_documented_everywhere(bin_path):
    r = wsb.run_cli(bin_path, ["--help"])
    help_text = r.stdout.decode()
    with open(os.path.join(ROOT, "man", "wsbridge.1")) as f:
        man = f.read().replace("\\-", "-")
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    with open(os.path.join(ROOT, "docs", "security.md")) as f:
        security = f.read()
    for flag in ("--user", "--group"):
        assert re.search(rf"{flag}=(USER|GROUP)", help_text), f"--help lacks {flag}"
        assert flag in man, f"man page lacks {flag}"
        assert re.search(rf"^\| `{flag}=", readme, re.M), f"README option table lacks {flag}"
        assert flag in security, f"docs/security.md lacks {flag}"
