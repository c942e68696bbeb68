// The server side of the node `ws` tests: starts the binary under test on a
// free port, waits until it listens, and ends it with SIGTERM when the test
// finishes (a test passes only if the server then exits 0, as in the Python
// tests' teardown). Every wait is bounded.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');

// The same rule as wsb.free_port in the Python tests: a free port below the
// kernel's ephemeral range, which every outgoing connection draws from.
function ephemeralFloor() {
  try {
    const text = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    const floor = parseInt(text.trim().split(/\s+/)[0], 10);
    if (floor > 0) return floor;
  } catch (e) {}
  return 32768;
}

function describeExit(code, sig) {
  return sig ? 'signal ' + sig : 'exit ' + code;
}

// run(args, seconds, test): test(port, finish) once the server listens on
// port; finish(code, why) ends the run (exit status 1 on any failure, and
// after `seconds` overall).
function run(args, seconds, test) {
  const BIN = process.env.WSBRIDGE_BIN;
  let server = null;
  let finished = false;
  let log = '';

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

  function finish(code, why) {
    if (finished) return;
    finished = true;
    clearTimeout(overall);
    stopServer((exit) => {
      if (code === 0 && exit !== 'exit 0') {
        code = 1;
        why = `server ended with ${exit} on SIGTERM`;
      }
      if (code !== 0) console.error('FAIL: ' + why + (log ? '\n--- server log ---\n' + log.slice(-4000) : ''));
      else console.log('ok: ' + why);
      process.exit(code);
    });
  }

  const overall = setTimeout(() => finish(1, `timed out after ${seconds} s`), seconds * 1000);

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

  if (!BIN) return finish(1, 'WSBRIDGE_BIN not set');
  freePort((port) => {
    server = spawn(BIN, ['--port=' + port, '--address=127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout.on('data', (d) => { log += d; });
    server.stderr.on('data', (d) => { log += d; });
    server.on('exit', (code, sig) => {
      if (!finished) finish(1, `server exited early (${describeExit(code, sig)})`);
    });
    waitListening(port, Date.now() + 5000, (err) => {
      if (err) return finish(1, err.message);
      test(port, finish);
    });
  });
}

module.exports = { run };
