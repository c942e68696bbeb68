// The --devconsole page: one self-contained HTML document with its script
// and styles inline. The server never writes request data into it: the
// script builds the ws:// URL from location itself, and every message is
// shown through textContent, so nothing a client sends or a child prints
// can become markup (websocketd 0.4.1 reflected the URL unescaped).
#pragma once
#include <string_view>

namespace wsbridge::net {

inline constexpr std::string_view kDevConsolePage = R"PAGE(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsbridge console</title>
<style>
  :root { color-scheme: light dark; font: 14px/1.4 system-ui, sans-serif; }
  body { margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header, form { display: flex; gap: .5em; padding: .5em; align-items: center; flex-wrap: wrap; }
  header { border-bottom: 1px solid #8884; }
  form { border-top: 1px solid #8884; }
  input[type=text] { flex: 1; min-width: 12em; font: 13px ui-monospace, monospace; padding: .3em; }
  #status { font-weight: 600; min-width: 7em; }
  #status.open { color: #1a7f37; } #status.closed { color: #b42318; } #status.connecting { color: #9a6700; }
  #log { flex: 1; overflow-y: auto; margin: 0; padding: .5em; list-style: none;
         font: 13px ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
  #log li { padding: 1px 0; }
  #log .in::before { content: "\2190  "; color: #1a7f37; }
  #log .out::before { content: "\2192  "; color: #0969da; }
  #log .event { color: #8c8c8c; font-style: italic; }
  #log .error { color: #b42318; }
  #log .binary { color: #8250df; }
</style>
</head>
<body>
<header>
  <span id="status" class="closed">closed</span>
  <input id="url" type="text" spellcheck="false" aria-label="WebSocket URL">
  <button id="connect" type="button">Connect</button>
  <button id="disconnect" type="button" disabled>Close</button>
  <button id="reconnect" type="button">Reconnect</button>
  <label><input id="auto" type="checkbox"> auto-reconnect</label>
  <button id="clear" type="button">Clear</button>
</header>
<ol id="log" aria-live="polite"></ol>
<form id="sendform">
  <input id="message" type="text" spellcheck="false" placeholder="Message (Enter sends, Up/Down for history)" aria-label="Message" disabled>
  <button id="send" type="submit" disabled>Send</button>
</form>
<script>
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const url = $("url"), log = $("log"), status = $("status"), message = $("message");
  let socket = null, wanted = false, history = [], historyAt = 0, retry = null;

  // ws[s]://host/path?query of this very page: the endpoint it was served for.
  url.value = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + location.pathname + location.search;

  function show(kind, text) {
    const item = document.createElement("li");
    item.className = kind;
    item.textContent = text;  // never innerHTML: messages are data, not markup
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.appendChild(item);
    while (log.children.length > 2000) log.removeChild(log.firstChild);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function setState(state) {
    status.textContent = state;
    status.className = state;
    const open = state === "open";
    $("connect").disabled = state !== "closed";
    $("disconnect").disabled = state === "closed";
    message.disabled = !open;
    $("send").disabled = !open;
    if (open) message.focus();
  }

  function connect() {
    if (socket) return;
    clearTimeout(retry);
    let ws;
    try {
      ws = new WebSocket(url.value.trim());
    } catch (e) {
      show("error", "cannot connect: " + e.message);
      return;
    }
    ws.binaryType = "arraybuffer";
    socket = ws;
    wanted = true;
    setState("connecting");
    show("event", "connecting to " + ws.url);
    ws.onopen = () => { setState("open"); show("event", "open"); };
    ws.onmessage = (e) => {
      if (typeof e.data === "string") {
        show("in", e.data);
      } else {
        const bytes = new Uint8Array(e.data);
        const hex = Array.from(bytes.slice(0, 64), (b) => b.toString(16).padStart(2, "0")).join(" ");
        show("in binary", "[binary, " + bytes.length + " bytes] " + hex + (bytes.length > 64 ? " ..." : ""));
      }
    };
    ws.onerror = () => show("error", "error (the close event below says more)");
    ws.onclose = (e) => {
      show("event", "closed [Clean: " + e.wasClean + ", Code: " + e.code + ", Reason: " + (e.reason || "(none)") + "]");
      if (socket === ws) socket = null;
      setState("closed");
      if (wanted && $("auto").checked) retry = setTimeout(connect, 1000);
    };
  }

  function disconnect() {
    wanted = false;
    clearTimeout(retry);
    if (socket) { setState("closing"); socket.close(1000, "closed from the console"); }
  }

  function reconnect() {
    const old = socket;
    socket = null;
    if (old) { old.onclose = (e) => show("event", "closed [Clean: " + e.wasClean + ", Code: " + e.code + ", Reason: " + (e.reason || "(none)") + "]"); old.close(1000, "reconnecting"); }
    setState("closed");
    connect();
  }

  $("connect").onclick = connect;
  $("disconnect").onclick = disconnect;
  $("reconnect").onclick = reconnect;
  $("clear").onclick = () => { log.textContent = ""; };
  url.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); reconnect(); } });
  $("sendform").onsubmit = (e) => {
    e.preventDefault();
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(message.value);
    show("out", message.value);
    if (message.value && history[history.length - 1] !== message.value) history.push(message.value);
    if (history.length > 100) history.shift();
    historyAt = history.length;
    message.value = "";
  };
  message.addEventListener("keydown", (e) => {
    if (e.key === "ArrowUp" && historyAt > 0) { message.value = history[--historyAt]; e.preventDefault(); }
    if (e.key === "ArrowDown" && historyAt < history.length) { message.value = history[++historyAt] || ""; e.preventDefault(); }
  });
  setState("closed");
})();
</script>
</body>
</html>
)PAGE";

}  // namespace wsbridge::net
