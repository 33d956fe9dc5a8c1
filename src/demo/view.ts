/**
 * The demo's live terminal view: log lines scroll, and below them a status block is redrawn in place
 * (on a terminal) or printed once per change of step (in a log or a pipe, where redrawing would only
 * add noise).
 */

export interface StatusSnapshot {
  /** what the demo is doing, e.g. "2.0.0 → production" */
  title: string;
  phase: string;
  /** "4/14 setWeight 10" */
  step: string;
  weights: Record<string, number>;
  reason: string | null;
  load?: { rate: number; requests: number; failed: number; p99: number };
  /** per table: rows backfilled of rows to do */
  backfill?: Array<{ table: string; done: number; total: number }>;
}

const BAR = 20;

function bar(share: number): string {
  const filled = Math.max(0, Math.min(BAR, Math.round(share * BAR)));
  return `${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}`;
}

/** The status block's lines; pure, so the same snapshot always draws the same block. */
export function renderStatus(status: StatusSnapshot): string[] {
  const lines = [`▶ ${status.title}: ${status.phase}, step ${status.step}`];
  const versions = Object.entries(status.weights);
  if (versions.length > 0) lines.push(`  traffic   ${versions.map(([version, weight]) => `${version} ${bar(weight / 100)} ${weight}%`).join('   ')}`);
  if (status.load !== undefined) {
    const { rate, requests, failed, p99 } = status.load;
    lines.push(`  load      ${rate.toFixed(0)} req/s, ${requests} requests, ${failed} failed, p99 ${p99.toFixed(1)} ms`);
  }
  for (const table of status.backfill ?? []) {
    const share = table.total === 0 ? 1 : table.done / table.total;
    lines.push(`  backfill  ${table.table.padEnd(12)} ${bar(share)} ${table.done}/${table.total} rows`);
  }
  if (status.reason !== null && status.reason !== '') lines.push(`  why       ${status.reason}`);
  return lines;
}

export interface TerminalView {
  log(line: string): void;
  status(snapshot: StatusSnapshot): void;
  /** removes the status block (before the summary) */
  clear(): void;
}

export function createTerminalView(write: (text: string) => void, interactive: boolean): TerminalView {
  let drawn = 0;
  let last: string[] = [];
  let lastStep = '';
  const erase = () => {
    if (drawn > 0) write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
  };
  const draw = (lines: string[]) => {
    write(`${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  return {
    log(line) {
      if (!interactive) return write(`${line}\n`);
      erase();
      write(`${line}\n`);
      draw(last);
    },
    status(snapshot) {
      const lines = renderStatus(snapshot);
      if (interactive) {
        erase();
        draw(lines);
        last = lines;
        return;
      }
      // without a terminal, one line per step (and per phase change) is the readable form
      const key = `${snapshot.title} ${snapshot.phase} ${snapshot.step}`;
      if (key === lastStep) return;
      lastStep = key;
      write(`${lines.slice(0, 2).join('\n')}\n`);
    },
    clear() {
      if (interactive) erase();
      last = [];
    },
  };
}
