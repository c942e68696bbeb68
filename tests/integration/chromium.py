"""Headless Debian chromium driven through its DevTools protocol (CDP) with
python3-websockets: the real browser peer of the integration tests."""
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1"]


class Browser:
    """Headless chromium and one CDP session to its first page."""

    def __init__(self, tmpdir, extra_flags=()):
        self.profile = tempfile.mkdtemp(prefix="chromium-", dir=tmpdir)
        self.proc = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, *extra_flags, f"--user-data-dir={self.profile}",
                                      "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self.ws = None
        self.next_id = 0
        self.events = []

    def debugging_port(self, timeout=30):
        marker = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(marker) as f:
                    return int(f.read().split()[0])
            time.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port")

    async def open(self):
        import websockets
        port = self.debugging_port()
        deadline = time.monotonic() + 15
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = [t for t in json.load(r) if t.get("type") == "page"]
            if targets or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert targets, "no page target in chromium"
        self.ws = await websockets.connect(targets[0]["webSocketDebuggerUrl"], max_size=None)

    async def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    async def js(self, expression):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.js(expression):
                return True
            await asyncio.sleep(0.05)
        shown = await self.js("document.getElementById('log').innerText")
        raise AssertionError(f"timed out waiting for {expression}; log: {shown!r}")

    async def type_text(self, element_id, text):
        await self.js(f"document.getElementById({json.dumps(element_id)}).focus()")
        await self.call("Input.insertText", text=text)

    def close(self):
        if self.proc.poll() is None:
            # Our own chromium: its session (process group) holds its helpers.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)
