/**
 * The promote.yaml schema, version 1. One zod schema gives the TypeScript types, the validation with
 * its error messages, the JSON Schema for editors and the reference docs, so they cannot drift apart.
 */
import { z } from 'zod';
import { durationSchema } from './duration.js';
import { analysisTemplateSchema } from './schema-analysis.js';
import { environmentSchema, type targetSchema } from './schema-environment.js';
import { flagListSchema, type flagSchema } from './schema-flags.js';
import { integrityCheckSchema } from './schema-integrity.js';
import { headerNameSchema, nameSchema } from './schema-meta.js';
import { notificationsSchema } from './schema-notifications.js';
import { stepSchema } from './schema-steps.js';

const hookSchema = z
  .strictObject({
    name: z.string().min(1).max(100).describe('Hook name, shown in the rollout log.'),
    run: z.string().min(1).describe('Shell command, run in the folder of promote.yaml with PROMOTE_VERSION, PROMOTE_STABLE, PROMOTE_ENVIRONMENT and PROMOTE_APP; exit code 0 succeeds.'),
    timeout: durationSchema.prefault('5m').describe('How long it may run before it counts as failed.'),
    idempotent: z
      .boolean()
      .default(false)
      .describe('Safe to run twice. A hook that is not is never repeated: if the controller stops while it runs, the hook counts as failed.'),
  })
  .describe('A command run at a fixed point of every rollout.');

const hooksSchema = z
  .strictObject({
    preDeploy: z.array(hookSchema).optional().describe('Before anything else; a failure ends the rollout before the new version starts.'),
    postPromote: z.array(hookSchema).optional().describe('Right after traffic switched fully; a failure rolls back while the previous version is still up.'),
    onRollback: z.array(hookSchema).optional().describe('After traffic returned to stable because of a failure or an abort; failures are recorded, nothing more.'),
  })
  .optional()
  .describe('Commands run at fixed points of the rollout.');

const canaryStrategySchema = z
  .strictObject({
    type: z.literal('canary').describe('Shift traffic gradually with setWeight steps.'),
    hooks: hooksSchema,
    steps: z.array(stepSchema).min(1).describe('Steps run in order.'),
  })
  .describe('Canary: the candidate takes a growing share of traffic while it is analysed.');

const blueGreenStrategySchema = z
  .strictObject({
    type: z.literal('blueGreen').describe('Run the candidate beside the stable version and switch all traffic at once.'),
    autoPromote: z.boolean().default(false).describe('Switch as soon as the steps before promote pass, without waiting for a person.'),
    scaleDownDelay: durationSchema.prefault('30s').describe('Keep the old (blue) version running this long after the switch, for an instant rollback.'),
    previewHeader: headerNameSchema.default('X-Promote-Preview').describe('Requests with this header reach the candidate (green) before the switch.'),
    hooks: hooksSchema,
    steps: z.array(stepSchema).min(1).describe('Steps run in order; setWeight may only be 0 or 100.'),
  })
  .describe('Blue-green: a canary whose only weights are 0 and 100.');

export const strategySchema = z
  .discriminatedUnion('type', [canaryStrategySchema, blueGreenStrategySchema])
  .describe('How a release moves into an environment.');

export const promoteSpecSchema = z
  .strictObject({
    version: z.literal(1).describe('Version of this file format; always 1.'),
    app: z
      .strictObject({
        name: nameSchema.describe('App name; used in release names, metrics and placeholders ({{app}}).'),
        description: z.string().optional().describe('One line about the app.'),
      })
      .describe('The service this file describes.'),
    migrations: z
      .strictObject({
        dir: z.string().min(1).default('migrations').describe('Folder with migration files, relative to this file.'),
        schema: z.string().min(1).default('public').describe('Postgres schema the migrations change.'),
        lockTimeout: durationSchema
          .prefault('500ms')
          .describe('Postgres lock_timeout for migration statements: a blocked migration gives up instead of blocking the app.'),
        undoWindow: durationSchema
          .prefault('24h')
          .describe('How long after contract a migration can still be undone (promote migrate undo): the columns and tables contract removes are kept aside until then. 0s: contract drops them at once.'),
      })
      .prefault({})
      .describe('Schema migrations of the app database.'),
    environments: z.array(environmentSchema).min(1).describe('Environments in promotion order: a release reaches one only after passing those before it.'),
    strategies: z
      .record(nameSchema, strategySchema)
      .refine((strategies) => Object.keys(strategies).length > 0, { message: 'define at least one strategy' })
      .meta({ minProperties: 1 })
      .describe('Rollout strategies by name; each environment picks one.'),
    analysis: z
      .strictObject({
        templates: z.record(nameSchema, analysisTemplateSchema).default({}).describe('Analysis templates by name; analysis steps refer to them.'),
      })
      .optional()
      .describe('Reusable metric analyses.'),
    flags: flagListSchema.optional().describe('Feature flags this app declares.'),
    integrity: z
      .strictObject({
        checks: z.record(nameSchema, integrityCheckSchema).default({}).describe('Integrity checks by name; verify steps refer to them.'),
      })
      .optional()
      .describe('Data integrity checks run by `verify` steps.'),
    notifications: notificationsSchema.optional(),
  })
  .describe('promote.yaml: how releases of one app are promoted from staging to production.');

export type PromoteSpec = z.output<typeof promoteSpecSchema>;
export type PromoteSpecInput = z.input<typeof promoteSpecSchema>;
export type EnvironmentSpec = z.output<typeof environmentSchema>;
export type TargetSpec = z.output<typeof targetSchema>;
export type ProcessTargetSpec = Extract<TargetSpec, { type: 'process' }>;
export type ExternalTargetSpec = Extract<TargetSpec, { type: 'external' }>;
export type RouterSpec = NonNullable<EnvironmentSpec['router']>;
export type StrategySpec = z.output<typeof strategySchema>;
export type HookSpec = z.output<typeof hookSchema>;
export type CanaryStrategySpec = Extract<StrategySpec, { type: 'canary' }>;
export type BlueGreenStrategySpec = Extract<StrategySpec, { type: 'blueGreen' }>;
export type MigrationsSpec = PromoteSpec['migrations'];
export type AnalysisTemplateSpec = z.output<typeof analysisTemplateSchema>;
export type ProviderSpec = AnalysisTemplateSpec['provider'];
export type JudgeSpec = AnalysisTemplateSpec['judge'];
export type FlagSpec = z.output<typeof flagSchema>;
export type { IntegrityCheckSpec } from './schema-integrity.js';
export type { NotificationsSpec, WebhookSpec, NotificationKind } from './schema-notifications.js';
export type FlagStrategySpec = NonNullable<FlagSpec['strategies']>[number];
export type ConstraintSpec = NonNullable<FlagStrategySpec['constraints']>[number];
export type {
  StepSpec,
  StepKind,
  MigrateStepSpec,
  TestStepSpec,
  PauseStepSpec,
  AnalysisStepSpec,
  SetFlagStepSpec,
  ApprovalStepSpec,
  VerifyStepSpec,
} from './schema-steps.js';
export { stepKind, stepKinds } from './schema-steps.js';
