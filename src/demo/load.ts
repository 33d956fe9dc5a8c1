/**
 * The demo's load generator: simulated users sending the orders service mixed traffic at a target rate,
 * keeping a ledger of every write the service acknowledged, so a test (or the demo's summary) can prove
 * afterwards that nothing acknowledged was lost or changed.
 *
 * Each user is a paced loop with at most one request in flight: it creates orders, lists and reads its
 * own, cancels some, and reads the stats. Its requests carry `X-User-Id` (the router's sticky key in
 * examples/promote.yaml). Reads are checked against the ledger as they come back: an acknowledged
 * order that reads back different, or is missing from its user's list, counts as a mismatch.
 *
 * Counters are kept per phase (`phase(name)` starts the next one; a request counts in the phase it
 * started in): requests, successes, failures by HTTP status or error code, per route, acknowledged
 * writes, mismatches, and latencies in an HDR histogram (p50/p90/p99/max).
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import hdr from 'hdr-histogram-js';
import type pg from 'pg';
import { Pool as HttpPool } from 'undici';
import { PromoteError, wrapError } from '../errors.js';
import { inSchemaVersion, type SchemaVersion } from '../sdk/schema-version.js';
import { seededRandom } from '../system/seeded-random.js';
import type { Order, OrderItem, OrderStatus } from './orders-store.js';

export const ROUTES = ['create', 'get', 'list', 'cancel', 'stats'] as const;
export type Route = (typeof ROUTES)[number];

/** Relative weights of the routes; a read or cancel with no order to act on creates one instead. */
export type TrafficMix = Record<Route, number>;

export const DEFAULT_MIX: TrafficMix = { create: 25, get: 35, list: 30, cancel: 5, stats: 5 };

