import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { createEngine } from '../../engine/runtime.js';
import { startEnvironmentRouter, type EnvironmentRouter } from '../../router/service.js';
import { isRole, ROLES, type Role } from '../../server/access.js';
import { buildServer } from '../../server/app.js';
import { AUTH_MODES, type AuthMode } from '../../server/auth.js';
import { countActiveTokens } from '../../auth/tokens.js';
import { defaultHome, openStore } from '../../store/open.js';
import type { CliContext } from '../io.js';
import { printLine } from '../output.js';
import { loadConfig, parseListen } from '../spec.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export function registerServer(program: Command, context: () => CliContext): void {
  program
    .command('server')
    .description('serve the HTTP API (OpenAPI at /openapi.json) with the rollout controller and the routers of the environments')
    .option('--listen <host:port>', 'API address', '127.0.0.1:7070')
    .option('--no-controller', 'do not run the controller here')
    .option('--no-routers', 'do not run the environments\' routers here')
    .option('--auth <mode>', `tokens: every API call needs an API token (promote token create); none: nobody is asked, loopback only. Default: tokens once any token exists, else none`)
    .option('--role <role>', `without authentication, the role of every caller (${ROLES.join(', ')}); a caller may lower its own with the x-promote-role header`, 'admin')
    .addHelpText('after', '\nExamples:\n  $ promote server\n  $ curl -s localhost:7070/api/rollouts\n  $ curl -s -X POST localhost:7070/api/deploy -H content-type:application/json -d \'{"version":"1.4.0","environment":"staging"}\'\n')
    .action(async (options: { listen: string; controller: boolean; routers: boolean; role: string; auth?: string }) => {
      const ctx = context();
      if (!isRole(options.role)) throw new UsageError(`--role ${options.role}: roles are ${ROLES.join(', ')}`);
      const role: Role = options.role;
      const listen = parseListen(options.listen, '--listen');
      if (options.auth !== undefined && !(AUTH_MODES as readonly string[]).includes(options.auth)) throw new UsageError(`--auth ${options.auth}: expected ${AUTH_MODES.join(' or ')}`);
      // refused before reading anything: no store or promote.yaml could make this allowed
      if (options.auth === 'none') chooseAuth('none', 0, listen.host, options.listen);
      const { spec, configDir } = await loadConfig(ctx);
      const databaseUrl = ctx.globals.databaseUrl ?? ctx.io.env.DATABASE_URL;
      const store = await openStore(databaseUrl ? { databaseUrl, log: ctx.log } : { home: defaultHome(ctx.io.cwd, ctx.io.env), log: ctx.log });
      let auth: AuthMode;
      try {
        auth = chooseAuth(options.auth as AuthMode | undefined, await countActiveTokens(store.pool), listen.host, options.listen);
      } catch (problem) {
        await store.close();
        throw problem;
      }
      const engine = options.controller ? createEngine(spec, { pool: store.pool, databaseUrl: store.url, configDir, log: ctx.log }) : undefined;
      const routers: EnvironmentRouter[] = [];
      const api = await buildServer({ pool: store.pool, spec, role, configDir, auth });
      try {
        await engine?.controller.start();
        if (options.routers) {
          for (const environment of spec.environments.filter((each) => each.router)) {
            const router = await startEnvironmentRouter({ app: spec.app.name, environment, pool: store.pool, databaseUrl: store.url, listen: parseListen(environment.router!.listen, `environments.${environment.name}.router.listen`), admin: parseListen(environment.router!.admin, `environments.${environment.name}.router.admin`), log: ctx.log });
            routers.push(router);
            printLine(ctx.io, `router ${environment.name} on http://${router.address.address}:${router.address.port}`);
          }
        }
        const address = await api.listen({ host: listen.host, port: listen.port });
        printLine(ctx.io, `API on ${address} (OpenAPI at ${address}/openapi.json, dashboard at ${address}/); ${auth === 'tokens' ? 'every call needs an API token' : `no authentication: every caller has the role ${role}`}${engine ? '; controller running' : ''}`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        printLine(ctx.io, 'stopping');
      } finally {
        await api.close();
        for (const router of routers) await router.close();
        await engine?.close();
        await store.close();
      }
    });
}

/** Without authentication the API answers anyone who reaches it, so only loopback may; with it, someone must hold a token. */
function chooseAuth(asked: AuthMode | undefined, activeTokens: number, host: string, listen: string): AuthMode {
  const auth = asked ?? (activeTokens > 0 ? 'tokens' : 'none');
  if (auth === 'none' && !LOOPBACK.has(host)) {
    throw new UsageError(`--listen ${listen}: without authentication the API listens on loopback only (127.0.0.1, ::1)`, {
      hint: 'create an admin token (promote token create --name <you> --role admin) and serve with --auth tokens',
    });
  }
  if (auth === 'tokens' && activeTokens === 0) {
    throw new UsageError('--auth tokens: the store has no active API token, so nobody could call this server', { hint: 'create one first: promote token create --name <you> --role admin' });
  }
  return auth;
}
