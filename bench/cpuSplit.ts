// CPU time per task of each process of a bench run — this process, its worker processes and the
// PostgreSQL server — read from /proc (Linux). Used by `npm run bench:workers` with BENCH_CPU=1.
import { existsSync, readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux). */
const ticksPerSecond = 100;

/**
 * A process's CPU seconds; with `reaped`, also those of its children that exited and were waited
 * for (cutime, cstime).
 */
function processSeconds(pid: number, reaped = false): number {
  try {
    // Fields after the command name (which may hold ") "): state is field 3, utime 14, stime 15,
    // cutime 16, cstime 17 (1-based, man 5 proc).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(fields[11]) + Number(fields[12]);
    return (reaped ? own + Number(fields[13]) + Number(fields[14]) : own) / ticksPerSecond;
  } catch {
    return 0; // exited meanwhile
  }
}

/**
 * Every process named `postgres` (the bench's private cluster: its server, backends and helpers),
 * with the children they reaped: a backend or autovacuum worker that exits is counted by the
 * postmaster that waited for it, whether it started before the measurement or during it.
 */
function postgresSeconds(): number {
  let seconds = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').startsWith('postgres')) seconds += processSeconds(Number(entry), true);
    } catch {
      // exited meanwhile
    }
  }
  return seconds;
}

/** CPU µs per task of this process, the given child processes together, and PostgreSQL. */
export interface CpuSplit {
  readonly self: number;
  readonly children: number;
  readonly postgres: number;
}

/**
 * Starts measuring; the returned function gives the CPU each part used since, per task.
 * `undefined` where /proc is not there. (Counts every `postgres` process on the machine: run it
 * where the bench's cluster is the only one busy.)
 *
 * @example
 * ```ts
 * const split = startCpuSplit(workers.map((w) => w.pid!));
 * await run();
 * const { self, children, postgres } = split?.(1_000) ?? {};
 * ```
 */
export function startCpuSplit(childPids: readonly number[]): ((tasks: number) => CpuSplit) | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  const self = process.cpuUsage();
  const children = childPids.reduce((sum, pid) => sum + processSeconds(pid), 0);
  const postgres = postgresSeconds();
  return (tasks) => {
    const used = process.cpuUsage(self);
    const perTask = (seconds: number): number => (seconds * 1e6) / tasks;
    return {
      self: (used.user + used.system) / tasks,
      children: perTask(childPids.reduce((sum, pid) => sum + processSeconds(pid), 0) - children),
      postgres: perTask(postgresSeconds() - postgres),
    };
  };
}
