// vitest globalSetup: one private PostgreSQL cluster for the whole test run (see ./postgres.ts),
// handed to the test files with `provide`. Each test opens its stores on a schema of its own, so
// files run in parallel against the one cluster without seeing each other.
//
// Without PostgreSQL binaries the PostgreSQL tests are skipped with a one-line reason — except
// under CI (CI=true), where the run fails: CI must never pass by skipping them.
import type { TestProject } from 'vitest/node';
import { findPostgresBinaries, isCI, startPostgres } from './postgres.ts';

/** What the test files get: where the cluster is, or why there is none. */
export type ProvidedPostgres =
  | { readonly url: string; readonly host: string; readonly port: number; readonly user: string; readonly password: string; readonly database: string }
  | { readonly skip: string };

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: ProvidedPostgres;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const binaries = findPostgresBinaries();
  let reason: string;
  if ('bindir' in binaries) {
    try {
      const cluster = await startPostgres();
      const { url, host, port, user, password, database } = cluster;
      project.provide('postgres', { url, host, port, user, password, database });
      return () => cluster.stop();
    } catch (error) {
      if (isCI()) throw error;
      reason = `could not start PostgreSQL: ${(error as Error).message.split('\n')[0]}`;
    }
  } else {
    if (isCI()) throw new Error(`CI is set, so the PostgreSQL store tests must run, but ${binaries.missing}.`);
    reason = binaries.missing;
  }
  console.warn(`PostgreSQL store tests skipped: ${reason}.`);
  project.provide('postgres', { skip: reason });
  return undefined;
}
