import type { FlagEvaluation } from './evaluate.js';
import type { ClientRuleset, FlagContext, VariantPayload } from './model.js';

/**
 * How OpenFeature's view of a flag (a typed value, a variant, a reason, an error code) maps onto
 * Unleash's (on/off plus a variant with a payload). Shared by the OFREP server and the SDK's
 * OpenFeature provider, so both answer alike.
 *
 * - A flag without variants is a boolean: its value is whether it is on (variant "on"/"off").
 * - A flag with variants answers its variant's payload, typed by the payload's type (json -> object,
 *   number -> number, anything else -> string); a variant without a payload answers its name (as a
 *   migration flag's stage does).
 * - When such a flag gives no variant (it is off, or no variant applies), the value is whether the flag
 *   is on: boolean callers get that, callers asking for another type get their own default.
 */
export type FlagValue = boolean | string | number | JsonObject | JsonValue[];
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export type ResolutionErrorCode = 'FLAG_NOT_FOUND' | 'PARSE_ERROR' | 'TYPE_MISMATCH' | 'GENERAL';

export type Resolution =
  | { ok: true; value: FlagValue; variant: string; reason: string }
  | { ok: false; errorCode: ResolutionErrorCode; errorDetails: string; variant?: string };

const withVariants = new WeakMap<ClientRuleset, Set<string>>();

/** Names of the flags that carry variants, on the flag or on any strategy. */
function flagsWithVariants(ruleset: ClientRuleset): Set<string> {
  let names = withVariants.get(ruleset);
  if (!names) {
    names = new Set(
      (Array.isArray(ruleset.features) ? ruleset.features : [])
        .filter((feature) => (feature?.variants?.length ?? 0) > 0 || (feature?.strategies ?? []).some((strategy) => (strategy?.variants?.length ?? 0) > 0))
        .map((feature) => feature.name),
    );
    withVariants.set(ruleset, names);
  }
  return names;
}

export function resolve(ruleset: ClientRuleset, evaluation: FlagEvaluation): Resolution {
  if (evaluation.errorCode) return { ok: false, errorCode: evaluation.errorCode, errorDetails: evaluation.errorMessage ?? evaluation.errorCode };
  if (!flagsWithVariants(ruleset).has(evaluation.flag)) return { ok: true, value: evaluation.enabled, variant: evaluation.enabled ? 'on' : 'off', reason: evaluation.reason };
  const { variant } = evaluation;
  if (!variant.enabled) return { ok: true, value: evaluation.enabled, variant: variant.name, reason: evaluation.reason };
  if (!variant.payload) return { ok: true, value: variant.name, variant: variant.name, reason: evaluation.reason };
  const parsed = payloadValue(variant.payload);
  if (!parsed.ok) return { ok: false, errorCode: 'PARSE_ERROR', errorDetails: `flag ${evaluation.flag}, variant ${variant.name}: ${parsed.message}`, variant: variant.name };
  return { ok: true, value: parsed.value, variant: variant.name, reason: evaluation.reason };
}

export function payloadValue(payload: VariantPayload): { ok: true; value: FlagValue } | { ok: false; message: string } {
  const text = String(payload.value);
  if (payload.type === 'number') {
    const number = text.trim() === '' ? Number.NaN : Number(text);
    return Number.isFinite(number) ? { ok: true, value: number } : { ok: false, message: `the number payload ${JSON.stringify(text)} is not a number` };
  }
  if (payload.type === 'json') {
    try {
      const value = JSON.parse(text) as unknown;
      if (value === null || typeof value !== 'object') return { ok: false, message: 'the json payload is not an object or array' };
      return { ok: true, value: value as JsonObject };
    } catch (error) {
      return { ok: false, message: `the json payload does not parse: ${(error as Error).message}` };
    }
  }
  return { ok: true, value: text };
}

/** The type of value a resolution carries, as OpenFeature's typed resolvers name them. */
export function valueType(value: FlagValue): 'boolean' | 'string' | 'number' | 'object' {
  return typeof value === 'boolean' ? 'boolean' : typeof value === 'string' ? 'string' : typeof value === 'number' ? 'number' : 'object';
}

const TOP_LEVEL = new Set(['userId', 'sessionId', 'remoteAddress', 'environment', 'appName']);

/**
 * An OpenFeature evaluation context as an Unleash context. `targetingKey` is the user id (and the
 * session id when there is none), so percentage rollouts stay sticky per targeting key. Other fields
 * become properties; Unleash's properties are flat strings, so numbers, booleans and dates are written
 * as text and a nested object or array is refused naming the field.
 */
export function toFlagContext(input: unknown, defaults: { appName?: string; environment?: string } = {}): { ok: true; context: FlagContext } | { ok: false; message: string } {
  if (input === undefined || input === null) return { ok: true, context: { ...defaults } };
  if (typeof input !== 'object' || Array.isArray(input)) return { ok: false, message: `the context must be an object, got ${Array.isArray(input) ? 'an array' : typeof input}` };
  const context: FlagContext = { ...defaults };
  const properties: Record<string, string> = {};
  const fields = Object.entries(input as Record<string, unknown>);
  for (const [key, raw] of fields) {
    if (raw === undefined || raw === null) continue;
    if (key === 'properties' && typeof raw === 'object' && !Array.isArray(raw) && !(raw instanceof Date)) {
      for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
        if (value === undefined || value === null) continue;
        const text = flatText(value);
        if (text === undefined) return { ok: false, message: `context.properties.${name} must be a string, number, boolean or date (Unleash properties are flat), got ${describe(value)}` };
        properties[name] = text;
      }
      continue;
    }
    const text = flatText(raw);
    if (text === undefined) return { ok: false, message: `context.${key} must be a string, number, boolean or date (Unleash context values are flat), got ${describe(raw)}` };
    if (key === 'targetingKey') continue;
    if (key === 'currentTime') {
      if (Number.isNaN(Date.parse(text))) return { ok: false, message: `context.currentTime must be a date (ISO 8601), got ${JSON.stringify(text)}` };
      context.currentTime = new Date(text).toISOString();
    } else if (TOP_LEVEL.has(key)) {
      context[key] = text;
    } else {
      properties[key] = text;
    }
  }
  const targetingKey = (input as { targetingKey?: unknown }).targetingKey;
  if (targetingKey !== undefined && targetingKey !== null) {
    const key = flatText(targetingKey)!;
    context.userId ??= key;
    context.sessionId ??= key;
  }
  if (Object.keys(properties).length > 0) context.properties = properties;
  return { ok: true, context };
}

function flatText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  return undefined;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'an invalid date';
  return typeof value === 'object' ? 'an object' : typeof value;
}
