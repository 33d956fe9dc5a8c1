import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode, PromoteError, ReportedFailure, UsageError, wrapError } from '../../errors.js';
import { parsePeriod } from '../../report/period.js';
import { listEvents, verifyEventChain, type PromoteEvent } from '../../store/events.js';
import { query, type Queryable } from '../../store/queryable.js';
import type { CliContext } from '../io.js';
import { printJson, printLine } from '../output.js';
import { withStore } from '../store.js';

/** Events read per query while exporting: memory stays flat however long the trail is. */
const EXPORT_PAGE_SIZE = 500;
const ANCHOR_PATTERN = /^(\d{1,15}):([0-9a-f]{64})$/;

export function registerAudit(program: Command, context: () => CliContext): void {
  const audit = program.command('audit').description('the tamper-evident audit trail: verify its hash chain, export it for a SIEM');

  audit
    .command('verify')
    .description('recompute the whole hash chain and report the first broken link (exit 1), or print the head to record elsewhere')
    .option('--anchor <seq:hash>', 'a head printed by an earlier verify: also catches the newest rows being deleted')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  $ promote audit verify\n  $ promote audit verify --anchor 1234:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n\nDetails: docs/audit.md\n')
    .action(async (options: { anchor?: string; json?: boolean }) => {
      const ctx = context();
      const anchor = options.anchor === undefined ? undefined : parseAnchor(options.anchor);
      const outcome = await withStore(ctx, async (store) => {
        const result = await verifyEventChain(store.pool, anchor ? { anchor } : {});
        return { result, head: result.ok ? await headOf(store.pool, result.count) : undefined };
      });
      const { result, head } = outcome;
      if (options.json) {
        printJson(ctx.io, result.ok ? { ok: true, count: result.count, head: head ?? null } : result);
      } else if (result.ok) {
        if (result.count === 0) printLine(ctx.io, 'audit trail intact: 0 events (the trail is empty)');
        // no head only if its row went away between the two reads: say so rather than print none silently
        else printLine(ctx.io, `audit trail intact: ${result.count} events, ${head ? `head seq ${head.seq} hash ${head.hash}` : 'head no longer readable (verify again)'}`);
      } else {
        printLine(ctx.io, `audit trail broken at seq ${result.brokenAt}: ${result.reason}`);
        printLine(ctx.io, `  ${result.detail}`);
        printLine(ctx.io, `  ${result.count} event(s) before it are intact`);
      }
      if (!result.ok) throw new ReportedFailure(`the audit trail is broken at seq ${result.brokenAt}`, ExitCode.failed);
    });

  audit
    .command('export')
    .description('write events as JSON lines (one event per line, oldest first) for a SIEM')
    .option('--since <duration|date>', 'only events from then: a duration back from --until (30d, 2w, 12h) or a date (default: the whole trail)')
    .option('--until <date>', 'only events before then (default: now)')
    .option('--app <name>', 'only events of one app')
    .option('--out <file>', 'write to a file (replaced only once complete) instead of stdout; "-" is stdout')
    .addHelpText('after', '\nExamples:\n  $ promote audit export --since 30d --out audit.jsonl\n  $ promote audit export --app shop --since 2026-01-01 --until 2026-02-01 | siem-upload\n\nEach line holds seq, type, actor, app, environment, rolloutId, data, createdAt, prevHash and hash,\nso a reader can recompute every hash itself (docs/audit.md).\n')
    .action(async (options: { since?: string; until?: string; app?: string; out?: string }) => {
      const ctx = context();
      const period = exportPeriod(options);
      const toFile = options.out !== undefined && options.out !== '-' ? resolve(ctx.io.cwd, options.out) : undefined;
      const filter = { ...period, app: options.app };
      if (!toFile) {
        await withStore(ctx, (store) => exportEvents(store.pool, filter, (text) => Promise.resolve(ctx.io.stdout(text))));
        return;
      }
      // written next to the target and renamed at the end: a failed export never leaves a truncated file
      // where a SIEM collector would pick it up as complete
      const partial = `${toFile}.partial`;
      let file: FileHandle | undefined;
      try {
        file = await open(partial, 'w');
        const output = file;
        const count = await withStore(ctx, (store) => exportEvents(store.pool, filter, async (text) => void (await output.write(text))));
        await file.close();
        file = undefined;
        await rename(partial, toFile);
        ctx.io.stderr(`wrote ${count} event(s) to ${toFile}\n`);
      } catch (error) {
        await file?.close().catch(() => undefined);
        await rm(partial, { force: true });
        throw error instanceof PromoteError ? error : wrapError(`exporting the audit trail to ${toFile}`, error);
      }
    });
}

