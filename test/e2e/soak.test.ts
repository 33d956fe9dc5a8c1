/**
 * The soak of issue 9, short: the code path of `npm run bench:soak` (bench/soak/soak.mjs) for about a
 * minute instead of ten. The demo orders service behind a real `promote router` process, with a real
 * `promote server --no-routers` (API + controller) process, under the demo's load, through at least
 * four cycles: promote, a bad release rolled back by analysis, promote, `promote rollback`.
 *
 * It asserts what a minute can show: no failed request but the bad release's own 500s, every
 * acknowledged write in the database, every cycle ending as planned, and nothing leaking per cycle
 * (connections, descriptors, sockets, app processes). Memory slopes are noise over a minute: the
 * bench reports them over ten (docs/BENCHMARKS.md, "Soak").
 */
import { describe, expect, it } from 'vitest';
import { formatSoak } from '../../bench/soak/report.mjs';
import { runSoak, type SoakReport } from '../../bench/soak/soak.mjs';
import { afterFile } from '../helpers/cleanup.js';
import { createTestDatabase } from '../helpers/database.js';
import { killLeftoversOnExit } from '../helpers/promote-server.js';
import { scratchFolder } from '../helpers/scratch.js';

describe('the soak, short', () => {
  it('runs promote, bad-release and rollback cycles under load with no unexpected failure, the ledger intact and nothing leaking per cycle', async () => {
    const folder = await scratchFolder('promote-soak-');
    const [store, app] = [await createTestDatabase(), await createTestDatabase()];
    // should the worker end before the soak's own teardown, its router, controller and instances go too
    const marker = `soak-test-${process.pid}`;
    afterFile('disarming the leftover killer', killLeftoversOnExit(marker, () => []));
    const report: SoakReport = await runSoak({ marker, folder, storeUrl: store.url, appUrl: app.url, durationMs: 20_000, minCycles: 4, warmupMs: 8_000, settleMs: 4_000, sampleEveryMs: 2_000, rate: 60, users: 12 });
    const context = formatSoak(report);

    // every kind of cycle ran and ended as planned: Healthy, RolledBack by analysis, Healthy
    expect(report.cycles.total).toBeGreaterThanOrEqual(4);
    expect(Object.keys(report.cycles.byKind).sort()).toEqual(['bad', 'promote', 'rollback']);
    expect(report.cycles.unexpected, context).toEqual([]);
    expect(report.cycles.list.filter((cycle) => cycle.kind === 'bad').map((cycle) => cycle.phase)).toEqual(report.cycles.list.filter((cycle) => cycle.kind === 'bad').map(() => 'RolledBack'));

    // the load ran throughout; nothing failed outside the bad release's canaries, and in them only its 500s
    expect(report.requests.served).toBeGreaterThan(1_000);
    expect(report.requests.failedOutsideBadCycles, context).toBe(0);
    expect(report.requests.inBadCycles.onlyGetOrder, context).toBe(true);
    expect(report.requests.mismatches).toBe(0);
    expect(report.ledger, report.ledger.summary).toMatchObject({ ok: true, missing: 0, problems: 0 });
    expect(report.ledger.checked).toBeGreaterThan(100);

    // nothing leaks per cycle: after the last one, counts are back within a little of where the first
    // cycle left them (pools and keep-alive connections had met a whole rollout by then)
    const metric = (name: string) => report.metrics[name]!;
    for (const name of ['state store connections', 'app database connections']) {
      expect(metric(name).end, `${name}\n${context}`).toBeLessThanOrEqual(metric(name).firstCycleLevel! + 2);
    }
    // (a slope per cycle over four cycles is keep-alive noise, ±5 sockets: the bench's forty cycles give it)
    for (const name of ['router open fds', 'controller open fds', 'router TCP sockets', 'controller TCP sockets']) {
      expect(metric(name).end, `${name}\n${context}`).toBeLessThanOrEqual(metric(name).firstCycleLevel! + 3);
    }
    // a connection to a stopped instance that was never closed on this side stays in CLOSE_WAIT
    expect(metric('router TCP in CLOSE_WAIT').end).toBe(0);
    expect(metric('controller TCP in CLOSE_WAIT').end).toBe(0);
    // the old releases' instances are gone: one instance of one release serves
    expect(metric('orders service processes').end).toBe(1);
    expect(metric('orders service processes').atCycleEnds.every((count) => count === 1), context).toBe(true);
  }, 300_000);
});
