import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { flowRunMachine, taskInstanceMachine } from '../../machines/index.ts';
import { defineCommand, UsageError } from '../../src/cli/command.ts';
import { commands } from '../../src/cli/commands/index.ts';
import { main } from '../../src/cli/main.ts';
import { toDot, toMermaid } from '../../src/viz/index.ts';

const bin = fileURLToPath(new URL('../../bin/taskmachine.js', import.meta.url));
/** As the CLI lists them: every registered command, then help. */
const commandList = [...commands.map((command) => command.name), 'help'].join(', ');
const packageVersion = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Runs the real binary with the Node that runs the tests (Node 24 from the devDependency). */
function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `main` in-process with captured output. */
async function run(argv: string[], registry = commands) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), cwd: '/' }, registry);
  return { code, stdout, stderr };
}

describe('taskmachine (spawned)', () => {
  it('runs on a Node that strips types', () => {
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    expect(major > 22 || (major === 22 && minor >= 18), `Node ${process.versions.node} is too old for bin/taskmachine.js`).toBe(true);
  });

  it('--help lists the commands and exits 0', () => {
    const { code, stdout, stderr } = cli('--help');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toContain('Usage: taskmachine <command> [arguments] [options]');
    expect(stdout).toMatch(/^ {2}viz +Print the state chart of a lifecycle machine, or the graph of a\n +stored run/m);
    expect(stdout).toMatch(/^ {2}help +Show the help of a command/m);
  });

  it('--version prints the version from package.json', () => {
    expect(cli('--version')).toEqual({ code: 0, stdout: `${packageVersion}\n`, stderr: '' });
  });

  it('viz machine task-instance prints the Mermaid chart of the machine', () => {
    expect(cli('viz', 'machine', 'task-instance')).toEqual({ code: 0, stdout: toMermaid(taskInstanceMachine), stderr: '' });
  });

  it('viz machine flow-run --format dot --all-edges prints the DOT chart with every edge', () => {
    expect(cli('viz', 'machine', 'flow-run', '--format', 'dot', '--all-edges')).toEqual({
      code: 0,
      stdout: toDot(flowRunMachine, { allEdges: true }),
      stderr: '',
    });
  });

  it('an unknown command exits 2 naming it, a likely fix and the help', () => {
    const { code, stdout, stderr } = cli('vis', 'machine', 'task-instance');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`taskmachine: unknown command 'vis'. Did you mean 'viz'?\nCommands: ${commandList}. Run 'taskmachine --help'.\n`);
  });

  it('an unknown option exits 2 naming it and the options that exist', () => {
    const { code, stderr } = cli('viz', 'machine', 'task-instance', '--formt', 'dot');
    expect(code).toBe(2);
    expect(stderr).toBe(
      "taskmachine: viz: unknown option '--formt'. Did you mean '--format'?\n" +
        "Its options: --format, --all-edges, --store, --flow-file, --help. Run 'taskmachine viz --help' for its usage.\n",
    );
  });
});

