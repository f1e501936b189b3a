#!/usr/bin/env node
// The taskmachine CLI. Node >= 22.18 runs the TypeScript sources directly (type stripping).
import { main } from '../src/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
