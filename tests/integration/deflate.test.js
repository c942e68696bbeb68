// permessage-deflate with the node `ws` client (--deflate): the extension is
// agreed, and messages from 16 B to 128 KiB echo through `cat` compressed,
// with ws's default offer and with client_no_context_takeover offered. (The
// server always answers client_no_context_takeover, which RFC 7692 §7.1.1.2
// allows, so that an idle connection holds no inflate window: a client set
// to refuse that, ws's clientNoContextTakeover: false, cannot connect.)
// Run: WSBRIDGE_BIN=build/wsbridge NODE_PATH=/usr/share/nodejs node deflate.test.js
'use strict';
const WebSocket = require('ws');
const { run } = require('./node_server');

const SIZES = [16, 64, 1000, 16 * 1024, 128 * 1024];

function line(size, salt) {
  return ('sensor ' + salt + ' reads 21.5; ').repeat(Math.ceil(size / 20)).slice(0, size);
}

function echoAll(port, clientNoContextTakeover, finish, next) {
  const perMessageDeflate = { threshold: 0, clientMaxWindowBits: true };
  if (clientNoContextTakeover) perMessageDeflate.clientNoContextTakeover = true;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate });
  const expected = [];
  ws.on('open', () => {
    if (!/permessage-deflate/.test(ws.extensions)) return finish(1, `no extension agreed: '${ws.extensions}'`);
    for (const size of SIZES) {
      for (let i = 0; i < 2; i++) {
        const text = line(size, i);
        expected.push(text);
        ws.send(text);
      }
    }
  });
  let got = 0;
  ws.on('message', (data, isBinary) => {
    if (isBinary) return finish(1, 'a binary message in text mode');
    if (data.toString() !== expected[got]) return finish(1, `message ${got} differs (${data.length} bytes)`);
    if (++got === expected.length) ws.close(1000, 'done');
  });
  ws.on('close', (code) => {
    if (got !== expected.length) return finish(1, `closed after ${got} of ${expected.length} messages`);
    if (code !== 1000) return finish(1, `close code ${code}`);
    next();
  });
  ws.on('error', (e) => finish(1, 'ws error: ' + e.message));
}

run(['--deflate', 'cat'], 30, (port, finish) => {
  echoAll(port, false, finish, () =>
    echoAll(port, true, finish, () => finish(0, `${SIZES.length * 2} sizes echoed compressed, with and without client_no_context_takeover offered`)));
});
