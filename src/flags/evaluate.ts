/**
 * The flag evaluator: Unleash's semantics (strategies, constraints, segments, variants, strategy
 * variants, dependencies) as a pure, synchronous function over a ruleset compiled once. It runs on
 * applications' request paths, so compiling does all the parsing and an evaluation only reads the
 * context. It never throws: an unknown or broken flag is an answer with reason ERROR and an error code.
 */
import { compileConstraint, type ContextCheck, type RegexCache } from './constraints.js';
import type { ClientRuleset, FlagContext, VariantResult } from './model.js';
import { compileStrategy, strategyMatches, type CompiledStrategy } from './strategies.js';
import { chooseVariant, compileVariants, type CompiledVariants } from './variants.js';

export type EvaluationReason = 'STATIC' | 'TARGETING_MATCH' | 'SPLIT' | 'DISABLED' | 'DEFAULT' | 'ERROR';
export type EvaluationErrorCode = 'FLAG_NOT_FOUND' | 'PARSE_ERROR' | 'TYPE_MISMATCH' | 'GENERAL';

export interface FlagEvaluation {
  flag: string;
  enabled: boolean;
  variant: VariantResult;
  reason: EvaluationReason;
  errorCode?: EvaluationErrorCode;
  errorMessage?: string;
}

interface CompiledDependency {
  feature: string;
  wantEnabled: boolean;
  variants: readonly string[] | undefined;
}

interface CompiledFeature {
  name: string;
  enabled: boolean;
  /** why the flag cannot be evaluated, when its definition is unusable */
  broken: string | undefined;
  strategies: CompiledStrategy[];
  variants: CompiledVariants | undefined;
  dependencies: CompiledDependency[];
}

export interface CompiledRuleset {
  /** every flag in the ruleset, in the order it lists them */
  readonly flagNames: readonly string[];
  /** @internal the evaluator's own; other modules go through evaluateFlag */
  readonly features: ReadonlyMap<string, CompiledFeature>;
}

const OFF: VariantResult = Object.freeze({ name: 'disabled', enabled: false, featureEnabled: false });
const ON_WITHOUT_VARIANT: VariantResult = Object.freeze({ name: 'disabled', enabled: false, featureEnabled: true });

function compileSegments(ruleset: ClientRuleset, regexes: RegexCache): Map<number, ContextCheck[]> {
  const segments = new Map<number, ContextCheck[]>();
  if (!Array.isArray(ruleset.segments)) return segments;
  for (const segment of ruleset.segments as unknown[]) {
    if (segment === null || typeof segment !== 'object') continue;
    const { id, constraints } = segment as Record<string, unknown>;
    if (typeof id !== 'number') continue;
    segments.set(id, Array.isArray(constraints) ? (constraints as unknown[]).map((constraint) => compileConstraint(constraint, regexes)) : []);
  }
  return segments;
}

function compileDependencies(value: unknown): CompiledDependency[] {
  if (!Array.isArray(value)) return [];
  return (value as unknown[]).map((dependency) => {
    const record = (dependency !== null && typeof dependency === 'object' ? dependency : {}) as Record<string, unknown>;
    const variants = Array.isArray(record.variants) && record.variants.length > 0 ? (record.variants as unknown[]).filter((name): name is string => typeof name === 'string') : undefined;
    // A dependency without a parent name can never be satisfied: '' is no flag's name.
    return { feature: typeof record.feature === 'string' ? record.feature : '', wantEnabled: record.enabled !== false, variants };
  });
}

function compileFeature(value: Record<string, unknown>, name: string, segments: ReadonlyMap<number, ContextCheck[]>, regexes: RegexCache): CompiledFeature {
  const strategiesValue = value.strategies ?? [];
  const broken = Array.isArray(strategiesValue) ? undefined : `flag ${name}: strategies is ${typeof strategiesValue}, expected a list`;
  const strategies = Array.isArray(strategiesValue) ? (strategiesValue as unknown[]).filter((strategy) => (strategy as { disabled?: unknown } | null)?.disabled !== true).map((strategy) => compileStrategy(strategy, name, segments, regexes)) : [];
  const firstVariant = Array.isArray(value.variants) ? (value.variants[0] as { stickiness?: unknown } | undefined) : undefined;
  return {
    name,
    enabled: value.enabled === true,
    broken,
    strategies,
    variants: compileVariants(value.variants, name, typeof firstVariant?.stickiness === 'string' ? firstVariant.stickiness : undefined),
    dependencies: compileDependencies(value.dependencies),
  };
}

/** Rulesets come off the wire and from caches: a missing one is an empty one. */
function presentRuleset(ruleset: unknown): ClientRuleset {
  return ruleset !== null && typeof ruleset === 'object' ? (ruleset as ClientRuleset) : { version: 2, features: [] };
}

