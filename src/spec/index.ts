/** The promote.yaml module: schema, loading with positioned problems, JSON Schema, docs and template. */
export { parseSpec, loadSpec, loadSpecOrThrow, SpecError, type SpecResult, type ParseSpecOptions } from './load.js';
export { formatProblem, formatPath, type SpecProblem } from './problems.js';
export { parseDuration, formatDuration, durationSchema } from './duration.js';
export { interpolateString, type EnvironmentVariables, type InterpolatedString } from './interpolate.js';
export { parseCondition, evaluateCondition, conditionVariables, comparisonOperators, type Condition, type ComparisonOperator } from './condition.js';
export { checkSemantics } from './semantic.js';
export { specJsonSchema, writeSpecJsonSchema, specSchemaId } from './json-schema.js';
export { specReferenceMarkdown, writeSpecReference } from './reference.js';
export { initTemplate } from './template.js';
export { builtinMetrics } from './schema-analysis.js';
export { constraintOperators } from './schema-flags.js';
export { templatePlaceholders, fillPlaceholders, type TemplatePlaceholder } from './placeholders.js';
export * from './schema.js';
export { locateInText, type Position } from './locate.js';
export type { PathSegment } from './problems.js';
