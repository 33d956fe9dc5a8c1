import { parseSpec, type PromoteSpec } from '../../src/spec/index.js';

/** A test's promote.yaml text as a spec; its problems, if any, fail the test at once. */
export function specFromYaml(text: string): PromoteSpec {
  const parsed = parseSpec(text, { file: 'promote.yaml' });
  if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
  return parsed.spec;
}
