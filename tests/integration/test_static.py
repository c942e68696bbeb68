"""--staticdir: static files.

What a URL maps to (status, redirect target) is compared side by side with
Debian's websocketd 0.4.1 for the paths where wsbridge means to behave the
same; DIFFERENCES lists the deliberate differences, which must be observed.
The rest checks wsbridge's own guarantees: nothing outside the folder, no
dotfiles or listings, validators, ranges, and bounded memory for big files.
"""
import os
import re
import socket
import time
import urllib.parse

import pytest

import procstat
import wsb

# path -> why wsbridge answers differently from websocketd 0.4.1
DIFFERENCES = {
    "/.env": "dotfiles: websocketd serves them; wsbridge 403 (websocketd #476)",
    "/.git/config": "dot-folders: websocketd serves them; wsbridge 403 (websocketd #476)",
    "/bare/": "a folder without index.html: websocketd lists it; wsbridge 403 (#476)",
    "/passwd": "a symlink out of the folder: websocketd follows it; wsbridge 404",
    "/etc/passwd": "a symlinked folder out of the folder: websocketd follows it; wsbridge 404",
}

PATHS = ["/", "/index.html", "/sub", "/sub/", "/sub/index.html", "/bare", "/bare/", "/bare/a.txt",
         "/bare/a.txt/", "/app.js", "/style.css", "/missing", "/sub/missing", "/index.html?x=1",
         "/sub?y=2", "/%2e%2e/etc/passwd", "/sub/../../etc/passwd", "//app.js", "/a%20b.txt",
         "/.env", "/.git/config", "/passwd", "/etc/passwd"]


def make_tree(root):
    for d in ("sub", "bare", ".git", "cgi"):
        os.makedirs(os.path.join(root, d))
    files = {"index.html": "<h1>home</h1>\n", "sub/index.html": "sub index\n", "bare/a.txt": "a\n",
             ".env": "SECRET=1\n", ".git/config": "[core]\n", "app.js": "console.log(1);\n",
             "style.css": "body{}\n", "a b.txt": "spaced\n", "cgi/run.cgi": "#!/bin/sh\necho hi\n"}
    for name, text in files.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
    os.symlink("/etc/passwd", os.path.join(root, "passwd"))
    os.symlink("/etc", os.path.join(root, "etc"))


def observe(port, path):
    r = wsb.http_request(port, path)
    location = r.header("location")
    if location:
        # Go's FileServer sends relative redirects ("sub/"); compare where they lead.
        joined = urllib.parse.urlsplit(urllib.parse.urljoin(f"http://h{path}", location))
        location = joined.path + (f"?{joined.query}" if joined.query else "")
    return r.status, location


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "www"
    make_tree(str(root))
    return str(root)


@pytest.mark.timeout(120)
def test_routing_matches_websocketd(websocketd_and_wsbridge, tree):
    reference, subject = (start([], [f"--staticdir={tree}"]) for start in websocketd_and_wsbridge)
    wsb.assert_only_listed_differences(observe, reference.port, subject.port, PATHS, DIFFERENCES)


def test_content_and_types(start_server, tree):
    srv = start_server([], [f"--staticdir={tree}"])
    r = wsb.http_request(srv.port, "/")
    assert (r.status, r.body) == (200, b"<h1>home</h1>\n")
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert r.header("content-length") == str(len(r.body))
    assert wsb.http_request(srv.port, "/app.js").header("content-type") == "text/javascript; charset=utf-8"
    assert wsb.http_request(srv.port, "/style.css").header("content-type") == "text/css; charset=utf-8"
    assert wsb.http_request(srv.port, "/a%20b.txt").body == b"spaced\n"
    assert srv.wait_log("STATIC")


