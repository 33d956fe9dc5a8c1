/**
 * The orders service's data access, in the two shapes of its tables: v1 keeps money as numeric
 * dollars (`total`, `price`), v2 and later as integer cents (`total_cents`, `price_cents`). Both
 * answer with the same Order (money in cents), so the HTTP API is the same in every version.
 *
 * Which tables a query reaches is the connection's business: the service's pool puts the schema
 * version on every connection (src/sdk/schema-version.ts), so v2 reads the migration's views while v1
 * reads the base tables, and the migration's triggers translate each one's writes for the other.
 */
import type pg from 'pg';

export type OrdersShape = 'dollars' | 'cents';

export interface OrderItem {
  sku: string;
  qty: number;
  /** unit price in cents */
  price: number;
}

export interface NewOrder {
  user: string;
  items: OrderItem[];
  note?: string | null | undefined;
}

export type OrderStatus = 'placed' | 'cancelled';

export interface Order {
  id: number;
  user: string;
  status: OrderStatus;
  note: string | null;
  items: OrderItem[];
  /** in cents */
  total: number;
  createdAt: string;
}

export interface OrdersStats {
  orders: number;
  placed: number;
  cancelled: number;
  /** sum of the totals of placed orders, in cents */
  revenue: number;
  lines: number;
}

type Queryable = Pick<pg.ClientBase, 'query'>;

/** The shape a release uses: 1.x is v1 (dollars), anything later is cents. */
export function shapeOfRelease(release: string): OrdersShape {
  const major = Number(/^v?(\d+)/.exec(release.trim())?.[1] ?? Number.NaN);
  if (!Number.isInteger(major)) throw new Error(`RELEASE "${release}" does not start with a major version number (like 1.0.0 or v2)`);
  return major <= 1 ? 'dollars' : 'cents';
}

export function totalCents(items: readonly OrderItem[]): number {
  return items.reduce((sum, item) => sum + item.qty * item.price, 0);
}

interface OrderRow {
  id: string;
  user_id: string;
  status: OrderStatus;
  note: string | null;
  total_cents: string;
  created_at: Date;
}

interface LineRow {
  order_id: string;
  sku: string;
  qty: number;
  price_cents: string;
}

export class OrdersStore {
  private readonly orderColumns: string;
  private readonly lineColumns: string;

  constructor(readonly shape: OrdersShape) {
    const total = shape === 'cents' ? 'total_cents' : 'round(total * 100)::bigint as total_cents';
    const price = shape === 'cents' ? 'price_cents' : 'round(price * 100)::bigint as price_cents';
    this.orderColumns = `id, user_id, status, note, ${total}, created_at`;
    this.lineColumns = `order_id, sku, qty, ${price}`;
  }

  /** The columns this shape reads exist where the connection looks (a query that reads no rows). */
  async checkShape(db: Queryable): Promise<void> {
    await db.query(`select ${this.orderColumns} from orders limit 0`);
    await db.query(`select ${this.lineColumns} from order_lines limit 0`);
  }

  /** Inserts the order and its lines; run it in a transaction. */
  async create(db: Queryable, order: NewOrder): Promise<Order> {
    const total = totalCents(order.items);
    const inserted =
      this.shape === 'cents'
        ? await db.query<OrderRow>(`insert into orders (user_id, note, total_cents) values ($1, $2, $3) returning ${this.orderColumns}`, [order.user, order.note ?? null, total])
        : await db.query<OrderRow>(`insert into orders (user_id, note, total) values ($1, $2, $3::bigint / 100.0) returning ${this.orderColumns}`, [order.user, order.note ?? null, total]);
    const row = inserted.rows[0]!;
    const price = this.shape === 'cents' ? 'price_cents' : 'price';
    const value = this.shape === 'cents' ? 'p' : 'p / 100.0';
    await db.query(
      `insert into order_lines (order_id, line_no, sku, qty, ${price})
       select $1, n, s, q, ${value} from unnest($2::text[], $3::int[], $4::bigint[]) with ordinality as t(s, q, p, n)`,
      [row.id, order.items.map((item) => item.sku), order.items.map((item) => item.qty), order.items.map((item) => item.price)],
    );
    return toOrder(row, order.items.map((item) => ({ sku: item.sku, qty: item.qty, price: item.price })));
  }

  async get(db: Queryable, id: number): Promise<Order | undefined> {
    const orders = await db.query<OrderRow>(`select ${this.orderColumns} from orders where id = $1`, [id]);
    const [order] = await this.withLines(db, orders.rows);
    return order;
  }

  /** The user's orders, newest first. */
  async listByUser(db: Queryable, user: string, limit: number): Promise<Order[]> {
    const orders = await db.query<OrderRow>(`select ${this.orderColumns} from orders where user_id = $1 order by id desc limit $2`, [user, limit]);
    return this.withLines(db, orders.rows);
  }

  /** Cancels a placed order; an order already cancelled stays so (idempotent). Undefined: no such order. */
  async cancel(db: Queryable, id: number): Promise<Order | undefined> {
    await db.query(`update orders set status = 'cancelled' where id = $1 and status = 'placed'`, [id]);
    return this.get(db, id);
  }

  async stats(db: Queryable): Promise<OrdersStats> {
    const total = this.shape === 'cents' ? 'total_cents' : 'round(total * 100)';
    const result = await db.query<{ orders: string; placed: string; cancelled: string; revenue: string | null; lines: string }>(
      `select count(*) as orders, count(*) filter (where status = 'placed') as placed, count(*) filter (where status = 'cancelled') as cancelled,
              sum(${total}) filter (where status = 'placed') as revenue, (select count(*) from order_lines) as lines
       from orders`,
    );
    const row = result.rows[0]!;
    return { orders: Number(row.orders), placed: Number(row.placed), cancelled: Number(row.cancelled), revenue: Number(row.revenue ?? 0), lines: Number(row.lines) };
  }

  private async withLines(db: Queryable, rows: OrderRow[]): Promise<Order[]> {
    if (rows.length === 0) return [];
    const lines = await db.query<LineRow>(`select ${this.lineColumns} from order_lines where order_id = any($1::bigint[]) order by order_id, line_no`, [rows.map((row) => row.id)]);
    const byOrder = new Map<string, OrderItem[]>();
    for (const line of lines.rows) {
      const items = byOrder.get(line.order_id) ?? [];
      items.push({ sku: line.sku, qty: line.qty, price: Number(line.price_cents) });
      byOrder.set(line.order_id, items);
    }
    return rows.map((row) => toOrder(row, byOrder.get(row.id) ?? []));
  }
}

function toOrder(row: OrderRow, items: OrderItem[]): Order {
  return { id: Number(row.id), user: row.user_id, status: row.status, note: row.note, items, total: Number(row.total_cents), createdAt: row.created_at.toISOString() };
}
