// npm pack / npm publish hooks. Node does not strip types under node_modules, so the published
// package ships JavaScript and declarations built into dist/: `prepack` builds them and points
// package.json's exports there; `postpack` restores the source exports the repo itself runs on and
// removes dist/, so a later run in this working tree can never mix built and source modules.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const stage = process.argv[2];
const backup = '.package.json.source';

if (stage === 'prepack') {
  rmSync('dist', { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
  // The web UI's stylesheet and script are plain files beside its modules (tsc copies only code).
  cpSync('src/ui/static', 'dist/src/ui/static', { recursive: true });
  const source = readFileSync('package.json', 'utf8');
  writeFileSync(backup, source);
  const pkg = JSON.parse(source) as { exports: Record<string, string>; files: string[] };
  const exports: Record<string, unknown> = {};
  for (const [entry, target] of Object.entries(pkg.exports)) {
    if (!target.endsWith('.ts')) {
      exports[entry] = target;
      continue;
    }
    const built = `./dist/${target.slice(2, -3)}`;
    exports[entry] = { types: `${built}.d.ts`, default: `${built}.js` };
  }
  pkg.exports = exports as Record<string, string>;
  pkg.files = [...new Set([...pkg.files.filter((file) => file !== 'src' && file !== 'machines'), 'dist'])];
  writeFileSync('package.json', `${JSON.stringify(pkg, null, 2)}\n`);
} else if (stage === 'postpack') {
  if (existsSync(backup)) renameSync(backup, 'package.json');
  rmSync('dist', { recursive: true, force: true });
} else {
  console.error('usage: node scripts/package-exports.ts prepack|postpack');
  process.exit(2);
}