@pytest.mark.differs_from_websocketd("websocketd serves dotfiles, listings and files out of the folder")
def test_never_a_byte_outside_or_hidden(start_server, tree):
    srv = start_server([], [f"--staticdir={tree}"])
    for path in ("/.env", "/.git/config", "/.nothing", "/sub/.x"):
        r = wsb.http_request(srv.port, path)
        assert r.status == 403 and b"'.'" in r.body and b"SECRET" not in r.body, path
    r = wsb.http_request(srv.port, "/bare/")
    assert r.status == 403 and b"listing" in r.body
    for path in ("/passwd", "/etc/passwd", "/etc/"):
        r = wsb.http_request(srv.port, path)
        assert r.status == 404 and b"root:" not in r.body, path
    # Traversal, plain or encoded, is redirected to a path inside the folder
    # (Go's ServeMux rule), never answered with the file.
    for path in ("/../etc/passwd", "/%2e%2e/etc/passwd", "/sub/%2E%2E/%2e%2e/etc/passwd",
                 "/..%2fetc%2fpasswd"):
        r = wsb.http_request(srv.port, path)
        assert r.status in (301, 404) and b"root:" not in r.body, path
        if r.status == 301:
            assert wsb.http_request(srv.port, r.header("location")).status == 404
    # A NUL cannot name a file.
    assert wsb.http_request(srv.port, "/index.html%00.txt").status == 400


