/**
 * Variant selection with Unleash's semantics: an override (a context field with one of the listed
 * values) wins; otherwise the stickiness value is hashed with the variant seed into 1..total weight and
 * the variants' weights are walked in order.
 */
import { contextValue, identity, randomIdentifier } from './context-value.js';
import type { FlagContext, VariantPayload, VariantResult } from './model.js';
import { normalizedHash } from './murmur3.js';

/** Unleash's seed for variant hashing, so a user's variant does not follow from their rollout bucket. */
export const VARIANT_SEED = 86028157;

interface CompiledOverride {
  field: string;
  values: ReadonlySet<string>;
}

interface CompiledVariant {
  weight: number;
  overrides: CompiledOverride[];
  /** shared and frozen: every caller that gets this variant gets the same object */
  result: VariantResult;
}

export interface CompiledVariants {
  groupId: string;
  stickiness: string;
  totalWeight: number;
  variants: CompiledVariant[];
  hasOverrides: boolean;
  /** more than one variant can be drawn, so the hash (not the flag's definition) decided */
  isSplit: boolean;
}

export interface VariantChoice {
  result: VariantResult;
  /** chosen by an override rather than by weight */
  override: boolean;
}

function payloadOf(value: unknown): VariantPayload | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { type, value: text } = value as Record<string, unknown>;
  if (typeof type !== 'string' || typeof text !== 'string') return undefined;
  return Object.freeze({ type, value: text });
}

function overridesOf(value: unknown): CompiledOverride[] {
  if (!Array.isArray(value)) return [];
  const overrides: CompiledOverride[] = [];
  for (const override of value as unknown[]) {
    if (override === null || typeof override !== 'object') continue;
    const { contextName, values } = override as Record<string, unknown>;
    if (typeof contextName !== 'string' || !Array.isArray(values)) continue;
    overrides.push({ field: contextName, values: new Set(values.filter((item): item is string => typeof item === 'string')) });
  }
  return overrides;
}

/**
 * A variant list ready to draw from, or undefined when there is nothing to draw (no variants, or no
 * positive weight: Unleash then answers the disabled variant).
 */
export function compileVariants(definitions: unknown, groupId: string, fallbackStickiness: string | undefined): CompiledVariants | undefined {
  if (!Array.isArray(definitions) || definitions.length === 0) return undefined;
  const variants: CompiledVariant[] = [];
  let totalWeight = 0;
  let drawable = 0;
  for (const definition of definitions as unknown[]) {
    if (definition === null || typeof definition !== 'object') continue;
    const record = definition as Record<string, unknown>;
    if (typeof record.name !== 'string') continue;
    const rawWeight = Number(record.weight);
    const weight = Number.isFinite(rawWeight) && rawWeight > 0 ? rawWeight : 0;
    totalWeight += weight;
    if (weight > 0) drawable++;
    const payload = payloadOf(record.payload);
    const result: VariantResult = Object.freeze(
      payload === undefined ? { name: record.name, enabled: true, featureEnabled: true } : { name: record.name, enabled: true, featureEnabled: true, payload },
    );
    variants.push({ weight, overrides: overridesOf(record.overrides), result });
  }
  if (totalWeight <= 0) return undefined;
  const first = definitions[0] as Record<string, unknown> | null;
  const ownStickiness = first !== null && typeof first === 'object' && typeof first.stickiness === 'string' && first.stickiness !== '' ? first.stickiness : undefined;
  return {
    groupId,
    stickiness: ownStickiness ?? fallbackStickiness ?? 'default',
    totalWeight,
    variants,
    hasOverrides: variants.some((variant) => variant.overrides.length > 0),
    isSplit: drawable > 1,
  };
}

/** What a variant draw hashes: the stickiness field, or userId, sessionId, remoteAddress for "default". */
function stickinessValue(context: FlagContext, stickiness: string): string {
  if (stickiness === 'default') {
    return identity(context, 'userId') ?? identity(context, 'sessionId') ?? identity(context, 'remoteAddress') ?? randomIdentifier();
  }
  if (stickiness === 'random') return randomIdentifier();
  const value = contextValue(context, stickiness);
  return value === undefined || value === '' ? randomIdentifier() : value;
}

function findOverride(compiled: CompiledVariants, context: FlagContext): CompiledVariant | undefined {
  for (const variant of compiled.variants) {
    for (const override of variant.overrides) {
      const actual = contextValue(context, override.field);
      if (actual !== undefined && override.values.has(actual)) return variant;
    }
  }
  return undefined;
}

export function chooseVariant(compiled: CompiledVariants, context: FlagContext): VariantChoice | undefined {
  if (compiled.hasOverrides) {
    const overridden = findOverride(compiled, context);
    if (overridden !== undefined) return { result: overridden.result, override: true };
  }
  const target = normalizedHash(stickinessValue(context, compiled.stickiness), compiled.groupId, compiled.totalWeight, VARIANT_SEED);
  let reached = 0;
  for (const variant of compiled.variants) {
    if (variant.weight === 0) continue;
    reached += variant.weight;
    if (reached >= target) return { result: variant.result, override: false };
  }
  return undefined;
}
