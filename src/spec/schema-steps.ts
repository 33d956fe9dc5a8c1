/**
 * Rollout steps. Each step is a one-key object (`setWeight: 10`, `pause: {}`), as in Argo Rollouts.
 * A union of nine object schemas would answer a typo with nine failed alternatives, so a step is one
 * strict object whose keys are all optional, preceded by a check that names the unknown or extra key.
 */
import { z } from 'zod';
import { durationSchema } from './duration.js';
import { exactlyOneOf, exactlyOneOfJsonSchema, expectations, jsonPathSchema, nameSchema, nonEmptyString } from './schema-meta.js';
import { didYouMean } from './suggest.js';

export const stepKinds = ['migrate', 'test', 'setWeight', 'pause', 'analysis', 'setFlag', 'approval', 'verify', 'promote'] as const;
export type StepKind = (typeof stepKinds)[number];

const migrationPhase = z.enum(['expand', 'contract']).describe('expand adds the new shape while the old app still works; contract removes the old shape.');

const migrateStepSchema = z
  .union([
    migrationPhase,
    z
      .strictObject({
        phase: migrationPhase,
        migrations: z.array(nonEmptyString).min(1).optional().describe('Only these migrations (by name); all pending ones when omitted.'),
      })
      .describe('The phase, optionally limited to some migrations.'),
  ])
  .transform((step) => (typeof step === 'string' ? { phase: step } : step))
  .describe('Apply database migrations: `migrate: expand` before traffic moves, `migrate: contract` once the old version is gone.');

const httpCheckSchema = z
  .strictObject({
    path: z.string().startsWith('/').describe('Request path on the candidate version, e.g. /healthz.'),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET').describe('HTTP method.'),
    expectStatus: z.number().int().min(100).max(599).default(200).describe('The status code that means success.'),
    body: z.string().optional().describe('Request body to send.'),
    headers: z.record(z.string(), z.string()).optional().describe('Request headers to send.'),
    expectBody: z.string().optional().describe('Text the response body must contain.'),
    expectJson: z.record(jsonPathSchema, z.unknown()).optional().describe('JSON paths (like $.status or items[0].id) and the values they must equal.'),
  })
  .describe('An HTTP request sent to each instance of the candidate version directly (not through the router).');

const testStepSchema = z
  .strictObject({
    name: nonEmptyString.max(100).describe('Test name, shown in the rollout log and referred to by `approval.after`.'),
    run: nonEmptyString.optional().describe('Shell command to run; exit code 0 passes. Gets PROMOTE_URL, PROMOTE_URLS, PROMOTE_VERSION, PROMOTE_ENVIRONMENT, PROMOTE_APP and PROMOTE_JUNIT.'),
    junit: nonEmptyString.optional().describe('Where the command writes JUnit XML (a file, or a folder of .xml files), relative to promote.yaml; failures in it fail the step.'),
    http: httpCheckSchema.optional(),
    timeout: durationSchema.prefault('5m').describe('How long the test may take before it counts as failed.'),
  })
  .superRefine(exactlyOneOf(['run', 'http'], 'a test'))
  .meta(exactlyOneOfJsonSchema(['run', 'http']))
  .describe('Run a smoke, contract or acceptance test against the candidate; a failure aborts the rollout.');

const weightSchema = z
  .number()
  .min(0)
  .max(100)
  .multipleOf(0.01)
  .describe('Percent of traffic for the candidate version, 0 to 100 in steps of 0.01.');

const pauseStepSchema = z
  .union([
    z.null(),
    z.strictObject({
      duration: durationSchema.optional().describe('Resume by itself after this long; without it the rollout waits for `promote resume`.'),
    }),
  ])
  .transform((pause) => pause ?? {})
  .describe('Wait: for a duration, or until someone resumes the rollout.');

const analysisStepSchema = z
  .strictObject({
    templates: z.array(nameSchema).min(1).describe('Names of entries in analysis.templates to run.'),
    background: z.boolean().default(false).describe('Keep running while later steps proceed; a failure still rolls the rollout back.'),
    continuous: z
      .boolean()
      .default(false)
      .describe(
        'With background: keep measuring until the rollout ends instead of stopping after `count` (only failures and the error budget end it). Each look at a compare metric spends part of the confidence, (1 - confidence) / (k (k + 1)) at the k-th, so however many looks, a candidate identical to stable is rolled back at most 1 - confidence of the time.',
      ),
    score: z
      .strictObject({
        pass: z.number().min(0).max(100).default(100).describe('Score (0-100) at or above which the analysis passes.'),
        marginal: z
          .number()
          .min(0)
          .max(100)
          .optional()
          .describe('Score below which the analysis fails; between marginal and pass it is inconclusive. Default: the pass score.'),
      })
      .prefault({})
      .transform(({ pass, marginal }) => ({ pass, marginal: marginal ?? pass }))
      .describe('The score is the weighted share of judged metrics that passed.'),
  })
  .describe('Judge the candidate with analysis templates; failure rolls back.');

