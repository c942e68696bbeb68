"""--auth: a program asked before every request is answered. Real programs
(the two in examples/auth), a real client (python3-websockets) and the real
binary; what the endpoint program sees is read back from it."""
import asyncio
import os
import subprocess
import time

import pytest
import websockets

import wsb
from wsb import script

EXAMPLES = os.path.normpath(os.path.join(wsb.HERE, "..", "..", "examples", "auth"))
TOKEN_FILE = os.path.join(EXAMPLES, "token_file.sh")
SIGNED = os.path.join(EXAMPLES, "signed_token.py")


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def environment_of(url: str, headers=None) -> dict:
    """The endpoint program's environment (env.sh prints it, one line each)."""
    async def go():
        async with websockets.connect(url, compression=None, ping_interval=None, close_timeout=3,
                                      extra_headers=headers or {}) as ws:
            lines = []
            while True:
                try:
                    lines.append(await asyncio.wait_for(ws.recv(), 5))
                except websockets.ConnectionClosed:
                    break
            return dict(line.split("=", 1) for line in lines if "=" in line)
    return run(go())


def upgrade_status(port: int, path: str, headers=None) -> wsb.HttpResponse:
    return wsb.http_exchange(port, wsb.upgrade_request(port, path, headers=headers))


def test_token_in_query_allows_and_names_the_user(start_server):
    srv = start_server([script("env.sh")], flags=[f"--auth={TOKEN_FILE}"])
    env = environment_of(srv.url("/?token=s3cret"))
    assert env["REMOTE_USER"] == "alice"
    assert env["QUERY_STRING"] == "token=s3cret"


def test_missing_token_401_with_challenge_and_wrong_token_403(start_server):
    srv = start_server([script("env.sh")], flags=[f"--auth={TOKEN_FILE}"])
    missing = upgrade_status(srv.port, "/")
    assert missing.status == 401, missing
    assert missing.header("www-authenticate") == 'Bearer realm="wsbridge"'
    assert b"add ?token=" in missing.body
    wrong = upgrade_status(srv.port, "/?token=nope")
    assert wrong.status == 403, wrong


def test_refused_upgrade_starts_no_program(start_server, tmp_path):
    marker = tmp_path / "started"
    program = tmp_path / "mark.sh"
    program.write_text(f"#!/bin/sh\necho started >> {marker}\nexec cat\n")
    program.chmod(0o755)
    srv = start_server([str(program)], flags=[f"--auth={TOKEN_FILE}"])
    for _ in range(3):
        assert upgrade_status(srv.port, "/?token=nope").status == 403
    assert not marker.exists()
    allowed = upgrade_status(srv.port, "/?token=0pen-sesame")
    assert allowed.status == 101, allowed
    assert wsb.wait_until(marker.exists, 5)
    assert marker.read_text().count("started") == 1


def test_signed_cookie_and_bearer_header(start_server):
    srv = start_server([script("env.sh")], flags=[f"--auth={SIGNED}"])
    token = subprocess.run([SIGNED, "--sign", "carol", "600"], capture_output=True, text=True,
                           check=True).stdout.strip()
    by_cookie = environment_of(srv.url("/"), {"Cookie": f"theme=dark; session={token}"})
    assert by_cookie["REMOTE_USER"] == "carol"
    assert int(by_cookie["AUTH_EXPIRES"]) > time.time()
    by_header = environment_of(srv.url("/"), {"Authorization": f"Bearer {token}"})
    assert by_header["REMOTE_USER"] == "carol"
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert upgrade_status(srv.port, "/", {"Authorization": f"Bearer {forged}"}).status == 403
    expired = subprocess.run([SIGNED, "--sign", "carol", "-10"], capture_output=True, text=True,
                             check=True).stdout.strip()
    refused = upgrade_status(srv.port, "/", {"Cookie": f"session={expired}"})
    assert refused.status == 401
    assert b"token expired" in refused.body


def test_static_files_and_cgi_are_asked_too(start_server, tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    (public / "hello.txt").write_text("hello\n")
    cgi = tmp_path / "cgi"
    cgi.mkdir()
    (cgi / "who.sh").write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' \"$REMOTE_USER\"\n")
    (cgi / "who.sh").chmod(0o755)
    srv = start_server([script("env.sh")], flags=[f"--auth={TOKEN_FILE}", f"--staticdir={public}",
                                                  f"--cgidir={cgi}"])
    assert wsb.http_request(srv.port, "/hello.txt").status == 401
    assert wsb.http_request(srv.port, "/hello.txt?token=s3cret").body == b"hello\n"
    assert wsb.http_request(srv.port, "/who.sh?token=nope").status == 403
    assert wsb.http_request(srv.port, "/who.sh?token=0pen-sesame").body == b"bob\n"


def test_silent_program_is_503_and_stopped(start_server, tmp_path):
    # The sleep's argument marks it: on a loaded machine the server may stop
    # the program before the shell has run a line, so the test finds what
    # is left of it by its command line rather than by a pid it wrote.
    marker = f"30.{os.getpid() % 10000:04d}1"
    slow = tmp_path / "slow.sh"
    slow.write_text(f"#!/bin/sh\nexec sleep {marker}\n")
    slow.chmod(0o755)

    def running() -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except (OSError, ValueError):
                continue
            if marker.encode() in argv or str(slow).encode() in argv:
                found.append(int(entry))
        return found

    srv = start_server(["cat"], flags=[f"--auth={slow}", "--auth-timeout=0.3"])
    response = upgrade_status(srv.port, "/")
    assert response.status == 503, response
    assert wsb.wait_until(lambda: not running(), 10), f"the auth program was not stopped: {running()}"
    assert wsb.wait_until(lambda: "did not answer" in srv.log(), 5)


def test_missing_program_stops_start_up(bin_path):
    result = wsb.run_cli(bin_path, ["--port=1", "--auth=/nonexistent/check", "cat"])
    assert result.returncode == 2
    assert b"--auth=/nonexistent/check" in result.stderr