export interface LoadOptions {
  /** the service or the router in front of it, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** simulated users; default 20 */
  users?: number;
  /** requests per second over all users; default 100. Users slow down when answers are slower than their share */
  rate?: number;
  mix?: Partial<TrafficMix>;
  /** makes the users' choices reproducible; default random */
  seed?: number;
  /** users are named `<prefix>-<n>`; default `user`. Two generators on one database need different prefixes */
  userPrefix?: string;
  /** the header that carries the user's name (the router's sticky key); default `x-user-id`; false: none */
  userHeader?: string | false;
  /** sent with every request */
  headers?: Record<string, string>;
  /** a request without an answer by then fails as `timeout`; default 10 s */
  timeoutMs?: number;
  /** the first phase's name; default `steady` */
  phase?: string;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface PhaseReport {
  name: string;
  startedAt: string;
  /** null while the phase is current */
  endedAt: string | null;
  durationMs: number;
  /** requests started in this phase that have an outcome (`ok + failed`) */
  requests: number;
  ok: number;
  failed: number;
  /** failures by `HTTP <status>` or error code (`timeout`, `ECONNREFUSED`, `ECONNRESET`, `bad-response`, …) */
  failures: Record<string, number>;
  byRoute: Record<Route, { requests: number; failed: number }>;
  /** orders the service acknowledged (201 with an id) and cancels it acknowledged */
  acknowledged: { created: number; cancelled: number };
  /** reads answered with an itemized receipt (2.x and later, where flag itemized-receipts is on for the user) */
  receipts: number;
  /** answers that contradict the ledger (an acknowledged order read back different, or missing) */
  mismatches: number;
  /** a few of them, described */
  mismatchSamples: string[];
  /** a few failures: route, status or error, and what the answer said */
  failureSamples: string[];
  /** requests per second over the phase */
  rate: number;
  /** of the requests with an outcome, in milliseconds */
  latencyMs: LatencySummary;
}

export interface LoadReport {
  phases: PhaseReport[];
  /** all phases together */
  total: PhaseReport;
  /** requests sent and not answered yet */
  inFlight: number;
  ledger: { orders: number; cancelled: number; uncertain: number };
}

export interface LedgerEntry {
  id: number;
  user: string;
  note: string | null;
  items: OrderItem[];
  /** in cents */
  total: number;
  status: OrderStatus;
  /** a cancel was sent whose outcome is unknown (it failed or timed out): either status is right */
  statusUncertain: boolean;
  /** the phase the create was acknowledged in */
  phase: string;
}

export interface LedgerProblem {
  id: number;
  field: 'row' | 'user' | 'note' | 'status' | 'total' | 'items';
  expected: unknown;
  actual: unknown;
}

export interface LedgerVerification {
  ok: boolean;
  /** acknowledged orders checked */
  checked: number;
  missing: number[];
  problems: LedgerProblem[];
  /** one line: what was checked and what is wrong */
  summary: string;
}

export interface VerifyOptions {
  /** the version whose shape to read through (inSchemaVersion); default the base tables */
  schemaVersion?: SchemaVersion;
  /** orders per query; default 1000 */
  chunk?: number;
}

export interface Load {
  readonly currentPhase: string;
  /** ends the current phase and starts counting in a new one */
  phase(name: string): void;
  report(): LoadReport;
  /** every acknowledged order, in the order they were acknowledged */
  ledger(): readonly LedgerEntry[];
  /** resolves once this many requests have an outcome (over all phases); rejects after timeoutMs */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  /** stops the users, waits for their requests in flight, closes the connections; the final report */
  stop(): Promise<LoadReport>;
  /**
   * checks every acknowledged order is in the database with the content acknowledged. Exact after
   * stop(); while the load runs, an order with a cancel in flight may be either placed or cancelled
   */
  verifyLedger(pool: pg.Pool, options?: VerifyOptions): Promise<LedgerVerification>;
}

const CATALOGUE: readonly { sku: string; price: number }[] = Array.from({ length: 60 }, (_, index) => ({
  sku: `SKU-${String(index * 7 + 3).padStart(3, '0')}`,
  price: 99 + ((index * 1_237) % 9_900),
}));
const MAX_SAMPLES = 10;
const LIST_LIMIT = 20;

class PhaseCounters {
  readonly startedAt = new Date();
  endedAt: Date | undefined;
  ok = 0;
  failed = 0;
  readonly failures = new Map<string, number>();
  readonly byRoute = Object.fromEntries(ROUTES.map((route) => [route, { requests: 0, failed: 0 }])) as Record<Route, { requests: number; failed: number }>;
  created = 0;
  cancelled = 0;
  receipts = 0;
  mismatches = 0;
  readonly mismatchSamples: string[] = [];
  readonly failureSamples: string[] = [];
  readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });

  constructor(readonly name: string) {}

  record(route: Route, micros: number, failure: string | undefined, detail: string | undefined): void {
    this.histogram.recordValue(Math.max(1, Math.round(micros)));
    this.byRoute[route].requests += 1;
    if (failure === undefined) {
      this.ok += 1;
      return;
    }
    this.failed += 1;
    this.byRoute[route].failed += 1;
    this.failures.set(failure, (this.failures.get(failure) ?? 0) + 1);
    if (this.failureSamples.length < MAX_SAMPLES) this.failureSamples.push(`${route}: ${failure}${detail === undefined ? '' : `: ${detail}`}`);
  }

  mismatch(description: string): void {
    this.mismatches += 1;
    if (this.mismatchSamples.length < MAX_SAMPLES) this.mismatchSamples.push(description);
  }

  report(): PhaseReport {
    const end = this.endedAt ?? new Date();
    const durationMs = end.getTime() - this.startedAt.getTime();
    const requests = this.ok + this.failed;
    const h = this.histogram;
    const ms = (micros: number) => Math.round(micros) / 1000;
    const at = (percentile: number) => Math.min(h.getValueAtPercentile(percentile), h.maxValue);
    return {
      name: this.name,
      startedAt: this.startedAt.toISOString(),
      endedAt: this.endedAt?.toISOString() ?? null,
      durationMs,
      requests,
      ok: this.ok,
      failed: this.failed,
      failures: Object.fromEntries([...this.failures].sort(([a], [b]) => a.localeCompare(b))),
      byRoute: Object.fromEntries(ROUTES.map((route) => [route, { ...this.byRoute[route] }])) as Record<Route, { requests: number; failed: number }>,
      acknowledged: { created: this.created, cancelled: this.cancelled },
      receipts: this.receipts,
      mismatches: this.mismatches,
      mismatchSamples: [...this.mismatchSamples],
      failureSamples: [...this.failureSamples],
      rate: durationMs > 0 ? Math.round((requests / durationMs) * 10_000) / 10 : 0,
      latencyMs:
        h.totalCount === 0
          ? { count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 }
          : // a percentile is its bucket's upper end, which can pass the largest value recorded
            { count: h.totalCount, p50: ms(at(50)), p90: ms(at(90)), p99: ms(at(99)), max: ms(h.maxValue), mean: ms(h.mean) },
    };
  }
}

