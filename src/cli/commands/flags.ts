import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { LineCounter, parseDocument } from 'yaml';
import { UsageError } from '../../errors.js';
import type { FlagScope } from '../../flags/source.js';
import {
  archiveFlag,
  cancelSchedule,
  disableFlag,
  enableFlag,
  flagHistory,
  FlagValidationError,
  getFlag,
  listFlags,
  listSchedules,
  putFlag,
  requireFlag,
  scheduleFlagChange,
  setFlagRollout,
  setVariantWeights,
  staleFlags,
  type FlagChange,
  type FlagSchedule,
  type FlagWrite,
  type StoredFlag,
} from '../../flags/store.js';
import { checkDuration, formatDuration } from '../../spec/duration.js';
import type { PathSegment } from '../../spec/index.js';
import { locate } from '../../spec/locate.js';
import { syncEnvironments, upsertApp } from '../../store/index.js';
import type { CliContext } from '../io.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import { currentActor, loadConfig } from '../spec.js';
import { withStore } from '../store.js';

interface ScopeOptions {
  app?: string;
  env: string;
  json?: boolean;
}

interface ChangeCliOptions extends ScopeOptions {
  reason?: string;
  expectedVersion?: number;
}

const wholeNumber = (option: string) => (value: string) => {
  if (!/^\d+$/.test(value)) throw new UsageError(`${option} must be a whole number, got "${value}"`);
  return Number(value);
};

/** --app, else promote.yaml's app: flags can be managed for any recorded app, with or without its file. */
async function scopeOf(ctx: CliContext, options: ScopeOptions): Promise<FlagScope> {
  const app = options.app ?? (await loadConfig(ctx)).spec.app.name;
  return { app, environment: options.env };
}

function changeOptions(ctx: CliContext, options: ChangeCliOptions) {
  return { actor: currentActor(ctx), ...(options.reason !== undefined ? { reason: options.reason } : {}), ...(options.expectedVersion !== undefined ? { expectedVersion: options.expectedVersion } : {}) };
}

function describeStrategies(flag: StoredFlag): string {
  const strategies = (flag.definition.strategies ?? []).filter((strategy) => strategy.disabled !== true);
  if (strategies.length === 0) return flag.definition.enabled ? 'everyone' : '';
  return strategies
    .map((strategy) => {
      const rollout = strategy.parameters?.rollout ?? strategy.parameters?.percentage;
      const conditions = (strategy.constraints?.length ?? 0) + (strategy.segments?.length ?? 0);
      return `${strategy.name}${rollout !== undefined ? ` ${String(rollout)}%` : ''}${conditions > 0 ? ` (${conditions} condition${conditions === 1 ? '' : 's'})` : ''}`;
    })
    .join(', ');
}

function printWrite(ctx: CliContext, options: ScopeOptions, written: FlagWrite): void {
  if (options.json) return printJson(ctx.io, written);
  const where = `${written.flag.app}/${written.flag.environment}`;
  if (!written.change) return printLine(ctx.io, `flag ${written.flag.name} of ${where} unchanged (version ${written.flag.version})`);
  printLine(ctx.io, `flag ${written.flag.name} of ${where} ${written.change.action}: version ${written.flag.version}${written.change.diff.length > 0 && written.change.diff[0] !== '' ? `, changed ${written.change.diff.join(', ')}` : ''}`);
}

/** `at` is an ISO time, or a duration from now (`2h`, `30m`). */
function parseWhen(text: string): Date {
  const duration = checkDuration(text);
  if (duration.ok) return new Date(Date.now() + duration.ms);
  const time = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(time.getTime())) throw new UsageError(`--at "${text}" is not a time: expected an ISO time like 2026-05-01T09:00:00Z, or a duration from now like 2h`);
  return time;
}

function parseWeights(pairs: readonly string[]): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const pair of pairs.flatMap((each) => each.split(','))) {
    const match = /^([^=\s]+)=(\d+)$/.exec(pair.trim());
    if (!match) throw new UsageError(`variant weight "${pair}" is not valid: expected name=weight, weights out of 1000 (blue=500)`);
    weights[match[1]!] = Number(match[2]);
  }
  if (Object.keys(weights).length === 0) throw new UsageError('name at least one variant=weight');
  return weights;
}

