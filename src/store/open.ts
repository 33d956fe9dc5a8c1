import { join } from 'node:path';
import type pg from 'pg';
import type { Logger } from '../log.js';
import { assertPostgresUrl, describeTarget, openPool, type DatabaseTarget } from './connect.js';
import { ensureEmbeddedPostgres, type EmbeddedServer } from './embedded/server.js';
import { migrateStore } from './migrate.js';

export interface StoreOptions {
  /** an external server; without it the embedded one under `home` is used */
  databaseUrl?: string;
  /** the embedded server's folder; `.promote/pg` under the working folder by default */
  home?: string;
  /** tests only: trade durability for speed in a freshly created embedded server */
  durable?: boolean;
  log?: Logger;
}

export interface Store {
  pool: pg.Pool;
  /** the connection URL, for components that need their own connection (LISTEN); holds the password: never print it */
  url: string;
  /** host, port and database, safe to print */
  target: DatabaseTarget;
  embedded?: EmbeddedServer;
  close(): Promise<void>;
}

/** `.promote/pg` under the working folder, unless PROMOTE_HOME names another folder. */
export function defaultHome(cwd = process.cwd(), env: Record<string, string | undefined> = process.env): string {
  return env.PROMOTE_HOME ?? join(cwd, '.promote', 'pg');
}

/** Connects to the state store (external or embedded) and brings its schema up to date. */
export async function openStore(options: StoreOptions = {}): Promise<Store> {
  let embedded: EmbeddedServer | undefined;
  let url = options.databaseUrl;
  if (url) {
    assertPostgresUrl(url, 'DATABASE_URL');
  } else {
    embedded = await ensureEmbeddedPostgres({ home: options.home ?? defaultHome(), durable: options.durable ?? true, ...(options.log ? { log: options.log } : {}) });
    url = embedded.url;
  }
  try {
    const pool = await openPool(url);
    try {
      const applied = await migrateStore(pool);
      if (applied.length > 0) options.log?.info({ versions: applied.map((migration) => migration.version) }, 'applied state store migrations');
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    return {
      pool,
      url,
      target: describeTarget(url),
      ...(embedded ? { embedded } : {}),
      close: async () => {
        await pool.end().catch(() => undefined);
        await embedded?.release();
      },
    };
  } catch (error) {
    await embedded?.release().catch(() => undefined);
    throw error;
  }
}