@pytest.mark.differs_from_websocketd("websocketd's FileServer sends no ETag")
def test_conditional_requests(start_server, tree):
    srv = start_server([], [f"--staticdir={tree}"])
    first = wsb.http_request(srv.port, "/app.js")
    etag, modified = first.header("etag"), first.header("last-modified")
    # The README's promise: a strong validator, quoted (RFC 9110 §8.8.3).
    assert etag and re.fullmatch(r'"[\x21\x23-\x7e\x80-\xff]+"', etag), etag
    assert modified
    r = wsb.http_request(srv.port, "/app.js", headers={"If-None-Match": etag})
    assert (r.status, r.body) == (304, b"")
    assert r.header("etag") == etag
    assert wsb.http_request(srv.port, "/app.js", headers={"If-Modified-Since": modified}).status == 304
    assert wsb.http_request(srv.port, "/app.js", headers={"If-None-Match": '"other"'}).status == 200
    assert wsb.http_request(srv.port, "/app.js", headers={"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}).status == 200
    # Changing the file changes the validator.
    time.sleep(0.01)
    with open(os.path.join(tree, "app.js"), "a") as f:
        f.write("//\n")
    assert wsb.http_request(srv.port, "/app.js", headers={"If-None-Match": etag}).status == 200


def test_head_and_ranges(start_server, tree):
    srv = start_server([], [f"--staticdir={tree}"])
    r = wsb.http_request(srv.port, "/", method="HEAD")
    assert (r.status, r.header("content-length"), r.body) == (200, "14", b"")
    r = wsb.http_request(srv.port, "/app.js", headers={"Range": "bytes=2-5"})
    assert (r.status, r.body) == (206, b"nsol")
    assert r.header("content-range") == "bytes 2-5/16"
    r = wsb.http_request(srv.port, "/app.js", headers={"Range": "bytes=-3"})
    assert (r.status, r.body) == (206, b");\n")
    r = wsb.http_request(srv.port, "/app.js", headers={"Range": "bytes=100-"})
    assert r.status == 416 and r.header("content-range") == "bytes */16"
    assert r.header("content-type") == "text/plain; charset=utf-8"
    r = wsb.http_request(srv.port, "/app.js", headers={"Range": "bytes=0-0", "If-Range": '"stale"'})
    assert r.status == 200 and len(r.body) == 16


@pytest.mark.differs_from_websocketd("websocketd's FileServer answers every method")
def test_only_get_and_head(start_server, tree):
    srv = start_server([], [f"--staticdir={tree}"])
    r = wsb.http_request(srv.port, "/app.js", method="POST")
    assert r.status == 405 and r.header("allow") == "GET, HEAD" and b"GET or HEAD" in r.body
    assert wsb.http_request(srv.port, "/app.js", method="DELETE").status == 405
    assert os.path.exists(os.path.join(tree, "app.js"))


def test_header_http_applies(start_server, tree):
    srv = start_server([], [f"--staticdir={tree}", "--header-http=X-Served: static",
                            "--header=X-Ws-Only: 1"])
    for path in ("/", "/missing", "/sub"):
        r = wsb.http_request(srv.port, path)
        assert r.header("x-served") == "static", path
        assert r.header("x-ws-only") is None, path


@pytest.mark.timeout(120)
def test_large_file_streams_with_bounded_memory(start_server, tree, bin_path):
    big = os.path.join(tree, "big.bin")
    size = 256 * 1024 * 1024
    with open(big, "wb") as f:  # sparse: cheap on disk, real bytes on the wire
        f.truncate(size)
        f.seek(size - 4)
        f.write(b"TAIL")
    # Under AddressSanitizer freed chunks wait in its quarantine (256 MiB by
    # default), which alone let RSS grow 66 MiB while streaming 256 MiB: a
    # small quarantine keeps RSS a measure of what the server holds.
    asan = procstat.is_asan_build(bin_path)
    env = None
    if asan:
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=8"
    srv = start_server([], [f"--staticdir={tree}"], env=env)
    rss = procstat.RssWatch(srv.pid)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(f"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head, rest = wsb.read_http_head(s, 10)
    assert b"Content-Length: %d" % size in head
    # Read nothing for a while: the server must not buffer the file.
    time.sleep(1.0)
    grown = rss.sample()
    assert grown < 16 * 1024, f"server grew {grown} KiB while the client was not reading"
    # Another client is served meanwhile: the loop is not stuck in the file.
    assert wsb.http_request(srv.port, "/app.js").status == 200
    received, tail = len(rest), rest[-4:]
    deadline = time.monotonic() + 90
    while received < size and time.monotonic() < deadline:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        received += len(chunk)
        tail = (tail + chunk)[-4:]
    s.close()
    assert received == size and tail == b"TAIL"
    # The quarantine's 8 MiB and ASan's shadow of what was touched on top.
    bound = 32 * 1024 if asan else 16 * 1024
    assert rss.sample() < bound


def test_missing_staticdir_is_a_startup_error(bin_path, tmp_path):
    r = wsb.run_cli(bin_path, ["--port=1", f"--staticdir={tmp_path}/nope"])
    assert r.returncode == 1 and b"is not pointing to an accessible directory" in r.stderr


@pytest.mark.differs_from_websocketd("websocketd hands out --dir script sources through an overlapping --staticdir")
def test_dir_scripts_are_not_served_as_static_files(start_server, tree):
    # One folder for the page and its WebSocket scripts: the scripts run,
    # their source is refused.
    scripts = os.path.join(tree, "ws")
    os.makedirs(scripts)
    with open(os.path.join(scripts, "echo.sh"), "w") as f:
        f.write("#!/bin/sh\nexec cat\n")
    os.chmod(os.path.join(scripts, "echo.sh"), 0o755)
    srv = start_server([], [f"--staticdir={tree}", f"--dir={scripts}"])
    assert wsb.http_request(srv.port, "/app.js").status == 200
    r = wsb.http_request(srv.port, "/ws/echo.sh")
    assert r.status == 403, r
    assert b"exec cat" not in r.body


@pytest.mark.timeout(60)
def test_half_closed_client_still_gets_the_whole_file(start_server, tree):
    # A client that shuts down its sending side after the request (nc -N,
    # socat) means "no more requests", not "gone": the 5 MB file, more
    # than the socket buffers hold, must arrive whole, not cut where the
    # server stopped writing.
    size = 5_000_000
    with open(os.path.join(tree, "five.bin"), "wb") as f:
        f.write(bytes(range(256)) * (size // 256) + bytes(size % 256))
    srv = start_server([], [f"--staticdir={tree}"])
    r = wsb.half_closed_exchange(srv.port, b"GET /five.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert r.status == 200
    assert r.header("content-length") == str(size)
    assert len(r.body) == size
    with open(os.path.join(tree, "five.bin"), "rb") as f:
        assert r.body == f.read()
