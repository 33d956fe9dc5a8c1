import { defaultHome, openStore, type Store } from '../store/open.js';
import type { CliContext } from './io.js';

/**
 * Opens the state store for one command and always closes it, stopping an embedded server this process
 * started. A signal closes the store and exits 130, unless the command stops itself on signals
 * (`stopsOnSignal`, e.g. the controller): then its clean stop must not race an exit.
 */
export async function withStore<T>(context: CliContext, work: (store: Store) => Promise<T>, options: { stopsOnSignal?: boolean } = {}): Promise<T> {
  const databaseUrl = context.globals.databaseUrl ?? context.io.env.DATABASE_URL;
  context.log.debug({ external: Boolean(databaseUrl) }, 'opening the state store');
  const store = await openStore(databaseUrl ? { databaseUrl, log: context.log } : { home: defaultHome(context.io.cwd, context.io.env), log: context.log });
  const stopOnSignal = () => {
    void store.close().finally(() => process.exit(130));
  };
  if (!options.stopsOnSignal) {
    process.once('SIGINT', stopOnSignal);
    process.once('SIGTERM', stopOnSignal);
  }
  try {
    return await work(store);
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await store.close();
  }
}
