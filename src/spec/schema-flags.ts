/**
 * Feature flags as people write them (promote.yaml `flags:` and the admin API): one schema, so a flag
 * refused in one place is refused in the other for the same reason. The model is Unleash's admin format
 * (strategies with parameters, constraints, segments by name, variants, dependencies), so flags can be
 * served to Unleash SDKs unchanged. Everything the evaluator would silently treat as "never matches" (a
 * regex RE2 rejects, a version that does not parse, an unknown operator) is refused here instead, with
 * the field and what it expects.
 */
import { RE2JS } from 're2js';
import semver from 'semver';
import { z } from 'zod';
import { findDependencyCycle } from '../flags/dependencies.js';
import { parseIpRange } from '../flags/ip.js';
import { MIGRATION_STAGES, isMigrationStage } from '../flags/migration-stages.js';
import { expectations, nonEmptyString } from './schema-meta.js';

/** Operators that compare against a list of values. */
const listOperators = ['IN', 'NOT_IN', 'STR_CONTAINS', 'STR_STARTS_WITH', 'STR_ENDS_WITH', 'IN_CIDR'] as const;
/** Operators that compare against one value. */
const singleValueOperators = ['NUM_EQ', 'NUM_GT', 'NUM_GTE', 'NUM_LT', 'NUM_LTE', 'DATE_AFTER', 'DATE_BEFORE', 'SEMVER_EQ', 'SEMVER_GT', 'SEMVER_GTE', 'SEMVER_LT', 'SEMVER_LTE', 'REGEX'] as const;
export const constraintOperators = [...listOperators, ...singleValueOperators] as const;

/** The strategies Promote evaluates; any other name would never turn a flag on. */
export const strategyNames = ['default', 'userWithId', 'gradualRolloutUserId', 'gradualRolloutSessionId', 'gradualRolloutRandom', 'flexibleRollout', 'remoteAddress'] as const;

/** Variant weights are out of this total, as in Unleash. */
export const VARIANT_WEIGHT_TOTAL = 1000;

type Issues = z.core.$RefinementCtx;
const addIssue = (ctx: Issues, path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });

/** Why RE2 refuses a pattern, or undefined when it accepts it. */
export function re2Problem(pattern: string, caseInsensitive = false): string | undefined {
  try {
    RE2JS.compile(pattern, caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** What is wrong with `value` for a one-value operator, or undefined when it is right. */
function singleValueProblem(operator: string, value: string): string | undefined {
  if (operator.startsWith('NUM_')) return value.trim() !== '' && Number.isFinite(Number(value)) ? undefined : `expected a number like 42 or 3.5, got ${JSON.stringify(value)}`;
  if (operator.startsWith('DATE_')) {
    return isoDateTime.test(value) && !Number.isNaN(Date.parse(value)) ? undefined : `expected an ISO 8601 date and time like 2030-01-31T12:00:00Z, got ${JSON.stringify(value)}`;
  }
  if (operator.startsWith('SEMVER_')) {
    return semver.valid(value) !== null && !/^[v=\s]/.test(value) ? undefined : `expected a semantic version like 1.2.3 or 2.0.0-rc.1 (no leading "v"), got ${JSON.stringify(value)}`;
  }
  return undefined;
}

export const constraintSchema = z
  .strictObject({
    contextName: nonEmptyString.describe('Context field to test, e.g. userId, environment, appName or a custom property.'),
    operator: z.enum(constraintOperators).describe('Unleash constraint operator.'),
    values: z.array(z.string()).min(1).optional().describe('Values for IN, NOT_IN, IN_CIDR and the STR_ operators.'),
    value: z.string().optional().describe('Single value for the NUM_, DATE_, SEMVER_ operators and REGEX.'),
    inverted: z.boolean().default(false).describe('Negate the result.'),
    caseInsensitive: z.boolean().default(false).describe('Compare strings ignoring case (STR_ operators and REGEX).'),
  })
  .superRefine((constraint, ctx) => {
    // Unleash silently never matches a constraint whose value is in the wrong field; say so on write.
    const wantsList = (listOperators as readonly string[]).includes(constraint.operator);
    const wanted = wantsList ? 'values' : 'value';
    const other = wantsList ? 'value' : 'values';
    if (constraint[wanted] === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `operator ${constraint.operator} needs "${wanted}" (${wantsList ? 'a list' : 'one value'})${constraint[other] === undefined ? '' : `, not "${other}"`}`,
      });
      return;
    }
    if (constraint[other] !== undefined) addIssue(ctx, [other], `operator ${constraint.operator} takes "${wanted}", not "${other}"`);
    if (constraint.operator === 'IN_CIDR') {
      constraint.values?.forEach((value, index) => {
        if (parseIpRange(value) === undefined) addIssue(ctx, ['values', index], `expected an IP address or CIDR range like 10.0.0.0/8 or 2001:db8::/32, got ${JSON.stringify(value)}`);
      });
    } else if (constraint.operator === 'REGEX' && constraint.value !== undefined) {
      const problem = re2Problem(constraint.value, constraint.caseInsensitive);
      if (problem !== undefined) addIssue(ctx, ['value'], `not a regular expression RE2 accepts (RE2 has no lookaround or backreferences): ${problem}`);
    } else if (constraint.value !== undefined) {
      const problem = singleValueProblem(constraint.operator, constraint.value);
      if (problem !== undefined) addIssue(ctx, ['value'], problem);
    }
  })
  .describe('A condition on the evaluation context; all constraints of a strategy must hold.');

const payloadSchema = z
  .strictObject({
    type: z.enum(['string', 'json', 'csv', 'number']).describe('How SDKs read the value.'),
    value: z.string().describe('The payload, as text.'),
  })
  .superRefine((payload, ctx) => {
    if (payload.type === 'number' && (payload.value.trim() === '' || !Number.isFinite(Number(payload.value)))) addIssue(ctx, ['value'], `expected a number for a number payload, got ${JSON.stringify(payload.value)}`);
    if (payload.type === 'json') {
      try {
        JSON.parse(payload.value);
      } catch (error) {
        addIssue(ctx, ['value'], `expected JSON for a json payload: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  })
  .describe('Data handed to the application with the variant.');

export const variantSchema = z
  .strictObject({
    name: nonEmptyString.describe('Variant name, what getVariant returns.'),
    weight: z.number().int().min(0).max(VARIANT_WEIGHT_TOTAL).optional().describe(`Share out of ${VARIANT_WEIGHT_TOTAL}; a "variable" variant without one shares what the fixed ones leave.`),
    weightType: z.enum(['fix', 'variable']).optional().describe('"fix" keeps the weight as written; "variable" (the default without a weight) shares the rest equally.'),
    stickiness: nonEmptyString.optional().describe('Context field that keeps a user on the same variant (default: userId, then sessionId, then remoteAddress).'),
    payload: payloadSchema.optional(),
    overrides: z
      .array(z.strictObject({ contextName: nonEmptyString.describe('Context field.'), values: z.array(z.string()).min(1).describe('Values that get this variant.') }))
      .optional()
      .describe('Context values that always get this variant.'),
  })
  .superRefine((variant, ctx) => {
    if (variant.weightType === 'fix' && variant.weight === undefined) addIssue(ctx, ['weight'], `a "fix" variant needs a weight (0 to ${VARIANT_WEIGHT_TOTAL})`);
  })
  .describe('One variant of a flag or strategy.');

export type AdminVariant = z.output<typeof variantSchema>;

/** A variant is fixed when it says so, or when it has a weight and does not say "variable". */
export const isFixedVariant = (variant: AdminVariant): boolean => variant.weightType === 'fix' || (variant.weightType === undefined && variant.weight !== undefined);

function checkVariants(variants: readonly AdminVariant[], ctx: Issues, path: PropertyKey[]): void {
  const fixedTotal = variants.filter(isFixedVariant).reduce((sum, variant) => sum + (variant.weight ?? 0), 0);
  if (fixedTotal > VARIANT_WEIGHT_TOTAL) addIssue(ctx, path, `the fixed variant weights add up to ${fixedTotal}, above the total of ${VARIANT_WEIGHT_TOTAL}`);
  const seen = new Map<string, number>();
  variants.forEach((variant, index) => {
    const first = seen.get(variant.name);
    if (first !== undefined) addIssue(ctx, [...path, index, 'name'], `duplicate variant name "${variant.name}" (first used at variants[${first}])`);
    else seen.set(variant.name, index);
  });
}

const variantsSchema = z
  .array(variantSchema)
  .superRefine((variants, ctx) => checkVariants(variants, ctx, []))
  .describe(`Variants; fixed weights add up to at most ${VARIANT_WEIGHT_TOTAL}.`);

const percentageParameter: Record<string, string> = { flexibleRollout: 'rollout', gradualRolloutUserId: 'percentage', gradualRolloutSessionId: 'percentage', gradualRolloutRandom: 'percentage' };

const flagStrategySchema = z
  .strictObject({
    name: z.enum(strategyNames).describe('Unleash strategy name, e.g. default, flexibleRollout, userWithId.'),
    parameters: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .optional()
      .describe('Strategy parameters, e.g. rollout, stickiness, groupId (flexibleRollout), userIds, IPs.'),
    constraints: z.array(constraintSchema).optional().describe('Conditions that must all hold for the strategy to apply.'),
    segments: z.array(nonEmptyString).optional().describe('Names of segments whose constraints must hold as well.'),
    variants: variantsSchema.optional().describe('Variants handed out when this strategy turns the flag on (instead of the flag\'s own).'),
    disabled: z.boolean().optional().describe('Keep the strategy but do not use it.'),
  })
  .superRefine((strategy, ctx) => {
    const parameters = strategy.parameters ?? {};
    const percentName = percentageParameter[strategy.name];
    if (percentName !== undefined && parameters[percentName] !== undefined) {
      const value = parameters[percentName];
      const percent = typeof value === 'boolean' || (typeof value === 'string' && value.trim() === '') ? NaN : Number(value);
      if (!(percent >= 0 && percent <= 100)) addIssue(ctx, ['parameters', percentName], `expected a percentage from 0 to 100, got ${JSON.stringify(value)}`);
    }
    if (strategy.name === 'remoteAddress') {
      const ips = parameters.IPs;
      if (typeof ips !== 'string' || ips.trim() === '') addIssue(ctx, ['parameters', 'IPs'], 'remoteAddress needs IPs: a comma-separated list of addresses or CIDR ranges');
      else for (const entry of ips.split(',').map((item) => item.trim())) if (parseIpRange(entry) === undefined) addIssue(ctx, ['parameters', 'IPs'], `expected IP addresses or CIDR ranges like 10.0.0.0/8, got ${JSON.stringify(entry)}`);
    }
    if (strategy.name === 'userWithId' && (typeof parameters.userIds !== 'string' || parameters.userIds.trim() === '')) addIssue(ctx, ['parameters', 'userIds'], 'userWithId needs userIds: a comma-separated list of user ids');
  })
  .describe('One way the flag can be on for a request (Unleash semantics).');

const dependencySchema = z
  .strictObject({
    feature: nonEmptyString.describe('The parent flag.'),
    enabled: z.boolean().optional().describe('true (default): the parent must be on; false: it must be off.'),
    variants: z.array(nonEmptyString).optional().describe('When set, the parent\'s variant must be one of these.'),
  })
  .describe('A flag this flag depends on (one level: the parent cannot depend on another flag).');

export const flagTypes = ['release', 'experiment', 'operational', 'killSwitch', 'permission', 'migration'] as const;

export const flagSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/)
      .register(expectations, { expected: 'a flag name of letters, digits, ".", "_" and "-" (1 to 100 characters)' })
      .describe('Flag name, unique in this file.'),
    description: z.string().optional().describe('What the flag controls.'),
    type: z.enum(flagTypes).default('release').describe(`Flag type, as in Unleash; "migration" flags have the stages ${MIGRATION_STAGES.join(', ')} as variants.`),
    enabled: z.boolean().default(false).describe('Whether the flag is on (subject to its strategies).'),
    impressionData: z.boolean().optional().describe('Ask SDKs to emit an impression event for each evaluation.'),
    strategies: z.array(flagStrategySchema).optional().describe('Activation strategies; the flag is on when any of them applies.'),
    variants: variantsSchema.optional().describe('Variants of the flag, used when the matching strategy has none.'),
    dependencies: z.array(dependencySchema).optional().describe('Flags that must be on (or off) for this one to be on.'),
    safeguards: z
      .strictObject({
        templates: z.array(nonEmptyString).min(1).describe('Analysis templates (threshold judges) from `analysis.templates`.'),
      })
      .optional()
      .describe('Judge every change of the enabled flag with these analysis templates and turn the flag off when they fail, with or without a rollout under way.'),
  })
  .superRefine((flag, ctx) => {
    flag.dependencies?.forEach((dependency, index) => {
      if (dependency.feature === flag.name) addIssue(ctx, ['dependencies', index, 'feature'], `flag ${flag.name} cannot depend on itself`);
    });
    if (flag.type !== 'migration') return;
    const variantLists: { variants: AdminVariant[]; path: PropertyKey[] }[] = [];
    if (flag.variants !== undefined) variantLists.push({ variants: flag.variants, path: ['variants'] });
    flag.strategies?.forEach((strategy, index) => {
      if (strategy.variants !== undefined) variantLists.push({ variants: strategy.variants, path: ['strategies', index, 'variants'] });
    });
    if (variantLists.every((list) => list.variants.length === 0)) addIssue(ctx, ['variants'], `a migration flag needs its stage as a variant: one of ${MIGRATION_STAGES.join(', ')}`);
    for (const list of variantLists) {
      list.variants.forEach((variant, index) => {
        if (!isMigrationStage(variant.name)) addIssue(ctx, [...list.path, index, 'name'], `a migration flag's variants are its stages: expected one of ${MIGRATION_STAGES.join(', ')}, got "${variant.name}"`);
      });
    }
  })
  .describe('A feature flag.');

export type AdminFlag = z.output<typeof flagSchema>;

/**
 * The flags of one file or environment, checked together: dependencies must not form a cycle, and a
 * parent must not have parents of its own (Unleash evaluates one level; a deeper chain is always off).
 */
export const flagListSchema = z.array(flagSchema).superRefine((flags, ctx) => {
  const cycle = findDependencyCycle(flags);
  if (cycle !== undefined) {
    const index = flags.findIndex((flag) => flag.name === cycle[0]);
    addIssue(ctx, [index, 'dependencies'], `flags depend on each other in a cycle: ${cycle.join(' -> ')}`);
    return;
  }
  const byName = new Map(flags.map((flag) => [flag.name, flag]));
  flags.forEach((flag, index) => {
    flag.dependencies?.forEach((dependency, position) => {
      const parentsParent = byName.get(dependency.feature)?.dependencies?.[0]?.feature;
      if (parentsParent !== undefined) {
        addIssue(ctx, [index, 'dependencies', position, 'feature'], `${dependency.feature} depends on ${parentsParent} itself; a parent flag cannot have parents (Unleash evaluates one level, so ${flag.name} would always be off)`);
      }
    });
  });
});
