/** The `test` step's executor: run a command or HTTP check against one version, read JUnit reports. */
export { runTest } from './run-test.js';
export type { CommandResult, HttpCheckResult, JsonCheckResult, JUnitFailedCase, JUnitSummary, ProposedHttpFields, ProposedTestFields, RunTestOptions, TestContext, TestResult, TestStep } from './run-test.js';
export { describeJUnit, JUnitError, parseJUnit, readJUnitFile } from './junit.js';
