#!/usr/bin/env node
// The taskmachine CLI. An installed package runs the JavaScript built into dist/ (Node does not
// strip types under node_modules); the repo runs its TypeScript sources directly (Node >= 22.18).
import { existsSync } from 'node:fs';

// First of all: a Node that cannot run taskmachine gets one clear line, not a syntax error.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `taskmachine: needs Node.js 22.18 or newer (it runs TypeScript flow files natively); this is Node.js ${process.versions.node}. ` +
      'Install a newer Node.js (https://nodejs.org), or inside a project that depends on taskmachine run it with `npx taskmachine`.\n',
  );
  process.exit(2);
}

// A signal no command handles (while a flow file is imported, during a status, between a stopped
// run and the exit below) ends the process with the exit code of the contract, 130/143, as a
// stopped run does — not killed by the signal. `run` and `resume` handle the signals themselves
// while a run is shown (a graceful shutdown); then this listener does nothing.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => {
    if (process.listenerCount(signal) === 1) process.exit(code);
  });
}

const built = existsSync(new URL('../dist/src/cli/main.js', import.meta.url));
const source = (path) => (built ? new URL(`../dist/src/cli/${path}.js`, import.meta.url).href : `../src/cli/${path}.ts`);

// V8 flags first, before the runtime allocates anything (see src/cli/v8Tuning.ts).
const { tuneV8ForRuns } = await import(source('v8Tuning'));
tuneV8ForRuns();
const { main } = await import(source('main'));

const code = await main(process.argv.slice(2));
// One turn of the event loop first: a rejection task code left unhandled in the run's last
// microtasks is reported (see src/cli/processGuards.ts) before the process is gone.
await new Promise((resolve) => setImmediate(resolve));
// Exit now, once the output is written: timers or sockets that task code left open must not keep
// the process alive after its run ended (the run and its store are closed by then).
const flushed = (stream) => new Promise((resolve) => (stream.writableLength === 0 ? resolve() : stream.write('', () => resolve())));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
