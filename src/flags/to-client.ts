/**
 * From the admin format (what people write and the store keeps, `flagSchema`'s output) to Unleash's
 * client format (what SDKs and the evaluator read): segment names become ids, disabled strategies are
 * left out, and "variable" variant weights get their share of what the fixed ones leave.
 */
import type { AdminFlag, AdminVariant } from '../spec/schema-flags.js';
import { VARIANT_WEIGHT_TOTAL, isFixedVariant } from '../spec/schema-flags.js';
import type { ClientFeature, StrategyDefinition, VariantDefinition } from './model.js';

/** No segment has this id: a strategy naming an unknown segment never matches, as in Unleash. */
const MISSING_SEGMENT_ID = -1;

/**
 * Unleash's weights: fixed variants keep theirs; the variable ones split the rest equally, the first
 * ones taking one more when it does not divide evenly, so the weights always add up to the total.
 */
export function clientVariants(variants: readonly AdminVariant[]): VariantDefinition[] {
  const fixedTotal = variants.filter(isFixedVariant).reduce((sum, variant) => sum + (variant.weight ?? 0), 0);
  const variableCount = variants.filter((variant) => !isFixedVariant(variant)).length;
  const rest = Math.max(0, VARIANT_WEIGHT_TOTAL - fixedTotal);
  const share = variableCount === 0 ? 0 : Math.floor(rest / variableCount);
  let leftOver = variableCount === 0 ? 0 : rest - share * variableCount;
  return variants.map((variant) => {
    const fixed = isFixedVariant(variant);
    let weight = variant.weight ?? 0;
    if (!fixed) {
      weight = share + (leftOver > 0 ? 1 : 0);
      leftOver--;
    }
    const definition: VariantDefinition = { name: variant.name, weight, weightType: fixed ? 'fix' : 'variable' };
    if (variant.stickiness !== undefined) definition.stickiness = variant.stickiness;
    if (variant.payload !== undefined) definition.payload = { ...variant.payload };
    if (variant.overrides !== undefined) definition.overrides = variant.overrides.map((override) => ({ contextName: override.contextName, values: [...override.values] }));
    return definition;
  });
}

export function toClientFeature(flag: AdminFlag, segmentIds: ReadonlyMap<string, number>): ClientFeature {
  const strategies: StrategyDefinition[] = (flag.strategies ?? [])
    .filter((strategy) => strategy.disabled !== true)
    .map((strategy) => {
      const definition: StrategyDefinition = { name: strategy.name, parameters: { ...(strategy.parameters ?? {}) }, constraints: (strategy.constraints ?? []).map((constraint) => ({ ...constraint, ...(constraint.values === undefined ? {} : { values: [...constraint.values] }) })) };
      if (strategy.segments !== undefined && strategy.segments.length > 0) definition.segments = strategy.segments.map((name) => segmentIds.get(name) ?? MISSING_SEGMENT_ID);
      if (strategy.variants !== undefined && strategy.variants.length > 0) definition.variants = clientVariants(strategy.variants);
      return definition;
    });
  const feature: ClientFeature = {
    name: flag.name,
    enabled: flag.enabled,
    type: flag.type,
    description: flag.description ?? null,
    impressionData: flag.impressionData ?? false,
    strategies,
    variants: clientVariants(flag.variants ?? []),
  };
  if (flag.dependencies !== undefined && flag.dependencies.length > 0) {
    feature.dependencies = flag.dependencies.map((dependency) => ({ feature: dependency.feature, ...(dependency.enabled === undefined ? {} : { enabled: dependency.enabled }), ...(dependency.variants === undefined ? {} : { variants: [...dependency.variants] }) }));
  }
  return feature;
}
