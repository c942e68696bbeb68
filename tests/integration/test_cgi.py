"""--cgidir: CGI/1.1 scripts for plain HTTP requests.

Statuses and the main variables are compared side by side with Debian's
websocketd 0.4.1; DIFFERENCES lists what wsbridge does differently on
purpose. The rest checks wsbridge's own guarantees: the body reaches stdin,
output streams with backpressure, the script is ended when the client
leaves, --maxforks counts scripts, and scripts are never sent as files.
"""
import hashlib
import os
import socket
import threading
import time

import pytest

import procstat
import wsb

SCRIPTS = {
    "env.cgi": '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\nenv | sort\necho "PWD=$(pwd)"\n'
               'echo "BODY=$(cat)"\n',
    "status.cgi": "#!/bin/sh\nprintf 'Status: 418 Teapot\\r\\nContent-Type: text/plain\\r\\nX-A: 1\\r\\n\\r\\n"
                  "short and stout\\n'\n",
    "loc.cgi": "#!/bin/sh\nprintf 'Location: http://example.com/next\\n\\n'\n",
    "bad.cgi": "#!/bin/sh\necho 'no colon here'\n",
    "silent.cgi": "#!/bin/sh\nexit 0\n",
    "sha.cgi": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nsha256sum | cut -d' ' -f1\n",
    "flood.cgi": "#!/bin/sh\necho $$ > flood.pid\nprintf 'Content-Type: application/octet-stream\\n\\n'\n"
                 "exec head -c 67108864 /dev/zero\n",
    "slow.cgi": "#!/bin/sh\necho $$ > slow.pid\nsleep 5\nprintf 'Content-Type: text/plain\\n\\nslept\\n'\n",
    "hang.cgi": "#!/bin/sh\necho $$ > hang.pid\nexec sleep 120\n",
    "sub/deep.cgi": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n%s|%s\\n' \"$SCRIPT_NAME\" \"$PATH_INFO\"\n",
}

# path -> why wsbridge answers differently from websocketd 0.4.1
DIFFERENCES = {
    "/bad.cgi": "a malformed header block: websocketd 500 with no body; wsbridge 502 saying why",
    "/silent.cgi": "no output at all: websocketd 500 with no body; wsbridge 502 saying why",
    "/env.cgi/extra": "PATH_INFO: websocketd has none (404); wsbridge runs /env.cgi with PATH_INFO=/extra",
}

PATHS = ["/status.cgi", "/loc.cgi", "/bad.cgi", "/silent.cgi", "/noexec.cgi", "/missing.cgi", "/env.cgi/extra",
         "/sub/deep.cgi", "/sub/", "/"]


