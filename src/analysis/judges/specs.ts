/** The two kinds of judge spec, as the judges use them (the schema's discriminated union, split). */
import type { JudgeSpec } from '../../spec/schema.js';

export type CompareJudgeSpec = Extract<JudgeSpec, { type: 'compare' }>;
export type ThresholdJudgeSpec = Extract<JudgeSpec, { type: 'threshold' }>;