/**
 * The flags in a YAML or JSON file: one flag, a list, or a document with `flags:` (a promote.yaml).
 * Each comes with its path in the document, so a problem is reported at its line.
 */
export function flagsInDocument(text: string, shown: string): Array<{ flag: unknown; path: PathSegment[] }> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) {
    const first = document.errors[0]!;
    const position = lineCounter.linePos(first.pos[0]);
    throw new UsageError(`${shown}:${position.line}:${position.col} is not valid YAML or JSON: ${first.message.split('\n')[0]!}`);
  }
  const data: unknown = document.toJS();
  if (Array.isArray(data)) return (data as unknown[]).map((flag, index) => ({ flag, path: [index] }));
  if (typeof data === 'object' && data !== null && Array.isArray((data as { flags?: unknown }).flags)) {
    return ((data as { flags: unknown[] }).flags).map((flag, index) => ({ flag, path: ['flags', index] }));
  }
  if (typeof data === 'object' && data !== null) return [{ flag: data, path: [] }];
  throw new UsageError(`${shown} holds no flag: expected a flag (name, enabled, strategies, ...), a list of flags, or flags: [...]`);
}

async function readInput(ctx: CliContext, file: string): Promise<{ text: string; shown: string }> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return { text: Buffer.concat(chunks).toString('utf8'), shown: '<stdin>' };
  }
  const path = resolve(ctx.io.cwd, file);
  const shown = relative(ctx.io.cwd, path) || path;
  try {
    return { text: await readFile(path, 'utf8'), shown };
  } catch (error) {
    throw new UsageError(`cannot read ${shown}: ${(error as Error).message}`);
  }
}