def make_tree(root):
    os.makedirs(os.path.join(root, "sub"))
    for name, text in SCRIPTS.items():
        path = os.path.join(root, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    with open(os.path.join(root, "noexec.cgi"), "w") as f:
        f.write("#!/bin/sh\necho x\n")


def request(port, path, method="GET", body=b"", headers=None, timeout=10):
    """wsb.http_request with "Connection: close", so that websocketd (which
    keeps connections alive) ends its response the same way wsbridge does,
    and 10 s by default, as scripts take longer than static files."""
    return wsb.http_request(port, path, method, headers, body if body or method == "POST" else None,
                            timeout=timeout, connection_close=True)


def observe(port, path):
    """What websocketd and wsbridge must agree on for a script URL."""
    r = request(port, path)
    return r.status, r.header("location"), r.header("x-a")


def env_of(response):
    out = {}
    for line in response.body.decode().splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


@pytest.fixture
def cgi_dir(tmp_path):
    root = tmp_path / "cgi"
    make_tree(str(root))
    return str(root)


@pytest.mark.timeout(120)
def test_statuses_match_websocketd(websocketd_and_wsbridge, cgi_dir):
    reference, subject = (start([], [f"--cgidir={cgi_dir}"]) for start in websocketd_and_wsbridge)
    wsb.assert_only_listed_differences(observe, reference.port, subject.port, PATHS, DIFFERENCES)
    # The request variables a script reads agree too.
    a = env_of(request(reference.port, "/env.cgi?x=1&y=%20z", method="POST", body=b"payload"))
    b = env_of(request(subject.port, "/env.cgi?x=1&y=%20z", method="POST", body=b"payload"))
    for name in ("GATEWAY_INTERFACE", "REQUEST_METHOD", "QUERY_STRING", "CONTENT_LENGTH", "REQUEST_URI",
                 "SERVER_PROTOCOL", "REMOTE_ADDR", "PWD", "BODY"):
        assert a.get(name) == b.get(name), name
    assert b["HTTP_HOST"] == f"127.0.0.1:{subject.port}"


@pytest.mark.differs_from_websocketd("websocketd's CGI ignores --passenv, sets SCRIPT_NAME=/ and "
                                     "PATH_INFO=<script path>, and passes HTTP_CONTENT_LENGTH")
def test_environment_and_body(start_server, cgi_dir):
    srv = start_server([], [f"--cgidir={cgi_dir}", "--passenv=PATH,CGI_MARK"],
                       env=dict(os.environ, CGI_MARK="passed", SECRET_MARK="withheld"))
    r = request(srv.port, "/env.cgi?q=1", method="POST", body=b"hello body",
                headers={"Content-Type": "text/plain", "X-Custom": "v"})
    assert r.status == 200 and r.header("content-type") == "text/plain"
    env = env_of(r)
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_LENGTH"] == "10" and env["CONTENT_TYPE"] == "text/plain"
    assert env["BODY"] == "hello body"
    assert env["SCRIPT_NAME"] == "/env.cgi" and env["PATH_INFO"] == ""
    assert env["SCRIPT_FILENAME"] == os.path.join(cgi_dir, "env.cgi")
    assert env["HTTP_HOST"] == f"127.0.0.1:{srv.port}"
    assert env["HTTP_X_CUSTOM"] == "v"
    assert env["PWD"] == cgi_dir
    assert env["CGI_MARK"] == "passed" and "SECRET_MARK" not in env
    assert "HTTP_CONTENT_LENGTH" not in env
    assert srv.wait_log("CGI") and srv.wait_log("cgiscript:")
    r = request(srv.port, "/sub/deep.cgi/a%20b/c")
    assert r.body == b"/sub/deep.cgi|/a b/c\n"


@pytest.mark.differs_from_websocketd("websocketd replaces the script's reason phrase with the standard one")
def test_status_location_and_headers(start_server, cgi_dir):
    srv = start_server([], [f"--cgidir={cgi_dir}", "--header-http=X-Site: yes"])
    r = request(srv.port, "/status.cgi")
    assert (r.status, r.reason, r.body) == (418, "Teapot", b"short and stout\n")
    assert r.header("x-a") == "1" and r.header("x-site") == "yes"
    r = request(srv.port, "/loc.cgi")
    assert r.status == 302 and r.header("location") == "http://example.com/next"
    r = request(srv.port, "/status.cgi", method="HEAD")
    assert r.status == 418 and r.body == b""


@pytest.mark.differs_from_websocketd("websocketd answers 500 with an empty body")
def test_broken_scripts_say_what_happened(start_server, cgi_dir):
    srv = start_server([], [f"--cgidir={cgi_dir}"])
    r = request(srv.port, "/bad.cgi")
    assert r.status == 502 and b"no ':'" in r.body
    r = request(srv.port, "/silent.cgi")
    assert r.status == 502 and b"wrote nothing" in r.body
    r = request(srv.port, "/noexec.cgi")
    assert r.status == 500 and b"Permission denied" in r.body


@pytest.mark.timeout(60)
def test_large_body_reaches_stdin(start_server, cgi_dir):
    srv = start_server([], [f"--cgidir={cgi_dir}"])
    body = os.urandom(8 * 1024 * 1024)
    r = request(srv.port, "/sha.cgi", method="POST", body=body, timeout=30)
    assert r.status == 200 and r.body.strip().decode() == hashlib.sha256(body).hexdigest()


@pytest.mark.differs_from_websocketd("websocketd reads chunked bodies")
def test_chunked_body_gets_411(start_server, cgi_dir):
    srv = start_server([], [f"--cgidir={cgi_dir}"])
    # Transfer-Encoding alone: with a Content-Length beside it the request
    # is malformed (400) and the 411 path would never run.
    r = wsb.http_exchange(srv.port, b"POST /sha.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                          timeout=10)
    assert r.status == 411, r


@pytest.mark.timeout(90)
def test_output_streams_with_backpressure_and_client_leaving_ends_script(start_server, cgi_dir):
    pid_file = os.path.join(cgi_dir, "flood.pid")  # scripts run in their folder
    srv = start_server([], [f"--cgidir={cgi_dir}"])
    rss = procstat.RssWatch(srv.pid)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(b"GET /flood.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, rest = wsb.read_http_head(s, 10)
    assert head.startswith(b"HTTP/1.1 200")
    time.sleep(1.0)
    grown = rss.sample()
    assert grown < 16 * 1024, f"server grew {grown} KiB while the client was not reading"
    pid = int(open(pid_file).read())
    assert wsb.pid_alive(pid)  # blocked on a full pipe, not buffered away
    # Read a part, then leave: the script must be ended.
    got = len(rest)
    while got < 4 * 1024 * 1024:
        chunk = s.recv(1 << 20)
        assert chunk
        got += len(chunk)
    s.close()
    assert wsb.wait_pid_gone(pid, 5) is not None


@pytest.mark.timeout(60)
def test_full_output_is_delivered(start_server, cgi_dir):
    srv = start_server([], [f"--cgidir={cgi_dir}"])
    with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as s:
        s.sendall(b"GET /flood.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, rest = wsb.read_http_head(s, 10)
        got = len(rest)
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
    if b"chunked" in head and wsb.is_websocketd(wsb.binary_under_test()):
        pytest.skip("chunked framing (websocketd): byte count not comparable")
    assert b"chunked" not in head.lower(), head
    assert got == 64 * 1024 * 1024


@pytest.mark.timeout(60)
def test_maxforks_counts_cgi_scripts(start_server, cgi_dir):
    pid_file = os.path.join(cgi_dir, "slow.pid")
    srv = start_server([], [f"--cgidir={cgi_dir}", "--maxforks=1"])
    first = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    first.sendall(b"GET /slow.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    deadline = time.monotonic() + 5
    while not os.path.exists(pid_file) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert os.path.exists(pid_file), "slow.cgi did not start"
    # slow.cgi holds the one slot for 5 s: the next script is refused.
    r = request(srv.port, "/status.cgi")
    assert (r.status, r.body) == (429, b"429 Too Many Requests\n")
    assert srv.wait_log("maxforks amount has been reached")
    head, rest = wsb.read_http_head(first, 10)
    assert head.startswith(b"HTTP/1.1 200")
    first.close()
    # The slot is given back once the script is reaped. (Each status.cgi
    # holds the slot again until it is reaped, which may be a moment after
    # its answer: so the answer that got through is the one judged.)
    deadline = time.monotonic() + 5
    status = request(srv.port, "/status.cgi").status
    while status == 429 and time.monotonic() < deadline:
        time.sleep(0.05)
        status = request(srv.port, "/status.cgi").status
    assert status == 418


@pytest.mark.timeout(90)
@pytest.mark.differs_from_websocketd("websocketd waits for a silent script for ever")
def test_silent_script_times_out_with_504_and_is_ended(start_server, cgi_dir, stray):
    srv = start_server([], [f"--cgidir={cgi_dir}"])
    pid_file = os.path.join(cgi_dir, "hang.pid")
    started = time.monotonic()
    try:
        r = request(srv.port, "/hang.cgi", timeout=45)
    finally:
        if os.path.exists(pid_file):
            stray.add(int(open(pid_file).read()))  # killed at teardown if still there
    waited = time.monotonic() - started
    assert r.status == 504 and b"sent nothing for 30 s" in r.body
    assert 29 <= waited < 40
    assert wsb.wait_pid_gone(int(open(pid_file).read()), 5) is not None


@pytest.mark.differs_from_websocketd("websocketd serves a CGI script's source when cgidir is inside staticdir (#453)")
def test_cgi_source_inside_staticdir_is_not_served(start_server, tmp_path):
    www = tmp_path / "www"
    os.makedirs(www / "cgi-bin")
    (www / "index.html").write_text("home\n")
    (www / "cgi-bin" / "hello.cgi").write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nran\\n'\n")
    os.chmod(www / "cgi-bin" / "hello.cgi", 0o755)
    srv = start_server([], [f"--staticdir={www}", f"--cgidir={www}/cgi-bin"])
    # The URL of the file inside the static folder: never its source.
    r = request(srv.port, "/cgi-bin/hello.cgi")
    assert r.status == 403 and b"printf" not in r.body
    # The CGI URL runs it.
    r = request(srv.port, "/hello.cgi")
    assert (r.status, r.body) == (200, b"ran\n")
    assert request(srv.port, "/").body == b"home\n"


def test_startup(start_server, bin_path, cgi_dir, tmp_path):
    srv = start_server([], [f"--cgidir={cgi_dir}"])
    assert srv.wait_log(f"Serving CGI scripts from    : {cgi_dir}")
    assert srv.wait_log("Serving CGI or static files : http://")
    r = wsb.run_cli(bin_path, ["--port=1", f"--cgidir={tmp_path}/nope"])
    assert r.returncode == 1 and b"is not pointing to an accessible directory" in r.stderr


def script_pid(pid_file, timeout):
    """The pid a script wrote to pid_file, once written whole; None if not within timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(pid_file) as f:
                text = f.read()
            if text.endswith("\n"):
                return int(text)
        except FileNotFoundError:
            pass
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


@pytest.mark.timeout(60)
@pytest.mark.differs_from_websocketd("websocketd exits at once and drops the request; wsbridge answers 503")
@pytest.mark.parametrize("delay", [0.5, 0.0], ids=["script-running", "script-starting"])
def test_sigterm_answers_a_running_script_with_503_and_stops_at_once(start_server, cgi_dir, stray, delay):
    # The server used to end the script but leave its client's socket open
    # until the 10 s shutdown deadline. With no delay the signal may meet the
    # script while it is still being started (on the thread pool): then it
    # must be ended as soon as it exists, and the answer is the same.
    srv = start_server([], [f"--cgidir={cgi_dir}"])
    pid_file = os.path.join(cgi_dir, "slow.pid")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /slow.cgi HTTP/1.1\r\nHost: x\r\n\r\n")
        if delay:
            assert script_pid(pid_file, 5) is not None, "the script did not start"
            time.sleep(delay)
        assert srv.terminate(timeout=8) == 0, "the server did not stop before the shutdown deadline"
        answer = b""
        try:
            while chunk := s.recv(4096):
                answer += chunk
        except ConnectionResetError:
            assert not delay, "reset while the script ran"  # unread request: closed with a reset
    pid = script_pid(pid_file, 1 if os.path.exists(pid_file) else 0)
    if pid is not None:
        stray.add(pid)
        assert wsb.wait_pid_gone(pid, 5) is not None, "the script outlived the server"
    assert "still open at the shutdown deadline" not in srv.log()
    # The request may also have been read only after the signal: then the
    # connection is closed unanswered, which is what a stopping server does.
    if answer or delay:
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
        assert b"shutting down" in answer


@pytest.mark.timeout(60)
def test_half_closed_client_still_gets_the_response(start_server, cgi_dir):
    # The end of the client's input after a complete request is "no more
    # requests": the script runs and its whole response arrives, as with
    # websocketd. A client that half-closes before its body is complete is
    # still gone (covered by the body tests' own exits).
    srv = start_server([], [f"--cgidir={cgi_dir}"])
    r = wsb.half_closed_exchange(srv.port, b"GET /status.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (r.status, r.body) == (418, b"short and stout\n")
    big = wsb.half_closed_exchange(srv.port, b"GET /flood.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert big.status == 200
    assert len(big.body) == 64 * 1024 * 1024


def read_until_closed(sock, limit=1 << 24):
    """Everything the server sends until it closes, and the error that ended
    the read instead of a clean close (None when it closed cleanly)."""
    data = bytearray()
    while len(data) < limit:
        try:
            chunk = sock.recv(1 << 16)
        except OSError as e:
            return bytes(data), e
        if not chunk:
            return bytes(data), None
        data += chunk
    return bytes(data), None


@pytest.mark.timeout(60)
def test_expect_100_continue_is_answered_before_the_body(start_server, cgi_dir):
    # A client that sends "Expect: 100-continue" waits for "100 Continue"
    # before its body (curl does for large bodies, for up to a second). The
    # body will be read, so the interim answer comes first; a request whose
    # body nobody reads gets its final status at once.
    srv = start_server([], [f"--cgidir={cgi_dir}"])
    body = bytes(range(256)) * 4096  # 1 MiB
    head = (f"POST /sha.cgi HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(head)
        interim, rest = wsb.read_http_head(s, 10)  # before the fix: no answer until the body came
        assert interim == b"HTTP/1.1 100 Continue"
        assert rest == b""
        s.sendall(body)
        answer, error = read_until_closed(s)
    assert error is None, error
    final = wsb.parse_head(answer.partition(b"\r\n\r\n")[0])
    assert final[0] == 200
    assert answer.partition(b"\r\n\r\n")[2].strip() == hashlib.sha256(body).hexdigest().encode()

    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(head.replace(b"/sha.cgi", b"/missing.cgi"))
        refused, _ = wsb.read_http_head(s, 10)
    assert wsb.parse_head(refused)[0] == 404


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path,status", [("/status.cgi", 418), ("/missing.cgi", 404)])
def test_unread_body_is_drained_so_the_response_is_not_reset(start_server, cgi_dir, path, status):
    # status.cgi answers without reading its 5 MB body, and a refusal
    # never reads one. Closing a socket
    # with unread bytes makes the kernel send a reset, which breaks the
    # client's upload (curl: "Send failure: Broken pipe") and can cut the
    # response; the lingering close reads and drops the rest first (up to
    # its size and time bounds: docs/security.md).
    srv = start_server([], [f"--cgidir={cgi_dir}"])
    size = 5_000_000
    with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n"
                  "Connection: close\r\n\r\n".encode())
        sent = {"bytes": 0, "error": None}

        def send_body():
            chunk = b"b" * 65536
            try:
                while sent["bytes"] < size:
                    n = min(len(chunk), size - sent["bytes"])
                    s.sendall(chunk[:n])
                    sent["bytes"] += n
            except OSError as e:
                sent["error"] = e

        sender = threading.Thread(target=send_body)
        sender.start()
        answer, error = read_until_closed(s)
        sender.join(30)
        assert not sender.is_alive()
    assert error is None, f"the response ended with {error!r} after {len(answer)} bytes"
    head, _, body = answer.partition(b"\r\n\r\n")
    assert wsb.parse_head(head)[0] == status
    if status == 418:
        assert body == b"short and stout\n"
    assert sent["error"] is None, f"the upload broke after {sent['bytes']} bytes: {sent['error']!r}"
    assert sent["bytes"] == size
