// The program a user would write today to share one process among many
// WebSocket clients, with Debian's `ws` package: the benchmark's reference
// for wsbridge --broadcast (scripts/bench.sh, fanout workload).
//
//   NODE_PATH=/usr/share/nodejs node bench/node_broadcast.js PORT COMMAND [ARGS...]
//
// Clients of one URL path share one child: each client message is written to
// its stdin as a line, each line it prints is sent to every client of the
// path. The child starts with the path's first client and is stopped when
// its last client leaves; when it exits, its clients are closed. Like most
// such scripts it buffers without bound for a slow client (ws.send queues).
'use strict';
const { spawn } = require('child_process');
const readline = require('readline');
const WebSocket = require('ws');

const [port, command, ...args] = process.argv.slice(2);
if (!port || !command) {
  console.error('usage: node_broadcast.js PORT COMMAND [ARGS...]');
  process.exit(2);
}

const rooms = new Map();  // path -> { child, clients: Set }

function openRoom(path) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const room = { child, clients: new Set() };
  child.stdin.on('error', () => {});  // the child may exit before reading all
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    for (const client of room.clients) client.send(line);
  });
  child.on('exit', () => {
    rooms.delete(path);
    for (const client of room.clients) client.close(1000);
  });
  rooms.set(path, room);
  return room;
}

const server = new WebSocket.Server({ host: '127.0.0.1', port: Number(port) });
server.on('connection', (ws, request) => {
  const path = request.url.split('?')[0];
  const room = rooms.get(path) || openRoom(path);
  room.clients.add(ws);
  ws.on('message', (data) => room.child.stdin.write(data.toString() + '\n'));
  ws.on('close', () => {
    room.clients.delete(ws);
    if (room.clients.size === 0 && rooms.get(path) === room) {
      rooms.delete(path);
      room.child.kill('SIGTERM');
    }
  });
});
process.on('SIGTERM', () => process.exit(0));
