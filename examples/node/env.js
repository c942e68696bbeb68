#!/usr/bin/env node
// Prints the CGI-style environment this connection's process received,
// sorted, one VAR=value per message, then exits (the client sees close 1000).
//
// Try: wsbridge --port=8080 examples/node/env.js
//      then connect to ws://127.0.0.1:8080/some/path?x=1
// wsbridge passes only --passenv variables (PATH by default) plus the CGI
// set, so `env node` finds node through PATH as in a shell.
for (const name of Object.keys(process.env).sort()) {
  process.stdout.write(`${name}=${process.env[name]}\n`);
}
