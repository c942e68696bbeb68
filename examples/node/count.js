#!/usr/bin/env node
// Counts from 1 to 10, one number a second; each line is one WebSocket message.
// Try: wsbridge --port=8080 examples/node/count.js
'use strict';

// When the client leaves, wsbridge closes our pipes; a write then fails with
// EPIPE, which is our cue to stop rather than print a stack trace.
process.stdout.on('error', () => process.exit(0));

let count = 1;
process.stdout.write(`${count}\n`);
const timer = setInterval(() => {
  count += 1;
  process.stdout.write(`${count}\n`);
  if (count === 10) clearInterval(timer);
}, 1000);
