// Connection handling of the PostgreSQL store: which errors mean "the connection broke" (retry on a
// fresh one) and how errors are reported without ever showing the connection string or password.
import { inspect } from 'node:util';
import { StoreError } from '../errors.ts';

/** SQLSTATEs after which the same work may simply be tried again on a fresh connection. */
const transientCodes: ReadonlySet<string> = new Set([
  '57P01', // admin_shutdown (pg_terminate_backend, server shutting down)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, in recovery)
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

const transientErrnos: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/** Messages node-postgres uses for a connection that broke or could not be made in time. */
const transientMessages =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout|Connection ended unexpectedly/i;

/** A SQLSTATE sent by the server (so the server answered: the connection itself was fine). */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && 'severity' in (error as object) ? code : undefined;
}

/** The connection broke or could not be made (as opposed to the server refusing a statement). */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  const state = sqlState(error);
  if (state !== undefined) return state.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(state);
  if (typeof code === 'string' && transientErrnos.has(code)) return true;
  return transientMessages.test(error.message);
}

/** Worth trying again: a broken connection, or a transaction the server asks to retry. */
export function isTransient(error: unknown): boolean {
  const state = sqlState(error);
  return isConnectionError(error) || (state !== undefined && transientCodes.has(state));
}

/**
 * Replaces every secret (the connection string, the password) in `text`. Errors never carry them
 * in practice; this is the belt to those braces.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('***');
  return out;
}

/** `error` as a cause when nothing reachable from it shows a secret; `undefined` otherwise. */
export function safeCause(error: unknown, secrets: readonly string[]): unknown {
  const text = inspect(error, { depth: 6, showHidden: true });
  return secrets.some((secret) => secret.length > 0 && text.includes(secret)) ? undefined : error;
}

/**
 * A server-refused statement as a StoreError naming the server (the original, secret-free error is
 * the cause).
 */
export function serverError(error: Error, server: string, secrets: readonly string[], doing: string): StoreError {
  const state = sqlState(error);
  const message = redact(error.message, secrets);
  let hint = '';
  if (state === '28P01' || state === '28000') hint = ' Check the user and password of the connection string (not shown here).';
  else if (state === '3D000') hint = ' Create the database, or name an existing one in the connection string.';
  else if (state === '42501') hint = ' Grant the store\'s user the privileges it needs on the database and schema (see docs/durability.md).';
  else if (state === '22021') hint = ' PostgreSQL cannot store the character U+0000 (NUL) in text.';
  const cause = safeCause(error, secrets);
  return new StoreError(
    `PostgreSQL at ${server} refused to ${doing}: ${message}${state === undefined ? '' : ` (SQLSTATE ${state})`}.${hint}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * A connection that cannot be made for a reason trying again does not change — the connection
 * asks for SSL and the server has none — as a StoreError naming the server and the fix (node-postgres
 * says only 'The server does not support SSL connections'); `undefined` for any other error.
 */
export function connectRefusal(error: unknown, server: string, secrets: readonly string[], doing: string): StoreError | undefined {
  if (!(error instanceof Error) || sqlState(error) !== undefined) return undefined;
  if (!/^The server does not support SSL connections/.test(error.message)) return undefined;
  const cause = safeCause(error, secrets);
  return new StoreError(
    `Could not ${doing}: PostgreSQL at ${server} does not support SSL connections, and the connection asks for SSL ` +
      '(sslmode or ssl in the connection string, or PGSSLMODE). Nothing was written. ' +
      'Remove the sslmode (or ssl) parameter from the connection string, or enable SSL on the server (ssl = on in postgresql.conf).',
    cause === undefined ? undefined : { cause },
  );
}
