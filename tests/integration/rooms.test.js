// --broadcast with the node `ws` client: three clients of one path share one
// `cat`, so each message any of them sends comes back to all three, in the
// same order for everyone; a client of another path hears none of it.
// Run: WSBRIDGE_BIN=build/wsbridge NODE_PATH=/usr/share/nodejs node rooms.test.js
'use strict';
const WebSocket = require('ws');
const { run } = require('./node_server');

const PER_CLIENT = 20;

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.heard = [];
    ws.on('message', (data) => ws.heard.push(data.toString()));
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
}

async function check(port) {
  const room = await Promise.all([1, 2, 3].map(() => open(`ws://127.0.0.1:${port}/lobby`)));
  const other = await open(`ws://127.0.0.1:${port}/elsewhere`);
  room.forEach((ws, who) => {
    for (let n = 0; n < PER_CLIENT; n++) ws.send(`client ${who} line ${n}`);
  });
  const total = room.length * PER_CLIENT;
  const deadline = Date.now() + 10000;
  while (room.some((ws) => ws.heard.length < total) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const ws of room) {
    if (ws.heard.length !== total) return `a client heard ${ws.heard.length} of ${total} lines`;
    if (ws.heard.join('\n') !== room[0].heard.join('\n')) return 'two clients heard different orders';
  }
  if (new Set(room[0].heard).size !== total) return 'lines were repeated or lost';
  if (other.heard.length !== 0) return `the other room heard ${other.heard.length} lines`;
  for (const ws of [...room, other]) ws.close(1000, 'done');
  return null;
}

run(['--broadcast', '--workers=1', 'cat'], 30, (port, finish) => {
  check(port).then(
    (problem) => (problem ? finish(1, problem) : finish(0, `3 clients heard the same ${3 * PER_CLIENT} lines in one order`)),
    (e) => finish(1, 'ws error: ' + e.message));
});