interface User {
  name: string;
  /** acknowledged order ids of this user */
  orders: number[];
}

interface Outcome {
  status: number;
  body: unknown;
}

export function startLoad(options: LoadOptions): Load {
  const users = Math.max(1, Math.trunc(options.users ?? 20));
  const rate = options.rate ?? 100;
  if (!(rate > 0)) throw new PromoteError(`the load's rate must be a positive number of requests per second, not ${rate}`);
  const mix = { ...DEFAULT_MIX, ...options.mix };
  const weights = ROUTES.map((route) => Math.max(0, mix[route]));
  const weightSum = weights.reduce((a, b) => a + b, 0);
  if (!(weightSum > 0)) throw new PromoteError('the load\'s traffic mix gives every route weight 0');
  const random = seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  const prefix = options.userPrefix ?? 'user';
  const userHeader = options.userHeader === false ? undefined : (options.userHeader ?? 'x-user-id').toLowerCase();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const base = new URL(options.baseUrl);
  const pathPrefix = base.pathname.replace(/\/$/, '');
  const http = new HttpPool(base.origin, { connections: users, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 30_000 });

  const phases: PhaseCounters[] = [new PhaseCounters(options.phase ?? 'steady')];
  const total = new PhaseCounters('total');
  const ledger = new Map<number, LedgerEntry>();
  /** orders with a cancel sent and not answered yet: their status may be either while it runs */
  const cancelsInFlight = new Set<number>();
  let inFlight = 0;
  let running = true;
  const stopping = new AbortController();
  // every sleeping user listens for the stop
  setMaxListeners(users + 10, stopping.signal);
  const waiters = new Set<() => void>();
  const current = () => phases[phases.length - 1]!;

  const pick = (): Route => {
    let point = random() * weightSum;
    for (const [index, weight] of weights.entries()) {
      point -= weight;
      if (point < 0) return ROUTES[index]!;
    }
    return 'list';
  };
  const choose = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;

  /** `seen.answer` keeps the answer, so a failure can say what the service said */
  async function send(user: User, seen: { answer?: Outcome }, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Outcome> {
    const headers: Record<string, string> = { ...options.headers, accept: 'application/json' };
    if (userHeader !== undefined) headers[userHeader] = user.name;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await http.request({ method, path: pathPrefix + path, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await response.body.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    seen.answer = { status: response.statusCode, body: parsed };
    return seen.answer;
  }

  function failureOf(error: unknown): string {
    const code = (error as { code?: unknown }).code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
    if (code === 'UND_ERR_SOCKET') return 'socket closed';
    if (typeof code === 'string') return code;
    return error instanceof Error ? error.name : 'error';
  }

  function checkAgainstLedger(phase: PhaseCounters, order: Partial<Order> | undefined, id: number, how: string): void {
    const entry = ledger.get(id);
    if (entry === undefined) return;
    const differences = compareOrder(entry, order);
    if (differences.length > 0) {
      const description = `${how}: order ${id} ${differences.map((d) => `${d.field} ${JSON.stringify(d.actual)} (acknowledged ${JSON.stringify(d.expected)})`).join(', ')}`;
      phase.mismatch(description);
      total.mismatch(description);
    }
  }

  /** an itemized receipt, when the flag gave one, must list each line with its subtotal */
  function checkReceipt(phase: PhaseCounters, order: Partial<Order> & { receipt?: unknown }, id: number): void {
    if (order.receipt === undefined) return;
    phase.receipts += 1;
    total.receipts += 1;
    const expected = (order.items ?? []).map((item) => ({ sku: item.sku, qty: item.qty, subtotal: item.qty * item.price }));
    if (JSON.stringify(order.receipt) !== JSON.stringify(expected)) {
      const description = `GET /orders/${id}: receipt ${JSON.stringify(order.receipt)} does not itemize its lines ${JSON.stringify(expected)}`;
      phase.mismatch(description);
      total.mismatch(description);
    }
  }

  /** one request of the user's: what it checks, and its outcome in the counters */
  async function act(user: User): Promise<void> {
    let route = pick();
    const placed = user.orders.filter((id) => ledger.get(id)?.status === 'placed');
    if ((route === 'get' && user.orders.length === 0) || (route === 'cancel' && placed.length === 0)) route = 'create';
    const phase = current();
    const started = performance.now();
    let failure: string | undefined;
    let detail: string | undefined;
    const seen: { answer?: Outcome } = {};
    let cancelling: LedgerEntry | undefined;
    inFlight += 1;
    try {
      switch (route) {
        case 'create': {
          const items = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
            const product = choose(CATALOGUE);
            return { sku: product.sku, qty: 1 + Math.floor(random() * 3), price: product.price };
          });
          const note = random() < 0.2 ? `note ${Math.floor(random() * 1000)} from ${user.name}` : null;
          const answer = await send(user, seen, 'POST', '/orders', { user: user.name, items, ...(note === null ? {} : { note }) });
          if (answer.status !== 201) {
            failure = `HTTP ${answer.status}`;
            break;
          }
          const order = answer.body as Partial<Order> | undefined;
          if (typeof order?.id !== 'number' || !Number.isInteger(order.id)) {
            failure = 'bad-response';
            break;
          }
          const entry: LedgerEntry = { id: order.id, user: user.name, note, items, total: items.reduce((sum, item) => sum + item.qty * item.price, 0), status: 'placed', statusUncertain: false, phase: phase.name };
          ledger.set(order.id, entry);
          user.orders.push(order.id);
          phase.created += 1;
          total.created += 1;
          checkAgainstLedger(phase, order, order.id, 'POST /orders answered');
          break;
        }
        case 'get': {
          const id = choose(user.orders);
          const answer = await send(user, seen, 'GET', `/orders/${id}`);
          if (answer.status !== 200) failure = `HTTP ${answer.status}`;
          else {
            checkAgainstLedger(phase, answer.body as Partial<Order>, id, `GET /orders/${id}`);
            checkReceipt(phase, answer.body as Partial<Order> & { receipt?: unknown }, id);
          }
          break;
        }
        case 'list': {
          const answer = await send(user, seen, 'GET', `/orders?user=${encodeURIComponent(user.name)}&limit=${LIST_LIMIT}`);
          if (answer.status !== 200) {
            failure = `HTTP ${answer.status}`;
            break;
          }
          const orders = (answer.body as { orders?: Partial<Order>[] } | undefined)?.orders;
          if (!Array.isArray(orders)) {
            failure = 'bad-response';
            break;
          }
          const listedIds = new Set<number>();
          for (const order of orders) {
            if (typeof order.id !== 'number') continue;
            listedIds.add(order.id);
            checkAgainstLedger(phase, order, order.id, 'GET /orders?user=');
          }
          // newest first: every acknowledged order newer than the oldest listed (or all, when the list was not cut) must be there
          const oldest = orders.length < LIST_LIMIT ? 0 : Math.min(...listedIds);
          for (const id of user.orders) {
            if (id > oldest && !listedIds.has(id)) {
              const description = `GET /orders?user=${user.name}: acknowledged order ${id} is not listed`;
              phase.mismatch(description);
              total.mismatch(description);
            }
          }
          break;
        }
        case 'cancel': {
          const id = choose(placed);
          cancelling = ledger.get(id)!;
          cancelsInFlight.add(id);
          const answer = await send(user, seen, 'POST', `/orders/${id}/cancel`);
          if (answer.status !== 200) {
            failure = `HTTP ${answer.status}`;
            cancelling.statusUncertain = true;
            break;
          }
          cancelling.status = 'cancelled';
          cancelling.statusUncertain = false;
          phase.cancelled += 1;
          total.cancelled += 1;
          checkAgainstLedger(phase, answer.body as Partial<Order>, id, `POST /orders/${id}/cancel answered`);
          break;
        }
        case 'stats': {
          const answer = await send(user, seen, 'GET', '/stats');
          if (answer.status !== 200) failure = `HTTP ${answer.status}`;
          break;
        }
      }
    } catch (error) {
      failure = failureOf(error);
      detail = error instanceof Error ? error.message : String(error);
      if (cancelling !== undefined) cancelling.statusUncertain = true;
    } finally {
      inFlight -= 1;
      if (cancelling !== undefined) cancelsInFlight.delete(cancelling.id);
    }
    const micros = (performance.now() - started) * 1000;
    if (failure !== undefined && detail === undefined && seen.answer !== undefined) detail = describeAnswer(seen.answer);
    phase.record(route, micros, failure, detail);
    total.record(route, micros, failure, detail);
    for (const wake of waiters) wake();
  }

  async function runUser(index: number): Promise<void> {
    const user: User = { name: `${prefix}-${index}`, orders: [] };
    const interval = (users / rate) * 1000;
    let next = performance.now() + random() * interval;
    while (running) {
      const wait = next - performance.now();
      if (wait > 0) {
        try {
          await sleep(wait, undefined, { signal: stopping.signal });
        } catch {
          break;
        }
      }
      if (!running) break;
      await act(user);
      next += interval;
      // a user that fell behind (slow answers) does not burst to catch up
      if (next < performance.now() - interval) next = performance.now();
    }
  }

  const loops = Array.from({ length: users }, (_, index) => runUser(index + 1));
  let stopped: Promise<LoadReport> | undefined;

  const report = (): LoadReport => {
    let uncertain = 0;
    let cancelled = 0;
    for (const entry of ledger.values()) {
      if (entry.statusUncertain) uncertain += 1;
      else if (entry.status === 'cancelled') cancelled += 1;
    }
    return { phases: phases.map((phase) => phase.report()), total: total.report(), inFlight, ledger: { orders: ledger.size, cancelled, uncertain } };
  };

  return {
    get currentPhase() {
      return current().name;
    },
    phase(name) {
      if (!running) throw new PromoteError(`the load is stopped: cannot start phase "${name}"`);
      const now = new Date();
      current().endedAt = now;
      phases.push(new PhaseCounters(name));
    },
    report,
    ledger: () => [...ledger.values()],
    async waitForRequests(count, waitMs = 60_000) {
      const deadline = Date.now() + waitMs;
      while (total.ok + total.failed < count) {
        if (!running) throw new PromoteError(`the load stopped after ${total.ok + total.failed} of the ${count} requests waited for`);
        const left = deadline - Date.now();
        if (left <= 0) throw new PromoteError(`the load sent ${total.ok + total.failed} of ${count} requests in ${waitMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.min(left, 250));
          function done() {
            clearTimeout(timer);
            waiters.delete(done);
            resolve();
          }
          waiters.add(done);
        });
      }
    },
    stop() {
      stopped ??= (async () => {
        running = false;
        stopping.abort();
        await Promise.all(loops);
        current().endedAt = new Date();
        total.endedAt = current().endedAt;
        await http.close().catch(() => undefined);
        return report();
      })();
      return stopped;
    },
    // a copy as of now: a cancel acknowledged while the database is read must not change what is expected
    verifyLedger: (pool, verifyOptions) =>
      verifyLedger(
        [...ledger.values()].map((entry) => ({ ...entry, statusUncertain: entry.statusUncertain || cancelsInFlight.has(entry.id) })),
        pool,
        verifyOptions,
      ),
  };
}

function describeAnswer(answer: Outcome): string {
  const error = (answer.body as { error?: unknown } | undefined)?.error;
  const text = typeof error === 'string' ? error : JSON.stringify(answer.body) ?? '';
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** The fields of a read order that differ from what was acknowledged (a status in doubt matches either). */
function compareOrder(entry: LedgerEntry, order: Partial<Order> | undefined): LedgerProblem[] {
  if (order === undefined || order === null || typeof order !== 'object') return [{ id: entry.id, field: 'row', expected: 'an order', actual: order }];
  const problems: LedgerProblem[] = [];
  const differ = (field: LedgerProblem['field'], expected: unknown, actual: unknown) => {
    if (JSON.stringify(expected) !== JSON.stringify(actual)) problems.push({ id: entry.id, field, expected, actual });
  };
  differ('user', entry.user, order.user);
  differ('note', entry.note, order.note ?? null);
  if (!entry.statusUncertain) differ('status', entry.status, order.status);
  else if (order.status !== 'placed' && order.status !== 'cancelled') problems.push({ id: entry.id, field: 'status', expected: 'placed or cancelled', actual: order.status });
  differ('total', entry.total, order.total);
  differ('items', entry.items, order.items?.map((item) => ({ sku: item.sku, qty: item.qty, price: item.price })));
  return problems;
}

/** Exact cents of a numeric dollar amount as PostgreSQL prints it (`19.99`, `-0.5`, `12`). */
function centsOfDollars(text: string): number {
  const match = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text.trim());
  if (match === null) return Number.NaN;
  const fraction = (match[3] ?? '').padEnd(2, '0');
  const cents = Number(match[2]) * 100 + Number(fraction.slice(0, 2)) + (Number(fraction.slice(2) || '0') > 0 ? Number.NaN : 0);
  return match[1] === '-' ? -cents : cents;
}

/**
 * Checks a ledger against the database: every order present with its user, note, status, total and
 * lines. Reads `select *` through the schema version given (the base tables by default) and takes
 * money from whichever shape it sees: `total_cents` / `price_cents`, or the dollar columns.
 */
export async function verifyLedger(entries: readonly LedgerEntry[], pool: pg.Pool, options: VerifyOptions = {}): Promise<LedgerVerification> {
  const chunk = options.chunk ?? 1000;
  const version = options.schemaVersion ?? { versionSchema: undefined };
  const missing: number[] = [];
  const problems: LedgerProblem[] = [];
  const where = version.versionSchema === undefined ? 'the base tables' : `schema version ${version.versionSchema}`;
  for (let start = 0; start < entries.length; start += chunk) {
    const part = entries.slice(start, start + chunk);
    const ids = part.map((entry) => entry.id);
    let rows: { orders: Record<string, unknown>[]; lines: Record<string, unknown>[] };
    try {
      rows = await inSchemaVersion(pool, version, async (client) => ({
        orders: (await client.query<Record<string, unknown>>('select * from orders where id = any($1::bigint[])', [ids])).rows,
        lines: (await client.query<Record<string, unknown>>('select * from order_lines where order_id = any($1::bigint[]) order by order_id, line_no', [ids])).rows,
      }));
    } catch (error) {
      throw wrapError(`verifying the load's ledger: reading ${ids.length} acknowledged orders through ${where}`, error);
    }
    const orders = new Map(rows.orders.map((row) => [Number(row.id), row]));
    const lines = new Map<number, OrderItem[]>();
    for (const line of rows.lines) {
      const id = Number(line.order_id);
      const items = lines.get(id) ?? [];
      items.push({ sku: String(line.sku), qty: Number(line.qty), price: 'price_cents' in line ? Number(line.price_cents) : centsOfDollars(String(line.price)) });
      lines.set(id, items);
    }
    for (const entry of part) {
      const row = orders.get(entry.id);
      if (row === undefined) {
        missing.push(entry.id);
        continue;
      }
      const read: Partial<Order> = {
        id: entry.id,
        user: row.user_id as string,
        note: (row.note as string | null) ?? null,
        status: row.status as OrderStatus,
        total: 'total_cents' in row ? Number(row.total_cents) : centsOfDollars(String(row.total)),
        items: lines.get(entry.id) ?? [],
      };
      problems.push(...compareOrder(entry, read));
    }
  }
  const ok = missing.length === 0 && problems.length === 0;
  const summary = ok
    ? `all ${entries.length} acknowledged orders are in ${where} as acknowledged`
    : `${missing.length + new Set(problems.map((problem) => problem.id)).size} of ${entries.length} acknowledged orders are wrong in ${where}: ` +
      [
        ...(missing.length === 0 ? [] : [`missing ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}`]),
        ...problems.slice(0, 10).map((problem) => `order ${problem.id} ${problem.field} is ${JSON.stringify(problem.actual)}, acknowledged ${JSON.stringify(problem.expected)}`),
      ].join('; ');
  return { ok, checked: entries.length, missing, problems, summary };
}

/** One line per phase: requests, failures, mismatches, latency. */
export function formatLoadReport(report: LoadReport): string {
  const line = (phase: PhaseReport) => {
    const failures = Object.entries(phase.failures).map(([key, count]) => `${key}×${count}`).join(' ');
    return `${phase.name.padEnd(12)} ${String(phase.requests).padStart(7)} requests ${String(phase.failed).padStart(5)} failed${failures === '' ? '' : ` (${failures})`}  ${phase.mismatches} mismatches  ${phase.rate} req/s  p50 ${phase.latencyMs.p50} ms  p99 ${phase.latencyMs.p99} ms`;
  };
  return [...report.phases.map(line), line(report.total)].join('\n');
}
