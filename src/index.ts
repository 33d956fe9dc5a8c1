/** What an application imports from the `promote` package (package.json "exports"): the SDK. */
export * from './sdk/report.js';
export * from './sdk/schema-version.js';
export * from './sdk/flags.js';
export * from './sdk/openfeature.js';
export * from './sdk/experiment.js';
export * from './sdk/gate.js';
export * from './sdk/dual-write.js';
export * from './sdk/outbox.js';
export * from './sdk/webhook-verify.js';
