"""--dir: every executable under a folder is a WebSocket endpoint at its path.

The routing (which path runs which script, SCRIPT_NAME / PATH_INFO, what a
folder or a missing file gives) is compared side by side with Debian's
websocketd 0.4.1; the paths where wsbridge deliberately differs are listed
in DIFFERENCES and must differ (a listed difference that disappears fails).
"""
import os
import socket

import pytest

import wsb

SCRIPT = """#!/bin/sh
echo "SN=$SCRIPT_NAME PI=$PATH_INFO PT=$PATH_TRANSLATED QS=$QUERY_STRING ARGS=$# CWD=$(pwd) ARGV0=$0"
"""

# path -> why wsbridge answers differently from websocketd 0.4.1
DIFFERENCES = {
    "/noexec.sh": "not executable: websocketd sends 101 then drops the connection; wsbridge 500",
    "/plain.txt": "not executable: websocketd sends 101 then drops the connection; wsbridge 500",
    "/outside": "a symlink to a program outside --dir: websocketd runs it; wsbridge 404",
    "/linkdir/passwd": "a symlinked folder leading outside --dir: websocketd tries it; wsbridge 404",
}

PATHS = ["/", "/hello.sh", "/hello.sh/", "/hello.sh/extra/p%20q", "/hello.sh?x=1&y=%20z",
         "/sub", "/sub/", "/sub/deep.sh", "/sub/deep.sh/x/y", "/.hidden.sh", "/missing",
         "/missing/hello.sh", "/emptydir", "/emptydir/", "/inlink", "/inlink/more", "/hel%6co.sh",
         "/hello.sh/../sub/deep.sh", "//hello.sh", "/noexec.sh", "/plain.txt", "/outside",
         "/linkdir/passwd"]


def make_tree(root):
    os.makedirs(os.path.join(root, "sub"))
    os.makedirs(os.path.join(root, "emptydir"))
    for name in ("hello.sh", "sub/deep.sh", ".hidden.sh", "noexec.sh"):
        with open(os.path.join(root, name), "w") as f:
            f.write(SCRIPT)
        os.chmod(os.path.join(root, name), 0o644 if name == "noexec.sh" else 0o755)
    with open(os.path.join(root, "plain.txt"), "w") as f:
        f.write("just text\n")
    os.symlink("/bin/echo", os.path.join(root, "outside"))
    os.symlink("hello.sh", os.path.join(root, "inlink"))
    os.symlink("/etc", os.path.join(root, "linkdir"))


def observe(port, path):
    """(status, body or first message) for an upgrade request on `path`."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(wsb.upgrade_request(port, path))
        head, rest = wsb.read_http_head(s, 5)
        status, _, headers = wsb.parse_head(head)
        if 300 <= status < 400:
            # Redirect bodies are not part of the routing contract.
            return status, dict(headers).get("location")
        if status != 101:
            length = int(dict(headers).get("content-length", "0"))
            body = rest
            s.settimeout(5)
            while len(body) < length:
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
            return status, body[:length].decode("utf-8", "replace")
        ws = wsb.RawWS.__new__(wsb.RawWS)
        ws.sock, ws.buf = s, rest
        try:
            msg = ws.recv_message(timeout=5)
        except wsb.Closed:
            return status, "<closed>"
        return status, msg[1].decode() if msg[0] != "close" else "<close>"


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "scripts"
    make_tree(str(root))
    return str(root)


@pytest.mark.timeout(120)
def test_routing_matches_websocketd(websocketd_and_wsbridge, tree):
    reference, subject = (start([], [f"--dir={tree}"]) for start in websocketd_and_wsbridge)
    wsb.assert_only_listed_differences(observe, reference.port, subject.port, PATHS, DIFFERENCES)


def test_script_environment_and_argv(start_server, tree, tmp_path):
    srv = start_server([], [f"--dir={tree}"])
    status, line = observe(srv.port, "/sub/deep.sh/a%20b/c?k=v%20w")
    assert status == 101
    assert line == (f"SN=/sub/deep.sh PI=/a b/c PT=/sub/deep.sh/a b/c QS=k=v%20w ARGS=0 "
                    f"CWD={tmp_path} ARGV0={tree}/sub/deep.sh")


def test_missing_script_and_folders_are_404(start_server, tree):
    srv = start_server([], [f"--dir={tree}"])
    for path in ("/", "/sub/", "/sub", "/nothing.sh"):
        assert observe(srv.port, path) == (404, "404 Not Found\n"), path
    assert srv.wait_log("NOT FOUND: script not found")
    # A plain request is not a WebSocket: nothing is run.
    r = wsb.http_exchange(srv.port, f"GET /hello.sh HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert (r.status, r.body) == (404, b"404 page not found\n")


@pytest.mark.differs_from_websocketd("websocketd runs programs that symlinks point to outside --dir")
def test_symlink_escape_is_404(start_server, tree):
    srv = start_server([], [f"--dir={tree}"])
    assert observe(srv.port, "/outside") == (404, "404 Not Found\n")
    assert observe(srv.port, "/linkdir/passwd") == (404, "404 Not Found\n")


@pytest.mark.differs_from_websocketd("websocketd answers 101 and then drops the connection")
def test_non_executable_is_500_before_upgrade(start_server, tree):
    srv = start_server([], [f"--dir={tree}"])
    status, body = observe(srv.port, "/noexec.sh")
    assert status == 500 and "Permission denied" in body
    assert srv.wait_log("Could not launch process")


def test_startup_log_and_conflicts(start_server, bin_path, tree, tmp_path):
    srv = start_server([], [f"--dir={tree}"])
    assert srv.wait_log(f"Serving from directory      : {tree}")
    r = wsb.run_cli(bin_path, ["--port=1", f"--dir={tree}", "cat"])
    assert r.returncode == 1 and b"Ambiguous" in r.stderr
    r = wsb.run_cli(bin_path, ["--port=1", f"--dir={tmp_path}/nope"])
    assert r.returncode == 1 and b"Could not find your script dir" in r.stderr


def test_relative_dir_is_made_absolute(start_server, tree, tmp_path):
    srv = start_server([], ["--dir=scripts"])  # the server runs in tmp_path
    assert srv.wait_log(f"Serving from directory      : {tree}")
    status, line = observe(srv.port, "/hello.sh")
    assert status == 101 and f"ARGV0={tree}/hello.sh" in line
