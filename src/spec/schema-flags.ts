/**
 * Feature flags declared with the app. The model follows Unleash (strategies with parameters and
 * constraints) so flags can be served to Unleash SDKs unchanged.
 */
import { z } from 'zod';
import { expectations, nonEmptyString } from './schema-meta.js';

/** Operators that compare against a list of values. */
const listOperators = ['IN', 'NOT_IN', 'STR_CONTAINS', 'STR_STARTS_WITH', 'STR_ENDS_WITH'] as const;
/** Operators that compare against one value. */
const singleValueOperators = ['NUM_EQ', 'NUM_GT', 'NUM_GTE', 'NUM_LT', 'NUM_LTE', 'DATE_AFTER', 'DATE_BEFORE', 'SEMVER_EQ', 'SEMVER_GT', 'SEMVER_LT', 'REGEX'] as const;
export const constraintOperators = [...listOperators, ...singleValueOperators] as const;

const constraintSchema = z
  .strictObject({
    contextName: nonEmptyString.describe('Context field to test, e.g. userId, environment, appName or a custom property.'),
    operator: z.enum(constraintOperators).describe('Unleash constraint operator.'),
    values: z.array(z.string()).min(1).optional().describe('Values for IN, NOT_IN and the STR_ operators.'),
    value: z.string().optional().describe('Single value for the NUM_, DATE_, SEMVER_ operators and REGEX.'),
    inverted: z.boolean().default(false).describe('Negate the result.'),
    caseInsensitive: z.boolean().default(false).describe('Compare strings ignoring case.'),
  })
  .superRefine((constraint, ctx) => {
    // Unleash silently never matches a constraint whose value is in the wrong field; say so at load time.
    const wantsList = (listOperators as readonly string[]).includes(constraint.operator);
    const wanted = wantsList ? 'values' : 'value';
    const other = wantsList ? 'value' : 'values';
    if (constraint[wanted] === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `operator ${constraint.operator} needs "${wanted}" (${wantsList ? 'a list' : 'one value'})${constraint[other] === undefined ? '' : `, not "${other}"`}`,
      });
    } else if (constraint[other] !== undefined) {
      ctx.addIssue({ code: 'custom', path: [other], message: `operator ${constraint.operator} takes "${wanted}", not "${other}"` });
    }
  })
  .describe('A condition on the evaluation context; all constraints of a strategy must hold.');

const flagStrategySchema = z
  .strictObject({
    name: nonEmptyString.describe('Unleash strategy name, e.g. default, flexibleRollout, userWithId.'),
    parameters: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .optional()
      .describe('Strategy parameters, e.g. rollout, stickiness, groupId.'),
    constraints: z.array(constraintSchema).optional().describe('Conditions that must all hold for the strategy to apply.'),
  })
  .describe('One way the flag can be on for a request (Unleash semantics).');

export const flagSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/)
      .register(expectations, { expected: 'a flag name of letters, digits, ".", "_" and "-" (1 to 100 characters)' })
      .describe('Flag name, unique in this file.'),
    description: z.string().optional().describe('What the flag controls.'),
    type: z.enum(['release', 'experiment', 'operational', 'killSwitch', 'permission']).default('release').describe('Flag type, as in Unleash.'),
    enabled: z.boolean().default(false).describe('Whether the flag is on (subject to its strategies).'),
    strategies: z.array(flagStrategySchema).optional().describe('Activation strategies; the flag is on when any of them applies.'),
  })
  .describe('A feature flag.');
