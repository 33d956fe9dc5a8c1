/** The state store: PostgreSQL access, one module per aggregate. */
export { openStore, defaultHome, type Store, type StoreOptions } from './open.js';
export { migrateStore, STORE_SCHEMA, type AppliedMigration } from './migrate.js';
export { withTransaction, isPool, type Queryable, type TransactionClient, type IsolationLevel } from './queryable.js';
export { canonicalJson, type JsonValue, type JsonObject, type JsonPrimitive } from './canonical-json.js';
export { upsertApp, getApp, listApps, type App, type AppInput } from './apps.js';
export { syncEnvironments, listEnvironments, type Environment } from './environments.js';
export {
  createRelease,
  getRelease,
  getReleaseById,
  listReleases,
  sha256File,
  checksumMigrationsFolder,
  assertDigest,
  shortDigest,
  type Release,
  type ReleaseInput,
} from './releases.js';
export {
  ROLLOUT_PHASES,
  ACTIVE_ROLLOUT_PHASES,
  isRolloutPhase,
  isActivePhase,
  assertWeights,
  createRollout,
  getRollout,
  getActiveRollout,
  listRollouts,
  updateRolloutState,
  type RolloutPhase,
  type Rollout,
  type RolloutInput,
  type RolloutStatePatch,
  type RolloutStateGuard,
  type Weights,
} from './rollouts.js';
export { appendEvent, listEvents, verifyEventChain, eventHash, GENESIS_HASH, type PromoteEvent, type EventInput, type ChainVerification } from './events.js';
export {
  APPROVAL_DECISIONS,
  recordApproval,
  listApprovals,
  countValidApprovals,
  type Approval,
  type ApprovalDecision,
  type ApprovalInput,
} from './approvals.js';
export { getTraffic, setTraffic, TRAFFIC_CHANNEL, type StoredTraffic } from './traffic.js';
export { FEEDBACK_METRIC, METRIC_NAME_PATTERN, MAX_REPORTS_PER_BATCH, MAX_CONTEXT_BYTES, MAX_SUMMARY_VALUES, checkReportedMetric, recordReportedMetrics, summarizeReportedMetric, type ReportedMetricInput, type ReportedMetricQuery, type ReportedMetricSummary } from './reported-metrics.js';
