/**
 * Reading facts out of an Unleash context. Contexts come from application code and from the wire, so
 * nothing here assumes a shape: a field is a fact only when it is a string, number or boolean.
 */
import type { FlagContext } from './model.js';

function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return undefined;
}

/**
 * A context field by name: a top-level field (userId, environment...) first, then `properties`, as
 * Unleash's SDKs look it up. Inherited names (`constructor`, `toString`) are functions, never facts.
 */
export function contextValue(context: FlagContext, field: string): string | undefined {
  const direct = asText(context[field]);
  if (direct !== undefined) return direct;
  const properties = context.properties;
  if (properties === null || typeof properties !== 'object') return undefined;
  return asText((properties as Record<string, unknown>)[field]);
}

/** A top-level identity field (userId, sessionId, remoteAddress) when it is set and not empty. */
export function identity(context: FlagContext, field: 'userId' | 'sessionId' | 'remoteAddress'): string | undefined {
  const value = asText(context[field]);
  return value === '' ? undefined : value;
}

/**
 * A stand-in identifier for "random" stickiness and for contexts with nothing to stick to: every call
 * may land in a different bucket, which is what Unleash does for them.
 */
export function randomIdentifier(): string {
  return String(Math.floor(Math.random() * 100_000) + 1);
}
