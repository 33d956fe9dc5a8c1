/**
 * Unleash's client specification (npm @unleash/client-specification): every file its index lists,
 * every isEnabled case (`tests`) and every variant case (`variantTests`), run against our evaluator.
 * Files 19 and 20 describe their state as delta API events; they go through applyDelta first.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyDelta, type DeltaEvent } from './delta.js';
import { compileRuleset, evaluateFlag, getVariant, isEnabled } from './evaluate.js';
import type { ClientRuleset, FlagContext, VariantResult } from './model.js';

interface SpecificationFile {
  name: string;
  state: ClientRuleset | { events: DeltaEvent[] };
  tests?: { description: string; context: FlagContext; toggleName: string; expectedResult: boolean }[];
  variantTests?: { description: string; context: FlagContext; toggleName: string; expectedResult: Record<string, unknown> }[];
}

const require = createRequire(import.meta.url);
const specificationDirectory = dirname(require.resolve('@unleash/client-specification/specifications/index.json'));
const readJson = (file: string): unknown => JSON.parse(readFileSync(join(specificationDirectory, file), 'utf8'));
const fileNames = readJson('index.json') as string[];

function rulesetOf(state: SpecificationFile['state']): ClientRuleset {
  if ('events' in state) return applyDelta({ version: 2, features: [], segments: [] }, state.events);
  return state;
}

/** Our variant in the shape of the specification's expected result (Unleash's snake_case field). */
function asSpecified(variant: VariantResult): Record<string, unknown> {
  const shaped: Record<string, unknown> = { name: variant.name, enabled: variant.enabled, feature_enabled: variant.featureEnabled };
  if (variant.payload !== undefined) shaped.payload = variant.payload;
  return shaped;
}

describe('Unleash client specification', () => {
  it('lists the files this suite expects to run', () => {
    expect(fileNames.length).toBeGreaterThanOrEqual(22);
  });

  for (const fileName of fileNames) {
    const specification = readJson(fileName) as SpecificationFile;
    describe(fileName, () => {
      const rules = compileRuleset(rulesetOf(specification.state));
      it('has cases', () => {
        expect((specification.tests?.length ?? 0) + (specification.variantTests?.length ?? 0)).toBeGreaterThan(0);
      });
      for (const [index, testCase] of (specification.tests ?? []).entries()) {
        it(`isEnabled #${index + 1}: ${testCase.description}`, () => {
          expect(isEnabled(rules, testCase.toggleName, testCase.context)).toBe(testCase.expectedResult);
          expect(evaluateFlag(rules, testCase.toggleName, testCase.context).enabled).toBe(testCase.expectedResult);
        });
      }
      for (const [index, testCase] of (specification.variantTests ?? []).entries()) {
        it(`getVariant #${index + 1}: ${testCase.description}`, () => {
          const expected = { ...testCase.expectedResult };
          delete expected.featureEnabled;
          expect(asSpecified(getVariant(rules, testCase.toggleName, testCase.context))).toEqual(expected);
        });
      }
    });
  }
});
