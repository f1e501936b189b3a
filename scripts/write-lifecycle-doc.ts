// Writes docs/lifecycle.md from the machine definitions (npm run docs:lifecycle).
import { writeFileSync } from 'node:fs';
import { lifecycleDocPath, renderLifecycleDoc } from './lifecycleDoc.ts';

const target = new URL(`../${lifecycleDocPath}`, import.meta.url);
writeFileSync(target, renderLifecycleDoc());
console.log(`wrote ${lifecycleDocPath}`);
