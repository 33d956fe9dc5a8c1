/**
 * Checks a dual writer's options when it is created, so a wiring mistake fails at start-up with the
 * field named rather than on the first write of a request.
 */
import { PromoteError } from '../errors.js';
import { EXPERIMENT_NAME } from './experiment.js';
import { DEFAULT_OUTBOX_TABLE, outboxNames, type OutboxNames } from './outbox-steps.js';

export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_RETRIES = 3;

export interface CheckedOptions {
  names: OutboxNames;
  table: string;
  timeoutMs: number;
  retries: number;
}

/** `options` is whatever the app passed (typed loosely on purpose: JavaScript callers are checked too). */
export function checkDualWriteOptions(options: Record<string, unknown> | undefined): CheckedOptions {
  const fail = (message: string): never => {
    const name = options !== undefined && typeof options.name === 'string' ? ` "${options.name}"` : '';
    throw new PromoteError(`createDualWriter${name}: ${message}`);
  };
  if (options === undefined || options === null || typeof options !== 'object') return fail('options are required');
  if (typeof options.name !== 'string' || !EXPERIMENT_NAME.test(options.name)) {
    fail(`name must match ${String(EXPERIMENT_NAME)} (it names the metrics and the outbox stream); got ${JSON.stringify(options.name)}`);
  }
  if (typeof options.flag !== 'string' || options.flag === '') fail('flag must be the name of a migration flag');
  const flags = options.flags as { migrationStage?: unknown } | undefined;
  if (typeof flags?.migrationStage !== 'function') fail('flags must be a flags client (an object with migrationStage(name, context))');
  const side = (which: 'legacy' | 'next') => {
    const value = options[which] as Record<string, unknown> | undefined;
    if (value === undefined || value === null || typeof value !== 'object') return fail(`${which} must be an object with write(client, …) and read(client, key)`);
    for (const method of ['write', 'read']) {
      if (typeof value[method] !== 'function') fail(`${which}.${method} must be a function`);
    }
    const pool = value.pool as { connect?: unknown } | undefined;
    if (which === 'legacy' ? typeof pool?.connect !== 'function' : pool !== undefined && typeof pool?.connect !== 'function') {
      fail(`${which}.pool must be a pg.Pool${which === 'next' ? ' (or absent: one database)' : ''}`);
    }
  };
  side('legacy');
  side('next');
  if (typeof options.translate !== 'function') fail('translate must be a function from the write input to the next row');
  if (options.compare !== undefined && typeof options.compare !== 'function') fail('compare must be a function (legacy, next) => boolean');
  const experimenter = options.experimenter as { run?: unknown } | undefined;
  if (experimenter !== undefined && typeof experimenter?.run !== 'function') fail('experimenter must be an Experimenter (createExperimenter())');
  const table = options.outboxTable ?? DEFAULT_OUTBOX_TABLE;
  let names: OutboxNames | undefined;
  try {
    names = outboxNames(table as string, 'outboxTable');
  } catch (error) {
    fail((error as Error).message);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) fail(`timeoutMs must be a positive number of milliseconds, got ${String(options.timeoutMs)}`);
  const retries = options.retries ?? DEFAULT_RETRIES;
  if (typeof retries !== 'number' || !Number.isSafeInteger(retries) || retries < 0) fail(`retries must be a whole number >= 0, got ${String(options.retries)}`);
  return { names: names!, table: table as string, timeoutMs: timeoutMs as number, retries: retries as number };
}
