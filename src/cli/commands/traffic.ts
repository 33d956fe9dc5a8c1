import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { compileTraffic } from '../../router/pick.js';
import type { TrafficConfig, VersionTraffic } from '../../router/traffic.js';
import type { EnvironmentSpec } from '../../spec/index.js';
import { getTraffic, setTraffic, syncEnvironments, upsertApp, withTransaction } from '../../store/index.js';
import type { CliContext } from '../io.js';
import { printJson, printLine, printTable } from '../output.js';
import { currentActor, loadEnvironment } from '../spec.js';
import { withStore } from '../store.js';

interface SetOptions {
  env: string;
  weight: string[];
  upstream: string[];
  remove: string[];
  stable?: string;
  canary?: string;
  reason?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerTraffic(program: Command, context: () => CliContext): void {
  const traffic = program
    .command('traffic')
    .description("an environment's routing table: versions, their instances and weights; routers apply changes within milliseconds")
    .addHelpText('after', `
Examples:
  $ promote traffic set --env production --upstream v1=http://127.0.0.1:4001 --weight v1=100
  $ promote traffic set --env production --upstream v2=http://127.0.0.1:4002,http://127.0.0.1:4003 --weight v2=10 --weight v1=90 --canary v2
  $ promote traffic get --env production --json
`);

  traffic
    .command('get')
    .description('show the routing table of an environment')
    .requiredOption('--env <name>', 'the environment')
    .option('--json', 'print as JSON')
    .action(async (options: { env: string; json?: boolean }) => {
      const ctx = context();
      const { spec } = await loadEnvironment(ctx, options.env);
      const stored = await withStore(ctx, (store) => getTraffic(store.pool, spec.app.name, options.env));
      if (options.json) return printJson(ctx.io, stored ?? null);
      if (!stored) return printLine(ctx.io, `${spec.app.name}/${options.env} has no routing table yet: set one with \`promote traffic set\``);
      const config = stored.config as unknown as Omit<TrafficConfig, 'revision'>;
      printLine(ctx.io, `${spec.app.name}/${options.env} revision ${stored.revision}, stable ${config.stable}${config.canary ? `, canary ${config.canary}` : ''}`);
      printTable<VersionTraffic>(ctx.io, config.versions, [
        { header: 'VERSION', value: (row) => row.name },
        { header: 'WEIGHT', value: (row) => `${row.weight}%`, align: 'right' },
        { header: 'UPSTREAMS', value: (row) => row.upstreams.join(', ') },
      ]);
    });

  traffic
    .command('set')
    .description('change the routing table; unmentioned versions keep their instances, and weights must add up to 100')
    .requiredOption('--env <name>', 'the environment')
    .option('--weight <version=percent>', 'a version\'s share of traffic, 0 to 100 (repeatable)', collect, [])
    .option('--upstream <version=url[,url...]>', "a version's instances (repeatable)", collect, [])
    .option('--remove <version>', 'take a version out of the table (repeatable)', collect, [])
    .option('--stable <version>', 'the version overrides naming "stable" reach (default: the current stable, else the heaviest)')
    .option('--canary <version>', 'the version overrides naming "canary" reach')
    .option('--reason <text>', 'why, for the audit trail')
    .option('--json', 'print the new table as JSON')
    .action(async (options: SetOptions) => {
      const ctx = context();
      const { spec, environment } = await loadEnvironment(ctx, options.env);
      const actor = currentActor(ctx);
      const stored = await withStore(ctx, (store) =>
        withTransaction(store.pool, async (db) => {
          await upsertApp(db, { name: spec.app.name, actor });
          await syncEnvironments(db, spec.app.name, spec.environments.map((each) => each.name), actor);
          const current = await getTraffic(db, spec.app.name, options.env);
          const next = nextTable(current?.config as Omit<TrafficConfig, 'revision'> | undefined, options, environment);
          return setTraffic(db, { app: spec.app.name, environment: options.env, config: next, actor, ...(options.reason ? { reason: options.reason } : {}) });
        }),
      );
      if (options.json) return printJson(ctx.io, stored);
      const config = stored.config as unknown as TrafficConfig;
      printLine(ctx.io, `${spec.app.name}/${options.env} revision ${stored.revision}: ${config.versions.map((version) => `${version.name} ${version.weight}%`).join(', ')}`);
    });
}

/** The current table with the command's changes applied, checked the way a router will check it. */
export function nextTable(current: Omit<TrafficConfig, 'revision'> | undefined, options: SetOptions, environment: EnvironmentSpec): Omit<TrafficConfig, 'revision'> {
  const versions = new Map<string, VersionTraffic>((current?.versions ?? []).map((version) => [version.name, { ...version }]));
  for (const name of options.remove) {
    if (!versions.delete(name)) throw new UsageError(`--remove ${name}: no such version in the routing table`);
  }
  for (const text of options.upstream) {
    const [name, urls] = splitAssignment(text, '--upstream', 'version=http://host:port[,http://...]');
    const upstreams = urls.split(',').map((url) => url.trim()).filter(Boolean);
    const existing = versions.get(name);
    versions.set(name, { name, weight: existing?.weight ?? 0, upstreams });
  }
  if (options.weight.length > 0) {
    for (const version of versions.values()) version.weight = 0;
    for (const text of options.weight) {
      const [name, value] = splitAssignment(text, '--weight', 'version=percent');
      const version = versions.get(name);
      if (!version) throw new UsageError(`--weight ${text}: version ${name} has no instances; give them with --upstream ${name}=http://...`);
      const weight = Number(value);
      if (!Number.isFinite(weight)) throw new UsageError(`--weight ${text}: expected a number from 0 to 100`);
      version.weight = weight;
    }
  }
  if (versions.size === 0) throw new UsageError('the routing table would have no version: give one with --upstream and --weight');
  // the canary first: it owns the lowest sticky buckets, so its sticky clients stay while it grows
  const canary = options.canary ?? (current?.canary !== undefined && versions.has(current.canary) ? current.canary : undefined);
  const ordered = [...versions.values()].sort((a, b) => (a.name === canary ? -1 : b.name === canary ? 1 : 0));
  const heaviest = [...ordered].sort((a, b) => b.weight - a.weight)[0]!.name;
  const stable = options.stable ?? (current?.stable !== undefined && versions.has(current.stable) ? current.stable : heaviest);
  const router = environment.router;
  const table: Omit<TrafficConfig, 'revision'> = {
    versions: ordered,
    stable,
    ...(canary ? { canary } : {}),
    ...(router?.sticky ? { sticky: router.sticky } : {}),
    ...(router?.override ? { override: router.override } : {}),
    ...(router?.apiRoutes ? { apiRoutes: router.apiRoutes } : {}),
    ...(router?.mirror ? { mirror: router.mirror } : {}),
  };
  try {
    compileTraffic({ ...table, revision: 1 });
  } catch (error) {
    throw new UsageError(`the routing table would be invalid: ${(error as Error).message}`, { cause: error });
  }
  return table;
}

function splitAssignment(text: string, option: string, expected: string): [string, string] {
  const equals = text.indexOf('=');
  if (equals <= 0) throw new UsageError(`${option} "${text}": expected ${expected}`);
  return [text.slice(0, equals), text.slice(equals + 1)];
}
