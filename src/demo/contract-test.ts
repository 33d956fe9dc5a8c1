/**
 * The demo's contract test, run by the rollout's `test` step against the candidate itself
 * (PROMOTE_URL): the API every version must keep, money in integer cents. It places an order, reads
 * it back by id and in its user's list, cancels it, and checks each answer; exit 1 names what broke.
 */
import { pathToFileURL } from 'node:url';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(new URL(path, base), {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    throw new Error(`${method} ${path}: answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

function expectThat(condition: boolean, what: string, answer: Answer): void {
  if (!condition) throw new Error(`${what}; got ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
}

export async function runContractTest(base: string): Promise<string> {
  const user = `contract-${process.pid}-${Date.now()}`;
  const items = [
    { sku: 'SKU-001', qty: 2, price: 1999 },
    { sku: 'SKU-002', qty: 1, price: 5 },
  ];
  const created = await call(base, 'POST', '/orders', { user, items, note: 'contract test' });
  expectThat(created.status === 201 && typeof created.body.id === 'number', 'POST /orders must answer 201 with the new order', created);
  expectThat(created.body.total === 4003, 'the total must be the sum of the lines in cents (4003)', created);
  const id = created.body.id as number;
  const read = await call(base, 'GET', `/orders/${id}`);
  expectThat(read.status === 200 && read.body.total === 4003 && read.body.user === user && read.body.status === 'placed', `GET /orders/${id} must give the order back as placed`, read);
  expectThat(JSON.stringify(read.body.items) === JSON.stringify(items), `GET /orders/${id} must give the lines back as sent`, read);
  const listed = await call(base, 'GET', `/orders?user=${encodeURIComponent(user)}`);
  const orders = listed.body.orders as Array<{ id: number }> | undefined;
  expectThat(listed.status === 200 && orders?.length === 1 && orders[0]?.id === id, `GET /orders?user= must list exactly order ${id}`, listed);
  const cancelled = await call(base, 'POST', `/orders/${id}/cancel`);
  expectThat(cancelled.status === 200 && cancelled.body.status === 'cancelled', `POST /orders/${id}/cancel must cancel it`, cancelled);
  const missing = await call(base, 'GET', '/orders/999999999999');
  expectThat(missing.status === 404, 'an unknown order must answer 404', missing);
  return `contract holds on ${String(read.body.total)} cents through order ${id}`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const base = process.env.PROMOTE_URL;
  if (base === undefined || base === '') {
    process.stderr.write('contract test: PROMOTE_URL (the candidate to test) is not set\n');
    process.exit(2);
  }
  runContractTest(base).then(
    (summary) => process.stdout.write(`contract test ${process.env.PROMOTE_VERSION ?? ''}: ${summary}\n`),
    (error: unknown) => {
      process.stderr.write(`contract test against ${base}: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
