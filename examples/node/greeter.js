#!/usr/bin/env node
// Answers each message (a name) with a greeting.
// Try: wsbridge --port=8080 examples/node/greeter.js
// readline hands us one line per WebSocket message; 'close' fires when
// wsbridge closes stdin because the client left.
'use strict';

const readline = require('readline');

process.stdout.on('error', () => process.exit(0));

const lines = readline.createInterface({ input: process.stdin, terminal: false });
lines.on('line', (name) => {
  process.stdout.write(`Hello, ${name}!\n`);
});
lines.on('close', () => process.exit(0));