/** Parses everything an evaluation needs once. Never throws: what cannot be used never matches. */
export function compileRuleset(ruleset: ClientRuleset): CompiledRuleset {
  const regexes: RegexCache = new Map();
  const source = presentRuleset(ruleset);
  const segments = compileSegments(source, regexes);
  const features = new Map<string, CompiledFeature>();
  for (const feature of Array.isArray(source.features) ? (source.features as unknown[]) : []) {
    if (feature === null || typeof feature !== 'object') continue;
    const record = feature as Record<string, unknown>;
    if (typeof record.name !== 'string' || features.has(record.name)) continue;
    features.set(record.name, compileFeature(record, record.name, segments, regexes));
  }
  return { flagNames: [...features.keys()], features };
}

/** What decided a flag is on: the matching strategy, or null for "on with no strategies". */
type Activation = CompiledStrategy | null | undefined;

/** The strategy that turns the flag on (null: on with no strategies), or undefined when it is off. */
function activation(rules: CompiledRuleset, feature: CompiledFeature, context: FlagContext): Activation {
  if (!feature.enabled || feature.broken !== undefined) return undefined;
  if (feature.dependencies.length > 0 && !dependenciesHold(rules, feature, context)) return undefined;
  const strategies = feature.strategies;
  if (strategies.length === 0) return null;
  for (let index = 0; index < strategies.length; index++) {
    if (strategyMatches(strategies[index]!, context)) return strategies[index];
  }
  return undefined;
}

function dependenciesHold(rules: CompiledRuleset, feature: CompiledFeature, context: FlagContext): boolean {
  for (const dependency of feature.dependencies) {
    const parent = rules.features.get(dependency.feature);
    // One level only (Unleash): a parent with parents of its own never satisfies, so no recursion and no cycle.
    if (parent === undefined || parent.dependencies.length > 0) return false;
    const parentActivation = activation(rules, parent, context);
    if (!dependency.wantEnabled) {
      if (parentActivation !== undefined) return false;
      continue;
    }
    if (parentActivation === undefined) return false;
    if (dependency.variants !== undefined && !dependency.variants.includes(variantOf(parent, parentActivation, context).variant.name)) return false;
  }
  return true;
}

function variantOf(feature: CompiledFeature, active: CompiledStrategy | null, context: FlagContext): { variant: VariantResult; split: boolean; override: boolean } {
  if (active?.variants !== undefined) {
    const choice = chooseVariant(active.variants, context);
    if (choice !== undefined) return { variant: choice.result, split: active.variants.isSplit && !choice.override, override: choice.override };
  }
  if (feature.variants !== undefined) {
    const choice = chooseVariant(feature.variants, context);
    if (choice !== undefined) return { variant: choice.result, split: feature.variants.isSplit && !choice.override, override: choice.override };
  }
  return { variant: ON_WITHOUT_VARIANT, split: false, override: false };
}

function failure(flag: string, errorCode: EvaluationErrorCode, errorMessage: string): FlagEvaluation {
  return { flag, enabled: false, variant: OFF, reason: 'ERROR', errorCode, errorMessage };
}

function safeContext(context: FlagContext): FlagContext {
  return context !== null && typeof context === 'object' ? context : {};
}

/** The full answer for one flag: on or off, its variant, and why. */
export function evaluateFlag(rules: CompiledRuleset, name: string, context: FlagContext): FlagEvaluation {
  try {
    const feature = rules.features.get(name);
    if (feature === undefined) return failure(name, 'FLAG_NOT_FOUND', `no flag named ${JSON.stringify(name)}`);
    if (feature.broken !== undefined) return failure(name, 'PARSE_ERROR', feature.broken);
    if (!feature.enabled) return { flag: name, enabled: false, variant: OFF, reason: 'DISABLED' };
    const safe = safeContext(context);
    const active = activation(rules, feature, safe);
    if (active === undefined) return { flag: name, enabled: false, variant: OFF, reason: 'DEFAULT' };
    const { variant, split, override } = variantOf(feature, active, safe);
    const reason: EvaluationReason = override ? 'TARGETING_MATCH' : split ? 'SPLIT' : active === null ? 'STATIC' : active.reason;
    return { flag: name, enabled: true, variant, reason };
  } catch (error) {
    return failure(name, 'GENERAL', error instanceof Error ? error.message : String(error));
  }
}

/** Whether a flag is on for this context; an unknown or broken flag is off. */
export function isEnabled(rules: CompiledRuleset, name: string, context: FlagContext): boolean {
  try {
    const feature = rules.features.get(name);
    return feature !== undefined && activation(rules, feature, safeContext(context)) !== undefined;
  } catch {
    return false;
  }
}

/** Unleash's getVariant: the flag's variant, or the disabled variant (with featureEnabled) when there is none. */
export function getVariant(rules: CompiledRuleset, name: string, context: FlagContext): VariantResult {
  return evaluateFlag(rules, name, context).variant;
}
