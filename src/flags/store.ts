/**
 * The flag store: flags per (app, environment) in the admin format, segments per app, the history of
 * every change, scheduled changes, stale flags, and what Unleash SDKs report. Every write appends to the
 * hash-chained audit trail and bumps the scope's revision (announced on FLAGS_CHANNEL) in the same
 * transaction. One module per concern; this file is the public surface.
 */
export { FLAGS_CHANNEL, currentRevision, type ChangeOptions, type FlagChange } from './store-changes.js';
export { FlagValidationError, FlagNotFoundError, FlagConflictError, validateFlag, type FlagDefinition, type FieldProblem } from './store-errors.js';
export { changedPaths } from './store-diff.js';
export { listFlags, getFlag, requireFlag, putFlag, modifyFlag, enableFlag, disableFlag, setFlagRollout, setVariantWeights, archiveFlag, flagHistory, type StoredFlag, type FlagWrite } from './store-flags.js';
export { listSegments, getSegment, putSegment, deleteSegment, segmentHistory, validateSegment, type FlagSegment, type SegmentInput } from './store-segments.js';
export {
  scheduleFlagChange,
  listSchedules,
  cancelSchedule,
  applyDueFlagSchedules,
  checkScheduledChange,
  SCHEDULE_STATUSES,
  type ScheduledChange,
  type ScheduleStatus,
  type FlagSchedule,
  type ScheduleRun,
} from './store-schedules.js';
export { staleFlags, uniformState, type StaleFlag } from './store-stale.js';
export { recordClientRegistration, recordFlagUsage, listClients, flagUsage, type ClientRegistration, type ClientMetrics, type RegisteredClient, type FlagUsage } from './store-clients.js';
export { clientRuleset, CLIENT_FORMAT_VERSION } from './store-ruleset.js';
