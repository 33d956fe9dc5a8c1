/**
 * The dashboard's pure helpers (web/src): the flag history's line diff, and the figures the flag,
 * backfill and report pages format. The pages themselves run in a browser (test/browser/).
 */
import { describe, expect, it } from 'vitest';
import { jsonLines, lineDiff } from '../../web/src/pages/flags/diff.js';

describe('the flag history line diff', () => {
  it('marks only the lines that changed, keys sorted so a reordered key is no change', () => {
    const before = { name: 'new-checkout', enabled: false, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '25' } }] };
    const after = { strategies: [{ parameters: { rollout: '50' }, name: 'flexibleRollout' }], enabled: false, name: 'new-checkout' };
    const changed = lineDiff(jsonLines(before), jsonLines(after)).filter((line) => line.kind !== 'same');
    expect(changed).toEqual([
      { kind: 'removed', text: '        "rollout": "25"' },
      { kind: 'added', text: '        "rollout": "50"' },
    ]);
  });

  it('shows a created flag as all added and an archived one (after null) as all removed', () => {
    const flag = { name: 'a', enabled: true };
    expect(lineDiff(jsonLines(null), jsonLines(flag)).map((line) => line.kind)).toEqual(['added', 'added', 'added', 'added']);
    expect(lineDiff(jsonLines(flag), jsonLines(null)).every((line) => line.kind === 'removed')).toBe(true);
  });

  it('keeps every line of both sides, in order', () => {
    const before = ['a', 'b', 'c', 'd'];
    const after = ['b', 'x', 'd', 'e'];
    const lines = lineDiff(before, after);
    expect(lines.filter((line) => line.kind !== 'added').map((line) => line.text)).toEqual(before);
    expect(lines.filter((line) => line.kind !== 'removed').map((line) => line.text)).toEqual(after);
    expect(lines.filter((line) => line.kind === 'same').map((line) => line.text)).toEqual(['b', 'd']);
  });
});
