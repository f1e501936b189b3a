import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lifecycleDocPath, renderLifecycleDoc } from '../../scripts/lifecycleDoc.ts';

describe(lifecycleDocPath, () => {
  it('is what scripts/write-lifecycle-doc.ts generates from the machines now', () => {
    const committed = readFileSync(new URL(`../../${lifecycleDocPath}`, import.meta.url), 'utf8');
    expect(
      committed,
      `${lifecycleDocPath} is out of date with machines/. Run \`npm run docs:lifecycle\` and commit the result.`,
    ).toBe(renderLifecycleDoc());
  });

  it('shows every state and every lifecycle transition', () => {
    const doc = renderLifecycleDoc();
    expect(doc).toContain('```mermaid\nstateDiagram-v2');
    expect(doc).toContain('| `running` | `FAIL` | `canRetryFailedAttempt` | `up_for_retry` |');
    expect(doc).toContain('| `checkpointed` | lightyellow | black | unfinished |  |');
    expect(doc).toContain('| `up_for_retry` | `RETRY` | `hasAttemptsLeft` | `scheduled` | attempt + 1 |');
  });
});
