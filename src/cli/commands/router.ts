import cluster from 'node:cluster';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { runRouterCluster, serveWorkerAdmin } from '../../router/cluster.js';
import { startEnvironmentRouter, type EnvironmentRouter } from '../../router/service.js';
import { defaultHome, openStore } from '../../store/open.js';
import type { CliContext } from '../io.js';
import { printLine } from '../output.js';
import { loadEnvironment, parseListen } from '../spec.js';

export function registerRouter(program: Command, context: () => CliContext): void {
  program
    .command('router')
    .description("run the router of an environment: clients connect to it; it follows the environment's routing table")
    .requiredOption('--env <name>', 'the environment whose traffic to route')
    .option('--listen <host:port>', 'client address (default: router.listen in promote.yaml)')
    .option('--admin <host:port>', 'admin address for /metrics, /state, /window (default: router.admin)')
    .option('--workers <n>', 'router processes sharing the port; the admin port adds up their metrics', parseWorkers, 1)
    .addHelpText('after', '\nExamples:\n  $ promote router --env production\n  $ promote router --env staging --listen 0.0.0.0:8080 --admin 127.0.0.1:9464\n\nStops gracefully on Ctrl-C: in-flight requests finish first.\n')
    .action(async (options: { env: string; listen?: string; admin?: string; workers: number }) => {
      const ctx = context();
      const { spec, environment } = await loadEnvironment(ctx, options.env);
      const routerSpec = environment.router;
      const listen = parseListen(options.listen ?? routerSpec?.listen ?? '127.0.0.1:8080', '--listen');
      const adminAddress = parseListen(options.admin ?? routerSpec?.admin ?? '127.0.0.1:9464', '--admin');

      if (options.workers > 1 && cluster.isPrimary) {
        await runRouterCluster({
          workers: options.workers,
          admin: adminAddress,
          onReady: (admin) => printLine(ctx.io, `router for ${spec.app.name}/${options.env} on http://${listen.host}:${listen.port} with ${options.workers} workers (admin http://${admin.address}:${admin.port})`),
        });
        printLine(ctx.io, 'stopped all router workers');
        return;
      }
      const worker = cluster.isWorker;
      const databaseUrl = ctx.globals.databaseUrl ?? ctx.io.env.DATABASE_URL;
      const store = await openStore(databaseUrl ? { databaseUrl, log: ctx.log } : { home: defaultHome(ctx.io.cwd, ctx.io.env), log: ctx.log });
      let service: EnvironmentRouter | undefined;
      try {
        service = await startEnvironmentRouter({ app: spec.app.name, environment, pool: store.pool, databaseUrl: store.url, listen, ...(worker ? {} : { admin: adminAddress }), log: ctx.log });
        const { router, address, adminAddress: adminBound } = service;
        if (worker) {
          serveWorkerAdmin(router);
          process.send?.({ routerReady: true });
        } else {
          printLine(ctx.io, `router for ${spec.app.name}/${options.env} on http://${address.address}:${address.port} (admin http://${adminBound!.address}:${adminBound!.port})`);
          printLine(ctx.io, router.revision === undefined ? 'no routing table yet: requests get 503 until `promote traffic set` gives one' : `routing table revision ${router.revision}`);
        }
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        if (!worker) printLine(ctx.io, 'stopping: letting in-flight requests finish');
      } finally {
        await service?.close();
        await store.close();
        // the IPC channel to the primary would keep a finished worker alive
        if (worker) process.disconnect();
      }
    });
}

function parseWorkers(value: string): number {
  const workers = Number(value);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new UsageError(`--workers "${value}" is not valid: expected a whole number from 1 to 64`);
  return workers;
}