function parseAnchor(text: string): { seq: number; hash: string } {
  const match = ANCHOR_PATTERN.exec(text.trim().toLowerCase());
  const seq = match ? Number(match[1]) : 0;
  if (!match || seq < 1) throw new UsageError(`--anchor takes <seq>:<hash> as printed by "promote audit verify" (a seq from 1 and a 64-digit hex hash); got "${text.slice(0, 90)}"`);
  return { seq, hash: match[2]! };
}

/** The verified chain's last event; `count` events intact means seqs 1..count, so the head is seq `count`. */
async function headOf(db: Queryable, count: number): Promise<{ seq: number; hash: string } | undefined> {
  if (count === 0) return undefined;
  const [head] = await listEvents(db, { afterSeq: count - 1, limit: 1 });
  if (!head || head.seq !== count) return undefined;
  return { seq: head.seq, hash: head.hash };
}

function exportPeriod(options: { since?: string; until?: string }): { since: Date | undefined; until: Date | undefined } {
  if (options.since === undefined && options.until === undefined) return { since: undefined, until: undefined };
  // parsePeriod defaults a missing --since to 30d; an export without --since means from the first event
  const period = parsePeriod({ since: options.since ?? '1970-01-01', ...(options.until === undefined ? {} : { until: options.until }) });
  return { since: options.since === undefined ? undefined : period.since, until: options.until === undefined ? undefined : period.until };
}

/** The exported form of one event: every field its hash covers, so a reader can recompute it (eventHash). */
export function exportLine(event: PromoteEvent): string {
  return `${JSON.stringify({
    seq: event.seq,
    type: event.type,
    actor: event.actor,
    app: event.app,
    environment: event.environment,
    rolloutId: event.rolloutId,
    data: event.data,
    createdAt: event.createdAt.toISOString(),
    prevHash: event.prevHash,
    hash: event.hash,
  })}\n`;
}

/**
 * Streams the events in [since, until) of one app or all, in seq order, a page at a time. The seq range
 * holding them is found first (one scan of created_at), then only that range is paged; events inside
 * it outside the period (clocks of two hosts can disagree a little) are skipped, not stopped at.
 */
async function exportEvents(
  db: Queryable,
  filter: { since: Date | undefined; until: Date | undefined; app: string | undefined },
  /** called once per page with its lines: one write (one system call to a file) per page, not per event */
  write: (text: string) => Promise<void>,
): Promise<number> {
  const bounds = await query<{ first: string | null; last: string | null }>(
    db,
    'finding the events to export',
    `select min(seq) as first, max(seq) as last from promote.events
     where ($1::timestamptz is null or created_at >= $1) and ($2::timestamptz is null or created_at < $2) and ($3::text is null or app = $3)`,
    [filter.since?.toISOString() ?? null, filter.until?.toISOString() ?? null, filter.app ?? null],
  );
  const first = bounds.rows[0]?.first;
  const last = bounds.rows[0]?.last;
  if (first === null || first === undefined || last === null || last === undefined) return 0;
  const lastSeq = Number(last);
  let afterSeq = Number(first) - 1;
  let count = 0;
  for (;;) {
    const page = await listEvents(db, { afterSeq, limit: EXPORT_PAGE_SIZE, ...(filter.app === undefined ? {} : { app: filter.app }) });
    let text = '';
    for (const event of page) {
      if (event.seq > lastSeq) break;
      afterSeq = event.seq;
      if (filter.since && event.createdAt < filter.since) continue;
      if (filter.until && event.createdAt >= filter.until) continue;
      text += exportLine(event);
      count++;
    }
    if (text !== '') await write(text);
    if (page.length < EXPORT_PAGE_SIZE || afterSeq >= lastSeq) return count;
  }
}
