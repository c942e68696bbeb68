"""--devconsole in a real browser: headless Debian chromium, driven through
its DevTools protocol (CDP) with python3-websockets, loads the console from
`wsbridge --devconsole cat`, connects, types a message, sends it and sees
the echo rendered in the page; then closes, sees the close code, and
reconnects. Plus the HTTP side: every path, 304, exit 4 with the file options.
"""
import asyncio
import json
import os
import shutil
import subprocess

import pytest

import wsb

from chromium import CHROMIUM, Browser



# ------------------------------------------------------------ HTTP behaviour

@pytest.mark.differs_from_websocketd("websocketd's page is its own design (no element ids in common)")
def test_console_answers_every_plain_path(start_server):
    srv = start_server(["cat"], ["--devconsole", "--header-http=X-Extra: 1"])
    for path in ("/", "/any/path?q=1", "/x.html"):
        r = wsb.http_request(srv.port, path)
        assert r.status == 200, path
        assert r.header("content-type") == "text/html; charset=utf-8"
        assert b'id="connect"' in r.body and b'id="send"' in r.body
        assert r.header("x-extra") == "1"
    assert srv.wait_log("Developer console enabled   : http://")
    assert srv.wait_log("DEVCONSOLE")
    # The same paths still upgrade to WebSockets.
    with wsb.RawWS(srv.port, "/any/path") as c:
        c.send_text("ping")
        assert c.recv_message() == (wsb.OP_TEXT, b"ping")


def test_console_revalidates_with_304(start_server):
    srv = start_server(["cat"], ["--devconsole"])
    first = wsb.http_request(srv.port, "/")
    modified = first.header("last-modified")
    assert modified
    r = wsb.http_request(srv.port, "/", headers={"If-Modified-Since": modified})
    assert (r.status, r.body) == (304, b"")


@pytest.mark.differs_from_websocketd("websocketd writes the request URL into the page unescaped")
def test_console_reflects_nothing_from_the_request(start_server):
    srv = start_server(["cat"], ["--devconsole"])
    # A raw quote in the query: websocketd 0.4.1 closes its value="..." with it.
    evil = '/x%3Cscript%3Ealert(1)%3C/script%3E?q="><img/src=x>'
    r = wsb.http_request(srv.port, evil)
    assert r.status == 200
    assert b"alert(" not in r.body and b"<img" not in r.body
    # The page is the same bytes whatever the path.
    assert r.body == wsb.http_request(srv.port, "/").body
    assert "script-src 'unsafe-inline'" in r.header("content-security-policy")


@pytest.mark.parametrize("other", ["--staticdir", "--cgidir"])
def test_console_excludes_file_options(bin_path, tmp_path, other):
    r = wsb.run_cli(bin_path, ["--port=1", "--devconsole", f"{other}={tmp_path}", "cat"])
    assert r.returncode == 4
    name = other.lstrip("-")
    assert f"Invalid parameters: --devconsole cannot be used with --{name}. Pick one.".encode() in r.stdout


# ------------------------------------------------------------- in a browser

LOG_TEXTS = "Array.from(document.querySelectorAll('#log li')).map(li => [li.className, li.textContent])"


@pytest.mark.timeout(120)
@pytest.mark.differs_from_websocketd("the page is wsbridge's own design (element ids, close report)")
def test_console_in_chromium_connects_sends_and_shows_the_echo(start_server, browser):
    srv = start_server(["cat"], ["--devconsole"])

    async def scenario():
        await browser.open()
        await browser.call("Page.enable")
        await browser.call("Runtime.enable")
        page = f"http://127.0.0.1:{srv.port}/chat/room?name=a%20b"
        await browser.call("Page.navigate", url=page)
        await browser.wait_for("document.readyState === 'complete' && !!document.getElementById('connect')")
        assert await browser.js("document.getElementById('url').value") == \
            f"ws://127.0.0.1:{srv.port}/chat/room?name=a%20b"
        assert await browser.js("document.getElementById('status').textContent") == "closed"

        await browser.js("document.getElementById('connect').click()")
        await browser.wait_for("document.getElementById('status').textContent === 'open'")

        # Typed like a user, sent with the button; markup must stay text.
        message = "hello <b>bold</b> & ünï ✓"
        await browser.type_text("message", message)
        await browser.js("document.getElementById('send').click()")
        await browser.wait_for(f"{LOG_TEXTS}.some(([k, t]) => k === 'in' && t === {json.dumps(message)})")
        entries = await browser.js(LOG_TEXTS)
        assert ["out", message] in entries and ["in", message] in entries
        assert await browser.js("document.querySelector('#log b') === null")
        assert await browser.js("document.getElementById('message').value") == ""

        # Enter sends too.
        await browser.type_text("message", "second")
        await browser.call("Input.dispatchKeyEvent", type="keyDown", key="Enter", code="Enter",
                           windowsVirtualKeyCode=13, text="\r")
        await browser.call("Input.dispatchKeyEvent", type="keyUp", key="Enter", code="Enter",
                           windowsVirtualKeyCode=13)
        await browser.wait_for(f"{LOG_TEXTS}.some(([k, t]) => k === 'in' && t === 'second')")

        # Close: the close code, reason and cleanliness are shown.
        await browser.js("document.getElementById('disconnect').click()")
        await browser.wait_for("document.getElementById('status').textContent === 'closed'")
        await browser.wait_for(f"{LOG_TEXTS}.some(([k, t]) => t.includes('Clean: true, Code: 1000'))")

        # Reconnect and talk again.
        await browser.js("document.getElementById('reconnect').click()")
        await browser.wait_for("document.getElementById('status').textContent === 'open'")
        await browser.type_text("message", "again")
        await browser.js("document.getElementById('send').click()")
        await browser.wait_for(f"{LOG_TEXTS}.some(([k, t]) => k === 'in' && t === 'again')")
        await browser.ws.close()

    asyncio.run(asyncio.wait_for(scenario(), 90))
    assert srv.wait_log("CONNECT") and srv.wait_log("DISCONNECT")


