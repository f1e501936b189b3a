// The published package must work when installed: Node does not strip types under node_modules,
// so `npm pack` builds dist/ (JavaScript + declarations) and points the exports there. This packs
// a copy of the repository, installs the tarball into an empty project, and uses it.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'taskmachine-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed package', () => {
  it('installs into an empty project and runs flows through its exports and its CLI', () => {
    // A copy of the tracked files, so packing never touches this working tree.
    const repo = join(work, 'repo');
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const file of files) {
      mkdirSync(dirname(join(repo, file)), { recursive: true });
      cpSync(join(root, file), join(repo, file));
    }
    symlinkSync(join(root, 'node_modules'), join(repo, 'node_modules'));
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const packed = spawnSync(npm, ['pack', '--pack-destination', work], { cwd: repo, encoding: 'utf8' });
    expect(packed.status, packed.stderr).toBe(0);
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'))!;

    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const installed = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, tarball)], { cwd: app, encoding: 'utf8' });
    expect(installed.status, installed.stderr).toBe(0);
    expect(readdirSync(join(app, 'node_modules', 'taskmachine'))).not.toContain('src');

    writeFileSync(
      join(app, 'flow.ts'),
      `import { ctx, flow } from 'taskmachine';
export default flow('installed', (f) => {
  const a = f.task('a', () => [1, 2, 3]);
  f.map('b', a, ({ item }) => (item as number) * 10 + ctx()!.attempt);
});
`,
    );
    writeFileSync(
      join(app, 'main.ts'),
      `import { runFlow } from 'taskmachine';
import { memoryStore } from 'taskmachine/stores';
import { taskInstanceMachine } from 'taskmachine/machines';
import { machineEdges } from 'taskmachine/testing';
import { uiHandler } from 'taskmachine/ui';
import { createServer } from 'node:http';
import definition from './flow.ts';
const store = memoryStore();
const run = await runFlow(definition, { store, runId: 'r', log: () => {} });
// The web UI from the installed package: its pages and the assets it ships.
const ui = uiHandler({ store });
const server = createServer(ui).listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = \`http://127.0.0.1:\${(server.address() as { port: number }).port}\`;
const page = await (await fetch(\`\${base}/runs/r\`)).text();
const script = await fetch(\`\${base}/static/ui.js\`);
const css = await fetch(\`\${base}/static/ui.css\`);
ui.close();
server.close();
console.log(JSON.stringify({
  state: run.state, b2: run.tasks['b[2]']?.result, edges: machineEdges(taskInstanceMachine).length,
  ui: [page.includes('b ×3'), script.status, (await script.text()).includes('EventSource'), css.status],
}));
`,
    );
    const direct = spawnSync(process.execPath, ['main.ts'], { cwd: app, encoding: 'utf8' });
    expect(direct.stderr).toBe('');
    expect(JSON.parse(direct.stdout)).toEqual({ state: 'success', b2: 31, edges: 76, ui: [true, 200, true, 200] });

    const cli = spawnSync(process.execPath, [join(app, 'node_modules', '.bin', 'taskmachine'), 'run', 'flow.ts', '--store', 'memory', '--json'], {
      cwd: app,
      encoding: 'utf8',
    });
    expect(cli.status, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).tasks['b[0]'].result).toBe(11);
  }, 180_000);
});
