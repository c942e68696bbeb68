// Echo through the node `ws` client: 100 messages in order, then a clean close.
// Run: WSBRIDGE_BIN=build/wsbridge NODE_PATH=/usr/share/nodejs node echo.test.js
// Exits 0 on success, 1 on any failure or after a 20 s overall limit.
'use strict';
const path = require('path');
const WebSocket = require('ws');
const { run } = require('./node_server');

const ECHO = path.join(__dirname, 'scripts', 'echo.sh');
const COUNT = 100;

run([ECHO], 20, (port, finish) => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const got = [];
  ws.on('open', () => {
    for (let i = 0; i < COUNT; i++) ws.send('message ' + i);
  });
  ws.on('message', (data, isBinary) => {
    if (isBinary) return finish(1, 'got a binary message in text mode');
    got.push(data.toString());
    if (got.length === COUNT) {
      for (let i = 0; i < COUNT; i++) {
        if (got[i] !== 'message ' + i) return finish(1, `message ${i} was ${JSON.stringify(got[i])}`);
      }
      ws.close(1000, 'done');
    }
  });
  ws.on('close', (code) => {
    if (got.length !== COUNT) return finish(1, `closed after ${got.length} of ${COUNT} messages`);
    if (code !== 1000) return finish(1, `close code ${code}, expected 1000`);
    finish(0, `${COUNT} messages echoed, closed with ${code}`);
  });
  ws.on('error', (e) => finish(1, 'ws error: ' + e.message));
});
