#!/usr/bin/env node
// The taskmachine CLI. An installed package runs the JavaScript built into dist/ (Node does not
// strip types under node_modules); the repo runs its TypeScript sources directly (Node >= 22.18).
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli/main.js', import.meta.url);
const { main } = await import(existsSync(built) ? built.href : '../src/cli/main.ts');

process.exitCode = await main(process.argv.slice(2));
