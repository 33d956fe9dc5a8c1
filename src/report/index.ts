export type * from './types.js';
export { deliveryReport, rate, frequency, durations } from './compute.js';
export { productionEnvironments, type ReportInput, type ReportPeriod } from './input.js';
export { loadReportInput, buildDeliveryReport } from './load.js';
export { parsePeriod } from './period.js';
export { formatReport } from './format.js';
export { regressionTiming, regressionTimings, type RegressionTiming, type TimingEvent, type TimingMeasurement } from './timing.js';
