import type { IntegrityCheckSpec } from '../../spec/schema-integrity.js';

export interface CheckResult {
  name: string;
  type: IntegrityCheckSpec['type'];
  passed: boolean;
  /** one line: what was found */
  summary: string;
  /** what a person needs to see: offending rows (the first few), counts, differences */
  evidence: Record<string, unknown>;
  durationMs: number;
}

export interface CheckContext {
  /** the environment the verify step runs in */
  environment: string;
  /** app database URL of an environment of promote.yaml */
  databaseUrl: (environment: string) => string;
  /** the environment before this one in the promotion order, if any */
  previousEnvironment?: string;
  /** the schema the app's migrations change (promote.yaml migrations.schema) */
  migrationsSchema: string;
}

/** Rows shown as evidence; a check reports "at least" beyond them. */
export const EVIDENCE_ROWS = 20;
