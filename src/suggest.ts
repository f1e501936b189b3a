/**
 * The candidate `input` is a prefix of (two letters at least), else the one closest by edit
 * distance if it is close enough to be a likely typo (a third of its length, at most 3 edits).
 *
 * @example
 * ```ts
 * suggest('viss', ['viz', 'run']); // 'viz'
 * suggest('task', ['task-instance', 'flow-run']); // 'task-instance'
 * suggest('xyz', ['viz', 'run']); // undefined
 * ```
 */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  const lower = input.toLowerCase();
  if (lower.length >= 2) {
    const prefixed = candidates.find((candidate) => candidate.toLowerCase().startsWith(lower));
    if (prefixed !== undefined) return prefixed;
  }
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.min(3, Math.max(1, Math.floor(Math.max(input.length, 1) / 3)));
  return best !== undefined && bestDistance <= allowed ? best : undefined;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}
