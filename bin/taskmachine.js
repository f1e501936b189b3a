#!/usr/bin/env node
// The taskmachine CLI. An installed package runs the JavaScript built into dist/ (Node does not
// strip types under node_modules); the repo runs its TypeScript sources directly (Node >= 22.18).
import { existsSync } from 'node:fs';

const built = existsSync(new URL('../dist/src/cli/main.js', import.meta.url));
const source = (path) => (built ? new URL(`../dist/src/cli/${path}.js`, import.meta.url).href : `../src/cli/${path}.ts`);

// V8 flags first, before the runtime allocates anything (see src/cli/v8Tuning.ts).
const { tuneV8ForRuns } = await import(source('v8Tuning'));
tuneV8ForRuns();
const { main } = await import(source('main'));

process.exitCode = await main(process.argv.slice(2));
