"""The real browser as a client: headless chromium (which offers
permessage-deflate on every connection and sends its cookies with an
upgrade) against --deflate and --auth."""
import asyncio
import json
import os
import subprocess

import pytest

import wsb
from chromium import Browser
from wsb import script

SIGNED = os.path.normpath(os.path.join(wsb.HERE, "..", "..", "examples", "auth", "signed_token.py"))

# Opens a WebSocket from the page, sends the messages, and resolves with
# the extensions agreed and every message received until the server closes.
CONVERSATION = """
new Promise((resolve, reject) => {
  const ws = new WebSocket(%(url)s);
  const got = [];
  ws.onopen = () => { for (const m of %(send)s) ws.send(m); };
  ws.onmessage = (e) => { got.push(e.data); if (got.length === %(expect)d) ws.close(1000); };
  ws.onclose = (e) => resolve({extensions: ws.extensions, got, code: e.code});
  setTimeout(() => reject(new Error('no answer in 15 s: ' + JSON.stringify(got.length))), 15000);
})
"""


async def load(browser: Browser, url: str):
    await browser.call("Page.navigate", url=url)
    await browser.wait_for("document.readyState === 'complete' && location.href.startsWith('http')")


def conversation(url: str, send: list, expect: int) -> str:
    return CONVERSATION % {"url": json.dumps(url), "send": json.dumps(send), "expect": expect}


@pytest.mark.timeout(120)
def test_chromium_agrees_deflate_and_echoes_small_and_large(start_server, browser):
    srv = start_server(["cat"], ["--deflate", "--devconsole"])
    small, large = "hello", "0123456789abcdef" * 8192  # 128 KiB

    async def go():
        await browser.open()
        await load(browser, f"http://127.0.0.1:{srv.port}/")
        return await browser.js(conversation(f"ws://127.0.0.1:{srv.port}/", [small, large, small], 3))
    result = asyncio.run(asyncio.wait_for(go(), 90))
    assert "permessage-deflate" in result["extensions"]
    assert result["got"] == [small, large, small]


@pytest.mark.timeout(120)
def test_chromium_sends_its_session_cookie_to_the_auth_program(start_server, browser):
    srv = start_server([script("env.sh")], ["--devconsole", f"--auth={SIGNED}"])
    token = subprocess.run([SIGNED, "--sign", "dana", "600"], capture_output=True, text=True,
                           check=True).stdout.strip()
    origin = f"http://127.0.0.1:{srv.port}"

    async def go():
        await browser.open()
        # Without the cookie even the console page is refused.
        await browser.call("Network.setCookie", name="session", value=token, url=origin + "/")
        await load(browser, origin + "/")
        return await browser.js(conversation(f"ws://127.0.0.1:{srv.port}/", [], 1000))
    result = asyncio.run(asyncio.wait_for(go(), 90))
    env = dict(line.split("=", 1) for line in result["got"] if "=" in line)
    assert env["REMOTE_USER"] == "dana"
    assert f"session={token}" in env["HTTP_COOKIE"]
    assert result["code"] == 1000


@pytest.mark.timeout(120)
def test_chromium_and_a_python_client_share_one_room(start_server, browser, tmp_path):
    """--broadcast: a page in Chromium and a python3-websockets client on
    one path hear the same lines, in the same order, from one program."""
    pids = tmp_path / "room.pids"
    room = tmp_path / "room.sh"
    room.write_text(f"#!/bin/sh\necho $$ >> {pids}\nexec cat\n")
    room.chmod(0o755)
    srv = start_server([str(room)], ["--broadcast", "--workers=1", "--devconsole"])
    url = f"ws://127.0.0.1:{srv.port}/lobby"

    async def go():
        import websockets
        async with websockets.connect(url, ping_interval=None) as python_client:
            await browser.open()
            await load(browser, f"http://127.0.0.1:{srv.port}/")
            # The page joins, says hello, then waits for three lines: its
            # own, and two the python client sends once the page's arrives.
            page = asyncio.ensure_future(browser.js(conversation(url, ["from chromium"], 3)))
            first = await asyncio.wait_for(python_client.recv(), 20)
            await python_client.send("from python 1")
            await python_client.send("from python 2")
            heard = [first] + [await asyncio.wait_for(python_client.recv(), 10) for _ in range(2)]
            return heard, await page
    heard, result = asyncio.run(asyncio.wait_for(go(), 90))
    assert heard == ["from chromium", "from python 1", "from python 2"]
    assert result["got"] == heard
    assert len(pids.read_text().split()) == 1