const setFlagStepSchema = z
  .strictObject({
    flag: nonEmptyString.describe('Flag name; it may be declared under `flags` or exist only in the flag store.'),
    enabled: z.boolean().optional().describe('Turn the flag on or off.'),
    rollout: z.number().int().min(0).max(100).optional().describe('Percent of users (a whole number) for the flag\'s flexibleRollout strategy.'),
    variants: z
      .record(nonEmptyString, z.number().int().min(0).max(1000))
      .optional()
      .describe('Variant weights out of 1000 (Unleash\'s scale), e.g. { control: 500, new-layout: 500 }; variants not named keep theirs. A migration flag\'s stages are its variants.'),
  })
  .superRefine((step, ctx) => {
    if (step.enabled === undefined && step.rollout === undefined && step.variants === undefined) {
      ctx.addIssue({ code: 'custom', message: 'setFlag needs "enabled", "rollout", "variants" or a combination' });
    }
  })
  .meta({ anyOf: [{ required: ['enabled'] }, { required: ['rollout'] }, { required: ['variants'] }] })
  .describe('Change a feature flag as part of the rollout.');

const approvalStepSchema = z
  .strictObject({
    count: z.number().int().min(1).max(10).default(1).describe('How many different people must approve.'),
    after: z.array(nonEmptyString).optional().describe('Names of earlier test steps that must have passed before approval is possible.'),
    expires: durationSchema.optional().describe('Abort the rollout when nobody approves within this time (bounds the wait; see validFor for how long each vote counts).'),
    validFor: durationSchema.optional().describe('Each approval stops counting this long after it was given; the step waits again for a fresh one if it has too few when the controller decides.'),
  })
  .describe('Wait for manual approval.');

const verifyStepSchema = z
  .strictObject({
    checks: z.array(nonEmptyString).min(1).describe('Integrity checks to run, e.g. reconciliation of dual-written tables.'),
  })
  .describe('Run data integrity checks; a failed check aborts the rollout.');

const promoteStepSchema = z
  .union([z.null(), z.strictObject({})])
  .transform(() => ({}))
  .describe('Switch all traffic to the candidate; it becomes the stable version.');

type StepBodies = {
  migrate: z.output<typeof migrateStepSchema>;
  test: z.output<typeof testStepSchema>;
  setWeight: z.output<typeof weightSchema>;
  pause: z.output<typeof pauseStepSchema>;
  analysis: z.output<typeof analysisStepSchema>;
  setFlag: z.output<typeof setFlagStepSchema>;
  approval: z.output<typeof approvalStepSchema>;
  verify: z.output<typeof verifyStepSchema>;
  promote: z.output<typeof promoteStepSchema>;
};

/** One step: an object with exactly one of the step kinds as its key. */
export type StepSpec = { [K in StepKind]: { [P in K]: StepBodies[P] } }[StepKind];
export type MigrateStepSpec = StepBodies['migrate'];
export type TestStepSpec = StepBodies['test'];
export type PauseStepSpec = StepBodies['pause'];
export type AnalysisStepSpec = StepBodies['analysis'];
export type SetFlagStepSpec = StepBodies['setFlag'];
export type ApprovalStepSpec = StepBodies['approval'];
export type VerifyStepSpec = StepBodies['verify'];

/** The kind of a parsed step, for switching on. */
export function stepKind(step: StepSpec): StepKind {
  return Object.keys(step)[0] as StepKind;
}

const stepList = stepKinds.join(', ');

const stepExamples: Record<StepKind, string> = {
  migrate: 'migrate: expand',
  test: 'test: { name: smoke, run: ./smoke.sh }',
  setWeight: 'setWeight: 10',
  pause: 'pause: {}',
  analysis: 'analysis: { templates: [error-rate] }',
  setFlag: 'setFlag: { flag: new-checkout, enabled: true }',
  approval: 'approval: {}',
  verify: 'verify: { checks: [orders-totals] }',
  promote: 'promote: {}',
};

function checkStepShape(input: unknown, ctx: z.RefinementCtx): unknown {
  if (typeof input === 'string' && Object.hasOwn(stepExamples, input)) {
    ctx.addIssue({ code: 'custom', message: `a step is an object with one key: write "${stepExamples[input as StepKind]}"`, input });
    return input;
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const keys = Object.keys(input);
  for (const key of keys) {
    if (!(stepKinds as readonly string[]).includes(key)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `unknown step "${key}"; expected one of ${stepList}${didYouMean(key, stepKinds)}`,
        params: { pointAt: 'key' },
        input,
      });
    }
  }
  if (keys.length === 0) {
    ctx.addIssue({ code: 'custom', message: `empty step; a step has exactly one key, one of ${stepList}`, input });
  } else if (keys.length > 1) {
    ctx.addIssue({
      code: 'custom',
      message: `a step has exactly one key, this one has ${keys.length}: ${keys.join(', ')}; make each its own list item`,
      input,
    });
  }
  return input;
}

const stepObjectSchema = z
  .strictObject({
    migrate: migrateStepSchema.optional(),
    test: testStepSchema.optional(),
    setWeight: weightSchema.optional(),
    pause: pauseStepSchema.optional(),
    analysis: analysisStepSchema.optional(),
    setFlag: setFlagStepSchema.optional(),
    approval: approvalStepSchema.optional(),
    verify: verifyStepSchema.optional(),
    promote: promoteStepSchema.optional(),
  })
  .meta({ minProperties: 1, maxProperties: 1 })
  .register(expectations, { expected: `a step: an object with one key, one of ${stepList}` });

export const stepSchema = z
  .preprocess(checkStepShape, stepObjectSchema)
  .transform((step) => step as StepSpec)
  .describe(`One rollout step, written as a single key: ${stepList}.`);
