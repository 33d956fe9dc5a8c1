import { UsageError } from '../errors.js';
import { checkName, query, rethrow, type Queryable } from '../store/queryable.js';
import type { FlagDefinition } from './store-errors.js';
import { FLAG_COLUMNS, toStoredFlag, type StoredFlag } from './store-flags.js';

export interface StaleFlag {
  flag: StoredFlag;
  /** fully on: everyone gets it; fully off: nobody does */
  state: 'on' | 'off';
  /** how long it has been unchanged, in milliseconds */
  unchangedForMs: number;
}

interface LooseStrategy {
  name?: string;
  parameters?: Record<string, unknown>;
  constraints?: unknown[];
  segments?: unknown[];
  disabled?: boolean;
}

const ROLLOUT_PARAMETER: Record<string, string> = { flexibleRollout: 'rollout', gradualRolloutUserId: 'percentage', gradualRolloutSessionId: 'percentage', gradualRolloutRandom: 'percentage' };

function isUnconditional(strategy: LooseStrategy): boolean {
  return (strategy.constraints ?? []).length === 0 && (strategy.segments ?? []).length === 0;
}

function rolloutOf(strategy: LooseStrategy): number | undefined {
  const parameter = strategy.name ? ROLLOUT_PARAMETER[strategy.name] : undefined;
  if (!parameter) return undefined;
  const value = Number(strategy.parameters?.[parameter]);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Whether the flag gives everyone the same answer, whoever asks: on (enabled, and a strategy applies to
 * everyone: no strategies at all, a `default` without constraints or segments, or a rollout of 100
 * without them), off (disabled, or every strategy disabled or a rollout of 0), or undefined when it
 * still depends on who asks. A flag that depends on another flag is never judged here.
 */
export function uniformState(definition: FlagDefinition): 'on' | 'off' | undefined {
  const loose = definition as { enabled?: boolean; strategies?: LooseStrategy[]; dependencies?: unknown[] };
  if (loose.enabled !== true) return 'off';
  if ((loose.dependencies ?? []).length > 0) return undefined;
  const active = (loose.strategies ?? []).filter((strategy) => strategy.disabled !== true);
  if ((loose.strategies ?? []).length === 0) return 'on';
  if (active.some((strategy) => isUnconditional(strategy) && (strategy.name === 'default' || rolloutOf(strategy) === 100))) return 'on';
  if (active.every((strategy) => rolloutOf(strategy) === 0)) return 'off';
  return undefined;
}

/**
 * Flags unchanged for at least `unchangedForMs` that give everyone the same answer (fully on or fully
 * off): candidates for removal from the code. A flag with a pending scheduled change is not stale.
 */
export async function staleFlags(db: Queryable, options: { app: string; environment?: string; unchangedForMs: number; now?: Date }): Promise<StaleFlag[]> {
  checkName('app', options.app);
  if (options.environment !== undefined) checkName('environment', options.environment);
  if (!Number.isFinite(options.unchangedForMs) || options.unchangedForMs < 0) throw new UsageError(`unchangedFor must be a duration of 0 or more, got ${String(options.unchangedForMs)} ms`);
  const now = options.now ?? new Date();
  const doing = `finding stale flags of ${options.app}${options.environment ? `/${options.environment}` : ''}`;
  try {
    const result = await query<Parameters<typeof toStoredFlag>[0]>(
      db,
      doing,
      `select ${FLAG_COLUMNS} from promote.flags f
        where app = $1 and ($2::text is null or environment = $2) and not archived and updated_at <= $3
          and not exists (select 1 from promote.flag_schedules s where s.app = f.app and s.environment = f.environment and s.flag = f.name and s.status = 'pending')
        order by environment, name`,
      [options.app, options.environment ?? null, new Date(now.getTime() - options.unchangedForMs)],
    );
    return result.rows.flatMap((row) => {
      const flag = toStoredFlag(row);
      const state = uniformState(flag.definition);
      return state ? [{ flag, state, unchangedForMs: now.getTime() - flag.updatedAt.getTime() }] : [];
    });
  } catch (error) {
    rethrow(doing, error);
  }
}
