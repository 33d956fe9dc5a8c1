/**
 * Activation strategies compiled to checks: Unleash's built-in strategies, with their parameters
 * parsed once. A strategy Promote does not know never matches, as in Unleash's SDKs.
 */
import { identity, contextValue, randomIdentifier } from './context-value.js';
import { compileConstraint, never, type ContextCheck, type RegexCache } from './constraints.js';
import { parseIp, parseIpRange, rangeContains, type IpRange } from './ip.js';
import type { FlagContext } from './model.js';
import { normalizedHash } from './murmur3.js';
import { compileVariants, type CompiledVariants } from './variants.js';

/** How a matching strategy decided, in OpenFeature's reasons. */
export type StrategyReason = 'STATIC' | 'TARGETING_MATCH' | 'SPLIT';

export interface CompiledStrategy {
  /** the strategy's constraints, then its segments' constraints: all must hold */
  conditions: ContextCheck[];
  /** the strategy itself (rollout, user list...) */
  activates: ContextCheck;
  reason: StrategyReason;
  variants: CompiledVariants | undefined;
}

type Parameters = Record<string, unknown>;

function text(parameters: Parameters, name: string): string | undefined {
  const value = parameters[name];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function percentage(parameters: Parameters, name: string): number {
  const value = text(parameters, name);
  return value === undefined || value.trim() === '' ? NaN : Number(value);
}

/** In the rollout when the identifier's bucket (1..100 within the group) is at most the percentage. */
function inRollout(identifier: string, groupId: string, percent: number): boolean {
  return percent > 0 && normalizedHash(identifier, groupId) <= percent;
}

function listParameter(parameters: Parameters, name: string): string[] {
  const value = text(parameters, name);
  return value === undefined ? [] : value.split(/\s*,\s*/).map((item) => item.trim());
}

function rolloutCheck(parameters: Parameters, featureName: string): ContextCheck {
  const rollout = percentage(parameters, 'rollout');
  if (!(rollout > 0)) return never;
  const groupId = text(parameters, 'groupId') || featureName;
  const stickiness = text(parameters, 'stickiness') || 'default';
  switch (stickiness) {
    case 'default':
      return (context) => inRollout(identity(context, 'userId') ?? identity(context, 'sessionId') ?? randomIdentifier(), groupId, rollout);
    case 'random':
      return () => inRollout(randomIdentifier(), groupId, rollout);
    case 'userId':
    case 'sessionId':
      return (context) => {
        const identifier = identity(context, stickiness);
        return identifier !== undefined && inRollout(identifier, groupId, rollout);
      };
    default:
      return (context) => {
        const identifier = contextValue(context, stickiness);
        return identifier !== undefined && identifier !== '' && inRollout(identifier, groupId, rollout);
      };
  }
}

function remoteAddressCheck(parameters: Parameters): ContextCheck {
  const entries = listParameter(parameters, 'IPs').filter((entry) => entry !== '');
  const exact = new Set(entries);
  const ranges = entries.map(parseIpRange).filter((range): range is IpRange => range !== undefined);
  return (context) => {
    const remoteAddress = identity(context, 'remoteAddress');
    if (remoteAddress === undefined) return false;
    if (exact.has(remoteAddress)) return true;
    const address = parseIp(remoteAddress);
    if (address === undefined) return false;
    for (const range of ranges) if (rangeContains(range, address)) return true;
    return false;
  };
}

function activationOf(name: string, parameters: Parameters, featureName: string): { activates: ContextCheck; reason: StrategyReason } {
  switch (name) {
    case 'default':
      return { activates: () => true, reason: 'STATIC' };
    case 'userWithId': {
      const userIds = new Set(listParameter(parameters, 'userIds'));
      return {
        activates: (context) => {
          const userId = identity(context, 'userId');
          return userId !== undefined && userIds.has(userId);
        },
        reason: 'TARGETING_MATCH',
      };
    }
    case 'gradualRolloutUserId':
    case 'gradualRolloutSessionId': {
      const percent = percentage(parameters, 'percentage');
      const groupId = text(parameters, 'groupId') ?? '';
      const field = name === 'gradualRolloutUserId' ? 'userId' : 'sessionId';
      if (!(percent > 0)) return { activates: never, reason: 'SPLIT' };
      return {
        activates: (context) => {
          const identifier = identity(context, field);
          return identifier !== undefined && inRollout(identifier, groupId, percent);
        },
        reason: percent >= 100 ? 'TARGETING_MATCH' : 'SPLIT',
      };
    }
    case 'gradualRolloutRandom': {
      const percent = percentage(parameters, 'percentage');
      return { activates: () => percent >= Math.floor(Math.random() * 100) + 1, reason: percent >= 100 ? 'STATIC' : 'SPLIT' };
    }
    case 'flexibleRollout': {
      const rollout = percentage(parameters, 'rollout');
      const stickiness = text(parameters, 'stickiness') || 'default';
      const needsField = stickiness !== 'default' && stickiness !== 'random';
      return { activates: rolloutCheck(parameters, featureName), reason: rollout < 100 ? 'SPLIT' : needsField ? 'TARGETING_MATCH' : 'STATIC' };
    }
    case 'remoteAddress':
      return { activates: remoteAddressCheck(parameters), reason: 'TARGETING_MATCH' };
    default:
      return { activates: never, reason: 'STATIC' };
  }
}

/**
 * One strategy of a flag. `segments` maps segment ids to their compiled constraints; a strategy that
 * names a segment the ruleset does not have never matches (Unleash's behaviour).
 */
export function compileStrategy(
  strategy: unknown,
  featureName: string,
  segments: ReadonlyMap<number, ContextCheck[]>,
  regexes: RegexCache,
): CompiledStrategy {
  if (strategy === null || typeof strategy !== 'object') return { conditions: [], activates: never, reason: 'STATIC', variants: undefined };
  const record = strategy as Record<string, unknown>;
  const parameters: Parameters = record.parameters !== null && typeof record.parameters === 'object' ? (record.parameters as Parameters) : {};
  const name = typeof record.name === 'string' ? record.name : '';
  const { activates, reason } = activationOf(name, parameters, featureName);
  const conditions: ContextCheck[] = [];
  if (Array.isArray(record.constraints)) for (const constraint of record.constraints as unknown[]) conditions.push(compileConstraint(constraint, regexes));
  if (Array.isArray(record.segments)) {
    for (const id of record.segments as unknown[]) {
      const segment = typeof id === 'number' || typeof id === 'string' ? segments.get(Number(id)) : undefined;
      if (segment === undefined) conditions.push(never);
      else conditions.push(...segment);
    }
  }
  const groupId = text(parameters, 'groupId') || featureName;
  return {
    conditions,
    activates,
    reason: conditions.length > 0 && reason === 'STATIC' ? 'TARGETING_MATCH' : reason,
    variants: compileVariants(record.variants, groupId, text(parameters, 'stickiness') || undefined),
  };
}

export function strategyMatches(strategy: CompiledStrategy, context: FlagContext): boolean {
  const conditions = strategy.conditions;
  for (let index = 0; index < conditions.length; index++) if (!conditions[index]!(context)) return false;
  return strategy.activates(context);
}
