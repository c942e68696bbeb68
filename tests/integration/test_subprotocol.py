"""--subprotocol=LIST (issue 11): the server's order of preference picks the
protocol, answered in Sec-WebSocket-Protocol and given to the program as
WEBSOCKET_PROTOCOL; an offer with nothing supported gets 400 before any
program starts. Clients: python3-websockets and headless chromium."""
import asyncio
import json
import os

import pytest
import websockets

import wsb
from wsb import script


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def environment_seen(srv, offer):
    """Connects offering `offer` (None: no header); returns the protocol the
    server answered and the program's environment."""
    async def go():
        async with websockets.connect(srv.url(), subprotocols=offer, ping_interval=None,
                                      close_timeout=3) as ws:
            lines = []
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    lines.append(await asyncio.wait_for(ws.recv(), 10))
            return ws.subprotocol, dict(line.split("=", 1) for line in lines if "=" in line)
    return run(go())


@pytest.mark.differs_from_websocketd("websocketd has no --subprotocol")
def test_the_servers_preference_wins_and_the_program_is_told(start_server):
    srv = start_server([script("env.sh")], flags=["--subprotocol=mqtt,chat.v2,chat"])
    answered, env = environment_seen(srv, ["chat", "chat.v2"])
    assert answered == "chat.v2"  # the server prefers chat.v2 to chat
    assert env["WEBSOCKET_PROTOCOL"] == "chat.v2"
    assert env["HTTP_SEC_WEBSOCKET_PROTOCOL"] == "chat, chat.v2"  # the whole offer


def test_without_the_option_no_protocol_is_answered(start_server):
    srv = start_server([script("env.sh")])
    answered, env = environment_seen(srv, ["chat"])
    assert answered is None
    assert "WEBSOCKET_PROTOCOL" not in env
    assert env["HTTP_SEC_WEBSOCKET_PROTOCOL"] == "chat"


def test_a_client_that_offers_nothing_connects_without_a_protocol(start_server):
    srv = start_server([script("env.sh")], flags=["--subprotocol=chat"])
    answered, env = environment_seen(srv, None)
    assert answered is None
    assert "WEBSOCKET_PROTOCOL" not in env


@pytest.mark.differs_from_websocketd("websocketd has no --subprotocol")
def test_an_offer_with_nothing_supported_is_refused_before_the_program_starts(start_server, tmp_path):
    marker = tmp_path / "started"
    srv = start_server(["/bin/sh", "-c", f"touch {marker}"], flags=["--subprotocol=chat,mqtt"])
    offer = wsb.upgrade_request(srv.port, headers={"Sec-WebSocket-Protocol": "soap, wamp"})
    response = wsb.http_exchange(srv.port, offer)
    assert response.status == 400
    assert b"chat, mqtt" in response.body, response
    assert response.header("sec-websocket-protocol") is None

    async def refused():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as caught:
            async with websockets.connect(srv.url(), subprotocols=["soap"], ping_interval=None):
                pass
        return caught.value.status_code
    assert run(refused()) == 400
    assert not marker.exists()  # no program started for either
    # The same server still serves a supported offer.
    answered, _ = environment_seen(srv, ["mqtt"])
    assert answered == "mqtt"
    assert marker.exists()  # that one did start its program


def test_a_list_that_is_not_tokens_is_refused_at_start_up(bin_path):
    for bad in ["chat v2", "chat,", ""]:
        result = wsb.run_cli(bin_path, [f"--subprotocol={bad}", "cat"])
        assert result.returncode == 2, (bad, result)
        assert b"--subprotocol" in result.stderr or b"-subprotocol" in result.stderr, result.stderr


CHROMIUM_PROTOCOL = """
new Promise((resolve, reject) => {
  const ws = new WebSocket(%(url)s, %(offer)s);
  const got = [];
  ws.onmessage = (e) => got.push(e.data);
  ws.onclose = (e) => resolve({protocol: ws.protocol, got, code: e.code});
  setTimeout(() => reject(new Error('no close in 15 s')), 15000);
})
"""


@pytest.mark.timeout(120)
def test_chromium_sees_the_chosen_protocol(start_server, browser):
    srv = start_server([script("env.sh")], ["--devconsole", "--subprotocol=v2.example,v1.example"])

    async def go():
        await browser.open()
        await browser.call("Page.navigate", url=f"http://127.0.0.1:{srv.port}/")
        await browser.wait_for("document.readyState === 'complete' && location.href.startsWith('http')")
        return await browser.js(CHROMIUM_PROTOCOL % {"url": json.dumps(f"ws://127.0.0.1:{srv.port}/"),
                                                     "offer": json.dumps(["v1.example", "v2.example"])})
    result = asyncio.run(asyncio.wait_for(go(), 90))
    assert result["protocol"] == "v2.example"
    assert "WEBSOCKET_PROTOCOL=v2.example" in result["got"]
    assert result["code"] == 1000
