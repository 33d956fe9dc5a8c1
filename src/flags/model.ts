/**
 * The flag ruleset in Unleash's client wire format (`GET /api/client/features`): what the evaluator
 * reads, what Promote serves to stock Unleash SDKs and what its own SDK caches. Values arriving over the
 * wire are not trusted: the evaluator tolerates any shape here (a broken regex, an unknown operator or a
 * missing field makes a strategy not match; it never throws). Flags written by people are validated
 * before they are stored (src/spec/schema-flags.ts), so a ruleset served by Promote is always well formed.
 */

export type ConstraintOperator =
  | 'IN'
  | 'NOT_IN'
  | 'STR_CONTAINS'
  | 'STR_STARTS_WITH'
  | 'STR_ENDS_WITH'
  | 'NUM_EQ'
  | 'NUM_GT'
  | 'NUM_GTE'
  | 'NUM_LT'
  | 'NUM_LTE'
  | 'DATE_AFTER'
  | 'DATE_BEFORE'
  | 'SEMVER_EQ'
  | 'SEMVER_GT'
  | 'SEMVER_GTE'
  | 'SEMVER_LT'
  | 'SEMVER_LTE'
  | 'REGEX'
  | 'IN_CIDR';

export interface Constraint {
  contextName: string;
  /** a ConstraintOperator; any other string never matches */
  operator: string;
  values?: string[];
  value?: string;
  inverted?: boolean;
  caseInsensitive?: boolean;
}

export interface VariantPayload {
  type: string;
  value: string;
}

export interface VariantOverride {
  contextName: string;
  values: string[];
}

export interface VariantDefinition {
  name: string;
  /** out of 1000 across a flag's (or strategy's) variants */
  weight: number;
  /** 'fix' keeps the weight when others change; 'variable' weights share what is left */
  weightType?: 'fix' | 'variable';
  stickiness?: string;
  payload?: VariantPayload;
  overrides?: VariantOverride[];
}

export interface StrategyDefinition {
  name: string;
  parameters?: Record<string, string | number | boolean | null>;
  constraints?: Constraint[];
  /** ids of segments whose constraints must all hold as well */
  segments?: number[];
  variants?: VariantDefinition[];
  /** Unleash's admin format; a disabled strategy is left out of the client format */
  disabled?: boolean;
}

export interface FlagDependency {
  feature: string;
  /** default true: the parent must be enabled; false: it must be disabled */
  enabled?: boolean;
  /** when set, the parent's variant must be one of these */
  variants?: string[];
}

export interface ClientFeature {
  name: string;
  enabled: boolean;
  type?: string;
  description?: string | null;
  project?: string;
  stale?: boolean;
  impressionData?: boolean;
  strategies?: StrategyDefinition[];
  variants?: VariantDefinition[];
  dependencies?: FlagDependency[];
}

export interface Segment {
  id: number;
  name?: string;
  constraints: Constraint[];
}

/** What `GET /api/client/features` returns, and what the evaluator reads. */
export interface ClientRuleset {
  version: number;
  features: ClientFeature[];
  segments?: Segment[];
  /** Promote's own: increases with every change, so a cached ruleset can be compared with the server's */
  revision?: number;
}

/** The Unleash context: the facts about one request a flag is evaluated for. */
export interface FlagContext {
  userId?: string;
  sessionId?: string;
  remoteAddress?: string;
  environment?: string;
  appName?: string;
  /** ISO 8601; defaults to the time of evaluation */
  currentTime?: string;
  properties?: Record<string, string | null | undefined>;
  /** other top-level fields are looked up like properties, as Unleash's SDKs do */
  [field: string]: unknown;
}

/** Unleash's variant answer, including the disabled variant. */
export interface VariantResult {
  name: string;
  enabled: boolean;
  /** whether the flag itself is enabled (Unleash's `feature_enabled`) */
  featureEnabled: boolean;
  payload?: VariantPayload;
}

/** The variant Unleash returns when a flag is off or has no variants. */
export const DISABLED_VARIANT: Readonly<{ name: 'disabled'; enabled: false }> = { name: 'disabled', enabled: false };
