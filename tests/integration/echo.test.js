// Echo through the node `ws` client: 100 messages in order, then a clean close.
// Run: WSBRIDGE_BIN=build/wsbridge NODE_PATH=/usr/share/nodejs node echo.test.js
// Exits 0 on success, 1 on any failure or after a 20 s overall limit.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');
const WebSocket = require('ws');

const BIN = process.env.WSBRIDGE_BIN;
const ECHO = path.join(__dirname, 'scripts', 'echo.sh');
const COUNT = 100;
let server = null;
let finished = false;

function finish(code, why) {
  if (finished) return;
  finished = true;
  // The server must also stop cleanly on SIGTERM (exit 0), as in the
  // Python tests' teardown: a crash or a sanitizer's exit status fails.
  stopServer((exit) => {
    if (code === 0 && exit !== 'exit 0') {
      code = 1;
      why = `server ended with ${exit} on SIGTERM`;
    }
    if (code !== 0) console.error('FAIL: ' + why);
    else console.log('ok: ' + why);
    process.exit(code);
  });
}

function describeExit(code, sig) {
  return sig ? 'signal ' + sig : 'exit ' + code;
}

function stopServer(done) {
  if (!server) return done('no server');
  if (server.exitCode !== null || server.signalCode !== null) {
    return done(describeExit(server.exitCode, server.signalCode));
  }
  // A hang bound: the default shutdown timeout is 10 s.
  const killTimer = setTimeout(() => { try { server.kill('SIGKILL'); } catch (e) {} }, 15000);
  server.once('exit', (code, sig) => { clearTimeout(killTimer); done(describeExit(code, sig)); });
  try { server.kill('SIGTERM'); } catch (e) { clearTimeout(killTimer); done('not signalled: ' + e.message); }
}

const overall = setTimeout(() => finish(1, 'timed out after 20 s'), 20000);

// The same rule as wsb.free_port in the Python tests: a free port below the
// kernel's ephemeral range, which every outgoing connection draws from (a
// port the kernel picks for us could be taken by a client meanwhile).
function ephemeralFloor() {
  try {
    const text = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    const floor = parseInt(text.trim().split(/\s+/)[0], 10);
    if (floor > 0) return floor;
  } catch (e) {}
  return 32768;
}

function freePort(cb, attempts = 200) {
  if (attempts === 0) return finish(1, 'no free port below the ephemeral range');
  const floor = ephemeralFloor();
  const low = Math.max(1024, Math.min(10000, floor - 2000));
  const port = low + Math.floor(Math.random() * (floor - low));
  const s = net.createServer();
  s.once('error', () => freePort(cb, attempts - 1));
  s.listen(port, '127.0.0.1', () => s.close(() => cb(port)));
}

function waitListening(port, deadline, cb) {
  const sock = net.connect(port, '127.0.0.1');
  sock.once('connect', () => { sock.destroy(); cb(null); });
  sock.once('error', () => {
    sock.destroy();
    if (Date.now() > deadline) return cb(new Error('server not listening within 5 s'));
    setTimeout(() => waitListening(port, deadline, cb), 50);
  });
}

if (!BIN) finish(1, 'WSBRIDGE_BIN not set');
else freePort((port) => {
  let log = '';
  server = spawn(BIN, ['--port=' + port, '--address=127.0.0.1', ECHO],
                 { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => { log += d; });
  server.stderr.on('data', (d) => { log += d; });
  server.on('exit', (code, sig) => {
    if (!finished) finish(1, `server exited early (${code}/${sig}): ${log}`);
  });
  waitListening(port, Date.now() + 5000, (err) => {
    if (err) return finish(1, err.message + '\n' + log);
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
      clearTimeout(overall);
      if (got.length !== COUNT) return finish(1, `closed after ${got.length} of ${COUNT} messages`);
      if (code !== 1000) return finish(1, `close code ${code}, expected 1000`);
      finish(0, `${COUNT} messages echoed, closed with ${code}`);
    });
    ws.on('error', (e) => finish(1, 'ws error: ' + e.message));
  });
});
