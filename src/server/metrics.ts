/**
 * Prometheus metrics of rollouts, derived from the store at each scrape rather than counted in memory:
 * the audit trail and the measurements are append-only, so the figures survive a controller restart,
 * agree between several controllers (or a controller and `promote server`) scraped side by side, and
 * count what happened while no process was being scraped. Each registry is its own, never prom-client's
 * global one, so two servers in one process (tests) do not share or clash.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { describeCause } from '../errors.js';
import { ROLLOUT_PHASES } from '../store/rollouts.js';

const TERMINAL = ['Healthy', 'Degraded', 'RolledBack', 'Aborted'];
/** seconds: a traffic step takes about one, a pause or an analysis minutes, an approval can take hours */
const STEP_BUCKETS = [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600];

let processMetrics: Registry | undefined;

/** once per process: the default metrics start an event-loop monitor and a GC observer that live as long as the process */
function processRegistry(): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

export function createMetricsRegistry(pool: pg.Pool, app: string): Registry {
  const registry = new Registry();

  new Gauge({
    name: 'promote_rollout_phase',
    help: 'The phase of the latest rollout of each environment: 1 for its current phase, 0 for the others (StateSet)',
    labelNames: ['app', 'environment', 'rollout', 'phase'],
    registers: [registry],
    async collect() {
      this.reset();
      const latest = await pool.query<{ id: string; environment: string; phase: string }>(
        'select distinct on (environment) id, environment, phase from promote.rollouts where app = $1 order by environment, id desc',
        [app],
      );
      for (const row of latest.rows) for (const phase of ROLLOUT_PHASES) this.set({ app, environment: row.environment, rollout: row.id, phase }, phase === row.phase ? 1 : 0);
    },
  });

  new Histogram({
    name: 'promote_rollout_step_duration_seconds',
    help: 'Time each rollout step took, from the end of the step before (or the start of the rollout or its retry) to its step.completed event',
    labelNames: ['app', 'environment', 'step_kind'],
    buckets: STEP_BUCKETS,
    registers: [registry],
    async collect() {
      this.reset();
      for (const step of await stepDurations(pool, app)) this.observe({ app, environment: step.environment, step_kind: step.kind }, step.seconds);
    },
  });

  new Counter({
    name: 'promote_analysis_outcomes_total',
    help: 'Analysis measurements taken, by template and verdict',
    labelNames: ['app', 'environment', 'template', 'verdict'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await pool.query<{ environment: string; template: string; verdict: string; count: string }>(
        `select r.environment, m.template, m.verdict, count(*) as count from promote.analysis_measurements m join promote.rollouts r on r.id = m.rollout_id
          where r.app = $1 group by r.environment, m.template, m.verdict`,
        [app],
      );
      for (const row of rows.rows) this.inc({ app, environment: row.environment, template: row.template, verdict: row.verdict }, Number(row.count));
    },
  });

  new Counter({
    name: 'promote_rollouts_total',
    help: 'Rollouts that ended, by outcome (the terminal phase); a retried rollout that ends again counts again',
    labelNames: ['app', 'environment', 'outcome'],
    registers: [registry],
    async collect() {
      this.reset();
      // from the append-only audit trail, so the counter never goes down when a retry changes a rollout's phase
      const rows = await pool.query<{ environment: string; outcome: string; count: string }>(
        `select environment, data->>'to' as outcome, count(*) as count from promote.events
          where app = $1 and type = 'rollout.phase' and data->>'to' = any($2::text[]) group by environment, data->>'to'`,
        [app, TERMINAL],
      );
      for (const row of rows.rows) this.inc({ app, environment: row.environment, outcome: row.outcome }, Number(row.count));
    },
  });
  return Registry.merge([processRegistry(), registry]);
}

/** Every completed step's duration: events in seq order per rollout, a step starting where the one before ended. */
async function stepDurations(pool: pg.Pool, app: string): Promise<Array<{ environment: string; kind: string; seconds: number }>> {
  const result = await pool.query<{ rollout_id: string; environment: string; type: string; data: Record<string, unknown>; created_at: Date; kinds: Array<string | null> | null }>(
    `select e.rollout_id, r.environment, e.type, e.data, e.created_at,
            (select array_agg(step->>'kind' order by ordinality) from jsonb_array_elements(r.plan->'steps') with ordinality as s(step, ordinality)) as kinds
       from promote.events e join promote.rollouts r on r.id = e.rollout_id
      where r.app = $1 and (e.type = 'step.completed' or (e.type = 'rollout.phase' and e.data->>'to' = 'Progressing' and e.data->>'from' = any($2::text[])))
      order by e.rollout_id, e.seq`,
    [app, ['Pending', ...TERMINAL]],
  );
  const durations: Array<{ environment: string; kind: string; seconds: number }> = [];
  let rollout: string | undefined;
  let startedAt: number | undefined;
  for (const row of result.rows) {
    if (row.rollout_id !== rollout) {
      rollout = row.rollout_id;
      startedAt = undefined;
    }
    const at = row.created_at.getTime();
    if (row.type === 'step.completed' && startedAt !== undefined) {
      const kind = row.kinds?.[Number(row.data.step)] ?? 'unknown';
      durations.push({ environment: row.environment, kind, seconds: Math.max(0, at - startedAt) / 1000 });
    }
    startedAt = at;
  }
  return durations;
}

/** `promote controller --metrics host:port`: the registry over plain HTTP at /metrics. */
export async function serveMetrics(pool: pg.Pool, app: string, listen: string): Promise<{ url: string; close(): Promise<void> }> {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(listen);
  if (match === null) throw new Error(`--metrics takes host:port, like 127.0.0.1:9464, got "${listen.slice(0, 60)}"`);
  const registry = createMetricsRegistry(pool, app);
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`collecting metrics from the store failed: ${describeCause(error)}\n`),
    );
  });
  const host = match[1]!.replace(/^\[|\]$/g, '');
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`serving metrics on ${listen}: ${describeCause(error)}`)));
    server.listen(Number(match[2]), host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