export function registerFlags(program: Command, context: () => CliContext): void {
  const flags = program
    .command('flags')
    .description('feature flags per environment: list, change, roll out, schedule, and find the stale ones; every change is recorded with who and why')
    .addHelpText('after', `
Examples:
  $ promote flags sync                                   create the flags of promote.yaml where they are missing
  $ promote flags list --env production
  $ promote flags rollout new-checkout 25 --env production --reason "error rate flat at 10%"
  $ promote flags set checkout.yaml --env staging
  $ promote flags schedule new-checkout enable --at 2026-05-01T09:00:00Z --env production
  $ promote flags stale --unchanged-for 30d
`);
  const scoped = (command: Command) => command.requiredOption('--env <name>', 'the environment').option('--app <name>', "the app (default: promote.yaml's)").option('--json', 'print as JSON');
  const changing = (command: Command) => scoped(command).option('--reason <text>', 'why, for the history and the audit trail').option('--expected-version <n>', 'refuse the change if the flag is no longer at this version', wholeNumber('--expected-version'));

  scoped(flags.command('list').description("an environment's flags").option('--archived', 'include archived flags')).action(async (options: ScopeOptions & { archived?: boolean }) => {
    const ctx = context();
    const scope = await scopeOf(ctx, options);
    const found = await withStore(ctx, (store) => listFlags(store.pool, scope, { includeArchived: options.archived === true }));
    if (options.json) return printJson(ctx.io, found);
    if (found.length === 0) return printLine(ctx.io, `${scope.app}/${scope.environment} has no flags yet: create them with \`promote flags sync\` or \`promote flags set <file>\``);
    printTable<StoredFlag>(ctx.io, found, [
      { header: 'NAME', value: (row) => row.name + (row.archived ? ' (archived)' : '') },
      { header: 'ON', value: (row) => (row.definition.enabled ? 'yes' : 'no') },
      { header: 'TYPE', value: (row) => row.definition.type },
      { header: 'FOR', value: describeStrategies },
      { header: 'VERSION', value: (row) => String(row.version), align: 'right' },
      { header: 'UPDATED', value: (row) => formatTime(row.updatedAt) },
      { header: 'BY', value: (row) => row.updatedBy },
    ]);
  });

  scoped(flags.command('get').description('one flag as stored, with its version').argument('<name>', 'the flag')).action(async (name: string, options: ScopeOptions) => {
    const ctx = context();
    const scope = await scopeOf(ctx, options);
    const flag = await withStore(ctx, (store) => requireFlag(store.pool, scope, name, { allowArchived: true }));
    if (options.json) return printJson(ctx.io, flag);
    printLine(ctx.io, `flag ${flag.name} of ${scope.app}/${scope.environment}: ${flag.definition.enabled ? 'on' : 'off'}${flag.archived ? ', archived' : ''}, version ${flag.version}, changed ${formatTime(flag.updatedAt)} by ${flag.updatedBy}`);
    printLine(ctx.io, JSON.stringify(flag.definition, null, 2));
  });

  changing(flags.command('set').description('create or replace flags from a YAML or JSON file (one flag, a list, or flags: [...]); - reads stdin').argument('<file>', 'the file, or - for stdin')).action(async (file: string, options: ChangeCliOptions) => {
    const ctx = context();
    const scope = await scopeOf(ctx, options);
    const { text, shown } = await readInput(ctx, file);
    const entries = flagsInDocument(text, shown);
    const written = await withStore(ctx, async (store) => {
      const results: FlagWrite[] = [];
      for (const entry of entries) {
        try {
          results.push(await putFlag(store.pool, scope, entry.flag, changeOptions(ctx, options)));
        } catch (error) {
          if (!(error instanceof FlagValidationError)) throw error;
          const lineCounter = new LineCounter();
          const document = parseDocument(text, { lineCounter });
          const lines = error.problems.map((problem) => {
            const { line, column } = locate(document, lineCounter, [...entry.path, ...problem.path], problem.pointAt);
            return `  ${shown}:${line}:${column} ${problem.field === '' ? '' : `${problem.field}: `}${problem.message}`;
          });
          throw new UsageError(`${error.message.split(' is not valid')[0]!} in ${shown} is not valid${results.length > 0 ? ` (the ${results.length} flag${results.length === 1 ? '' : 's'} before it ${results.length === 1 ? 'was' : 'were'} saved)` : ''}:\n${lines.join('\n')}`, { cause: error });
        }
      }
      return results;
    });
    if (options.json) return printJson(ctx.io, written.length === 1 ? written[0] : written);
    for (const each of written) printWrite(ctx, options, each);
  });

  for (const [verb, description] of [['enable', 'turn a flag on'], ['disable', 'turn a flag off (the kill switch)'], ['archive', 'archive a flag: SDKs no longer see it, its history stays']] as const) {
    changing(flags.command(verb).description(description).argument('<name>', 'the flag')).action(async (name: string, options: ChangeCliOptions) => {
      const ctx = context();
      const scope = await scopeOf(ctx, options);
      const change = verb === 'enable' ? enableFlag : verb === 'disable' ? disableFlag : archiveFlag;
      printWrite(ctx, options, await withStore(ctx, (store) => change(store.pool, scope, name, changeOptions(ctx, options))));
    });
  }

  changing(flags.command('rollout').description("set the percentage of a flag's gradual rollout (flexibleRollout, added when missing)").argument('<name>', 'the flag').argument('<percent>', '0 to 100', wholeNumber('percent'))).action(
    async (name: string, percent: number, options: ChangeCliOptions) => {
      const ctx = context();
      const scope = await scopeOf(ctx, options);
      printWrite(ctx, options, await withStore(ctx, (store) => setFlagRollout(store.pool, scope, name, percent, changeOptions(ctx, options))));
    },
  );

  changing(flags.command('variants').description('set variant weights out of 1000; unnamed variants keep theirs').argument('<name>', 'the flag').argument('<weights...>', 'name=weight, e.g. blue=500 green=500')).action(
    async (name: string, pairs: string[], options: ChangeCliOptions) => {
      const ctx = context();
      const scope = await scopeOf(ctx, options);
      const weights = parseWeights(pairs);
      printWrite(ctx, options, await withStore(ctx, (store) => setVariantWeights(store.pool, scope, name, weights, changeOptions(ctx, options))));
    },
  );

  scoped(flags.command('history').description("a flag's changes, newest first: who, when, why and what changed").argument('<name>', 'the flag').option('--limit <n>', 'how many', wholeNumber('--limit'), 50)).action(
    async (name: string, options: ScopeOptions & { limit: number }) => {
      const ctx = context();
      const scope = await scopeOf(ctx, options);
      const history = await withStore(ctx, (store) => flagHistory(store.pool, scope, name, { limit: options.limit }));
      if (options.json) return printJson(ctx.io, history);
      if (history.length === 0) return printLine(ctx.io, `flag ${name} of ${scope.app}/${scope.environment} has no history`);
      printTable<FlagChange>(ctx.io, history, [
        { header: 'WHEN', value: (row) => formatTime(row.createdAt) },
        { header: 'VERSION', value: (row) => String(row.version ?? ''), align: 'right' },
        { header: 'ACTION', value: (row) => row.action + (row.scheduleId ? ` (schedule #${row.scheduleId})` : '') },
        { header: 'BY', value: (row) => row.actor },
        { header: 'CHANGED', value: (row) => row.diff.filter((path) => path !== '').join(', ') },
        { header: 'WHY', value: (row) => row.reason ?? '' },
      ]);
    },
  );

  flags
    .command('stale')
    .description('flags unchanged for a while that are fully on or fully off: remove them from the code')
    .option('--env <name>', 'only this environment (default: all)')
    .option('--app <name>', "the app (default: promote.yaml's)")
    .option('--unchanged-for <duration>', 'how long unchanged', '30d')
    .option('--json', 'print as JSON')
    .action(async (options: { env?: string; app?: string; unchangedFor: string; json?: boolean }) => {
      const ctx = context();
      const duration = checkDuration(options.unchangedFor);
      if (!duration.ok) throw new UsageError(`--unchanged-for: ${duration.problem}`);
      const app = options.app ?? (await loadConfig(ctx)).spec.app.name;
      const stale = await withStore(ctx, (store) => staleFlags(store.pool, { app, unchangedForMs: duration.ms, ...(options.env ? { environment: options.env } : {}) }));
      if (options.json) return printJson(ctx.io, stale);
      if (stale.length === 0) return printLine(ctx.io, `no flag of ${app} has been fully on or off and unchanged for ${options.unchangedFor}`);
      printTable(ctx.io, stale, [
        { header: 'ENVIRONMENT', value: (row) => row.flag.environment },
        { header: 'FLAG', value: (row) => row.flag.name },
        { header: 'STATE', value: (row) => `fully ${row.state}` },
        { header: 'UNCHANGED FOR', value: (row) => formatDuration(Math.floor(row.unchangedForMs / 86_400_000) * 86_400_000 || Math.floor(row.unchangedForMs / 1000) * 1000) },
      ]);
    });

  const schedule = changing(
    flags
      .command('schedule')
      .description('change a flag at a later time: enable, disable, rollout <percent>, variants <name=weight...> or archive; --list shows the schedules, --cancel <id> cancels one')
      .argument('[name]', 'the flag')
      .argument('[action]', 'enable, disable, rollout, variants or archive')
      .argument('[values...]', 'the percent for rollout; name=weight pairs for variants')
      .option('--at <when>', 'an ISO time (2026-05-01T09:00:00Z) or a duration from now (2h)')
      .option('--list', 'list the scheduled changes of the environment')
      .option('--cancel <id>', 'cancel a pending scheduled change', wholeNumber('--cancel')),
  );
  schedule.action(async (name: string | undefined, action: string | undefined, values: string[], options: ChangeCliOptions & { at?: string; list?: boolean; cancel?: number }) => {
    const ctx = context();
    const scope = await scopeOf(ctx, options);
    if (options.list) {
      const schedules = await withStore(ctx, (store) => listSchedules(store.pool, scope, name ? { flag: name } : {}));
      if (options.json) return printJson(ctx.io, schedules);
      if (schedules.length === 0) return printLine(ctx.io, `${scope.app}/${scope.environment} has no scheduled flag changes`);
      printTable<FlagSchedule>(ctx.io, schedules, [
        { header: 'ID', value: (row) => String(row.id), align: 'right' },
        { header: 'AT', value: (row) => formatTime(row.applyAt) },
        { header: 'FLAG', value: (row) => row.flag },
        { header: 'CHANGE', value: (row) => describeChange(row.change) },
        { header: 'STATUS', value: (row) => row.status + (row.error ? `: ${row.error}` : '') },
        { header: 'BY', value: (row) => row.createdBy },
      ]);
      return;
    }
    if (options.cancel !== undefined) {
      const cancelled = await withStore(ctx, (store) => cancelSchedule(store.pool, scope, options.cancel!, changeOptions(ctx, options)));
      return options.json ? printJson(ctx.io, cancelled) : printLine(ctx.io, `scheduled change #${cancelled.id} of flag ${cancelled.flag} cancelled`);
    }
    if (!name || !action) throw new UsageError('name the flag and the change: promote flags schedule <name> <enable|disable|rollout <percent>|variants <name=weight...>|archive> --at <when>');
    if (!options.at) throw new UsageError('--at is required: an ISO time or a duration from now (2h)');
    const change = action === 'rollout' ? { action, percent: wholeNumber('the rollout percent')(values[0] ?? '') } : action === 'variants' ? { action, weights: parseWeights(values) } : { action };
    const created = await withStore(ctx, (store) => scheduleFlagChange(store.pool, scope, { flag: name, applyAt: parseWhen(options.at!), change, actor: currentActor(ctx), ...(options.reason ? { reason: options.reason } : {}) }));
    if (options.json) return printJson(ctx.io, created);
    printLine(ctx.io, `scheduled change #${created.id}: ${describeChange(created.change)} flag ${created.flag} of ${scope.app}/${scope.environment} at ${formatTime(created.applyAt)}; a running controller (\`promote server\` or \`promote controller\`) applies it`);
  });

  flags
    .command('sync')
    .description('create the flags of promote.yaml in every environment where they do not exist yet; never overwrites a flag the store has')
    .option('--reason <text>', 'why, for the history', 'declared in promote.yaml')
    .option('--json', 'print as JSON')
    .action(async (options: { reason: string; json?: boolean }) => {
      const ctx = context();
      const { spec } = await loadConfig(ctx);
      const declared = spec.flags ?? [];
      const report = await withStore(ctx, async (store) => {
        await upsertApp(store.pool, { name: spec.app.name, actor: currentActor(ctx) });
        await syncEnvironments(store.pool, spec.app.name, spec.environments.map((each) => each.name), currentActor(ctx));
        const created: Array<{ environment: string; flag: string }> = [];
        const kept: Array<{ environment: string; flag: string; version: number; archived: boolean }> = [];
        for (const environment of spec.environments.map((each) => each.name)) {
          const scope = { app: spec.app.name, environment };
          for (const flag of declared) {
            const existing = await getFlag(store.pool, scope, flag.name);
            if (existing) {
              kept.push({ environment, flag: flag.name, version: existing.version, archived: existing.archived });
              continue;
            }
            // expectedVersion 0: a flag someone creates meanwhile is theirs, not overwritten
            await putFlag(store.pool, scope, flag, { actor: currentActor(ctx), reason: options.reason, expectedVersion: 0 });
            created.push({ environment, flag: flag.name });
          }
        }
        return { created, kept };
      });
      if (options.json) return printJson(ctx.io, report);
      if (declared.length === 0) return printLine(ctx.io, `promote.yaml declares no flags for ${spec.app.name}`);
      for (const each of report.created) printLine(ctx.io, `created ${each.environment}/${each.flag}`);
      for (const each of report.kept) printLine(ctx.io, `left ${each.environment}/${each.flag} as the store has it (version ${each.version}${each.archived ? ', archived' : ''})`);
      printLine(ctx.io, `${report.created.length} created, ${report.kept.length} left as they are`);
    });
}

function describeChange(change: FlagSchedule['change']): string {
  switch (change.action) {
    case 'rollout':
      return `rollout ${change.percent}%`;
    case 'variants':
      return `variants ${Object.entries(change.weights).map(([name, weight]) => `${name}=${weight}`).join(' ')}`;
    case 'put':
      return 'replace';
    default:
      return change.action;
  }
}