describe('taskmachine (in-process)', () => {
  it('help <command> and <command> --help print the same command help', async () => {
    const viaHelp = await run(['help', 'viz']);
    const viaFlag = await run(['viz', '--help']);
    expect(viaHelp).toEqual(viaFlag);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toContain('Usage: taskmachine viz <machine|run> <target> [options]\n');
    // (Options as wide as these: each flag on its line, its description under it, wrapped at 80.)
    expect(viaHelp.stdout).toMatch(/^ {2}-f, --format <mermaid\|dot\|svg>\n {8}Output format: Mermaid, Graphviz DOT, or SVG \(rendered here, no Graphviz\n {8}needed\) \(default: mermaid\)$/m);
    expect(viaHelp.stdout).toMatch(/^ {2}--all-edges\n {8}viz machine: draw every SET_STATE and CLEAR edge instead of a note$/m);
    expect((await run(['viz', '-h'])).stdout).toBe(viaHelp.stdout);
    expect((await run([])).stdout).toBe((await run(['--help'])).stdout);
  });

  it('every help fits an 80-column terminal: descriptions wrap at spaces under their column, and the examples fit too', async () => {
    const helps = [(await run(['--help'])).stdout, ...(await Promise.all(commands.map(async (command) => (await run([command.name, '--help'])).stdout)))];
    // (Examples are commands to copy: they cannot be wrapped, so they are written to fit — a
    // PostgreSQL URL as "$DATABASE_URL".)
    for (const help of helps) for (const line of help.split('\n')) expect([...line].length, line).toBeLessThanOrEqual(80);
    // Paragraphs stay paragraphs: viz's second one starts a line of its own.
    expect((await run(['viz', '--help'])).stdout).toMatch(/given\.\n\nviz run: the run's tasks/);
    expect((await run(['ui', '--help'])).stdout).toMatch(/allows them\.\n\nListens on 127\.0\.0\.1/);
    // Wrapped, not cut: a summary continues under its column.
    expect(helps[0]).toMatch(/^ {2}status {7}List stored runs, or show one run: its counts, then its task\n {15}instances, failures first$/m);
  });

  it.each([
    [['--verbose'], "taskmachine: unknown option '--verbose'.\nOptions come after the command; the only global ones are --help and --version. Run 'taskmachine --help'.\n"],
    [['help', 'vizz'], `taskmachine: unknown command 'vizz'. Did you mean 'viz'?\nCommands: ${commandList}. Run 'taskmachine --help'.\n`],
    [['help', 'viz', 'extra'], "taskmachine: 'help' takes one command name, got: viz extra.\nRun 'taskmachine help <command>'.\n"],
    [['viz'], "taskmachine: viz: missing <what> (one of: machine, run) and <target>.\nUsage: taskmachine viz <machine|run> <target> [options]. Run 'taskmachine viz --help' for its usage.\n"],
    [['viz', 'machine', 'task'], "taskmachine: viz: unknown machine 'task'. Did you mean 'task-instance'?\nChoose one of: task-instance, flow-run. Run 'taskmachine viz --help' for its usage.\n"],
    [['viz', 'graph', 'flow-run'], "taskmachine: viz: unknown what 'graph'.\nChoose one of: machine, run. Run 'taskmachine viz --help' for its usage.\n"],
    [['viz', 'machine', 'flow-run', 'x'], "taskmachine: viz: unexpected argument 'x'.\nUsage: taskmachine viz <machine|run> <target> [options]. Run 'taskmachine viz --help' for its usage.\n"],
    [['viz', 'machine', 'flow-run', '--format', 'png'], "taskmachine: viz: --format must be one of mermaid, dot, svg; got 'png'.\nRun 'taskmachine viz --help' for its usage.\n"],
    [['viz', 'machine', 'flow-run', '--format'], "taskmachine: viz: option '--format' needs a value (one of: mermaid, dot, svg).\nRun 'taskmachine viz --help' for its usage.\n"],
    [['viz', 'machine', 'flow-run', '--all-edges=yes'], "taskmachine: viz: option '--all-edges' is a flag and takes no value.\nRun 'taskmachine viz --help' for its usage.\n"],
  ])('%j exits 2: %s', async (argv, message) => {
    expect(await run(argv)).toEqual({ code: 2, stdout: '', stderr: message });
  });

  it('a command is one registration: parsing, help, choices and errors come for free', async () => {
    const greet = defineCommand({
      name: 'greet',
      summary: 'Say hello',
      args: [{ name: 'who', description: 'Whom to greet', optional: true }],
      options: {
        shout: { type: 'boolean', short: 's', description: 'Use capitals' },
        lang: { type: 'string', description: 'Language', choices: ['en', 'fr'], default: 'en' },
      },
      run({ args, options, stdout }) {
        if (args.who === 'nobody') throw new UsageError('nobody to greet', 'Name someone.');
        if (args.who === 'crash') throw new Error('disk full');
        const text = `${options.lang === 'fr' ? 'bonjour' : 'hello'} ${args.who ?? 'world'}`;
        stdout(`${options.shout ? text.toUpperCase() : text}\n`);
        return options.shout ? 3 : undefined;
      },
    });
    const registry = [...commands, greet];
    expect(await run(['greet'], registry)).toEqual({ code: 0, stdout: 'hello world\n', stderr: '' });
    expect(await run(['greet', 'ada', '--lang', 'fr', '-s'], registry)).toEqual({ code: 3, stdout: 'BONJOUR ADA\n', stderr: '' });
    expect((await run(['--help'], registry)).stdout).toMatch(/^ {2}greet +Say hello$/m);
    expect((await run(['greet', '--help'], registry)).stdout).toContain('Usage: taskmachine greet [who] [options]');
    expect(await run(['greet', 'nobody'], registry)).toEqual({ code: 2, stdout: '', stderr: 'taskmachine: nobody to greet\nName someone.\n' });
    expect(await run(['greet', 'crash'], registry)).toEqual({ code: 1, stdout: '', stderr: 'taskmachine: disk full\n' });
  });
});