@pytest.mark.timeout(120)
@pytest.mark.differs_from_websocketd("the page is wsbridge's own design; websocketd ends with 1006")
def test_console_in_chromium_shows_the_server_closing(start_server, browser):
    # The child prints two lines and exits: both arrive, then close 1000.
    srv = start_server([wsb.script("lines_then_exit.sh"), "2"], ["--devconsole"])

    async def scenario():
        await browser.open()
        # Markup in the URL stays text in the URL box.
        evil = "/x%22%3E%3Cimg%20src=x%3E?q=%3Cscript%3Ewindow.pwned=1%3C/script%3E"
        await browser.call("Page.navigate", url=f"http://127.0.0.1:{srv.port}{evil}")
        await browser.wait_for("document.readyState === 'complete' && !!document.getElementById('connect')")
        assert await browser.js("document.querySelectorAll('img').length") == 0
        assert await browser.js("window.pwned === undefined")
        assert await browser.js("document.getElementById('url').value") == f"ws://127.0.0.1:{srv.port}{evil}"
        await browser.js("document.getElementById('connect').click()")
        await browser.wait_for(f"{LOG_TEXTS}.some(([k, t]) => t.includes('Code: 1000'))")
        entries = await browser.js(LOG_TEXTS)
        assert len([e for e in entries if e[0] == "in"]) == 2
        assert await browser.js("document.getElementById('status').textContent") == "closed"
        await browser.ws.close()

    asyncio.run(asyncio.wait_for(scenario(), 90))


@pytest.fixture
def tls_browser(tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("chromium is not installed (scripts/install-deps.sh --with-tests installs it)")
    # The test's certificate is self-signed: this browser is told to accept it.
    b = Browser(str(tmp_path), ["--ignore-certificate-errors"])
    yield b
    b.close()


@pytest.mark.timeout(120)
@pytest.mark.differs_from_websocketd("the page is wsbridge's own design (element ids)")
def test_console_over_https_talks_wss_in_chromium(start_server, tls_browser, tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not installed")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1", "-days", "1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    srv = start_server(["cat"], ["--devconsole", "--ssl", f"--sslcert={cert}", f"--sslkey={key}"])
    browser = tls_browser

    async def scenario():
        await browser.open()
        await browser.call("Page.enable")
        await browser.call("Runtime.enable")
        await browser.call("Page.navigate", url=f"https://127.0.0.1:{srv.port}/secure")
        await browser.wait_for("document.readyState === 'complete' && !!document.getElementById('connect')")
        # The page itself came over TLS, so it offers wss:// for the same path.
        assert await browser.js("document.getElementById('url').value") == f"wss://127.0.0.1:{srv.port}/secure"
        await browser.js("document.getElementById('connect').click()")
        await browser.wait_for("document.getElementById('status').textContent === 'open'")
        await browser.type_text("message", "over wss")
        await browser.js("document.getElementById('send').click()")
        await browser.wait_for(f"{LOG_TEXTS}.some(([k, t]) => k === 'in' && t === 'over wss')")
        await browser.ws.close()

    asyncio.run(asyncio.wait_for(scenario(), 90))
    assert srv.wait_log("url:'https://127.0.0.1")
