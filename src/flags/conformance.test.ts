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
import { murmur3 } from './murmur3.js';
import { VARIANT_SEED } from './variants.js';

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

/*
 * Our own vectors (vectors.json). Unleash's Rust core (Yggdrasil, behind its newer SDKs) hashes the
 * UTF-8 bytes of `${groupId}:${id}`; its older Node SDK (unleash-client with murmurhash3js) hashes the
 * low byte of each UTF-16 code unit instead, so a non-ASCII id can land in another bucket there. We
 * follow the Rust core. The expected buckets were computed outside this code base, with Python's mmh3
 * (a C implementation) over the UTF-8 encoding:
 *   mmh3.hash(f"{groupId}:{id}".encode(), 0, signed=False) % 100 + 1          (rolloutBucket)
 *   mmh3.hash(f"{groupId}:{id}".encode(), 86028157, signed=False) % 1000 + 1  (variantBucket1000)
 * Ids are hashed as given: no Unicode normalization, so "café" precomposed and with a combining accent
 * are different users (Unleash does the same).
 */
interface Vector {
  label: string;
  id: string;
  groupId: string;
  utf8Bytes: number;
  rolloutBucket: number;
  variantBucket1000: number;
}
const vectors = (JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] }).vectors;

function rolloutRuleset(groupId: string, rollout: number): ClientRuleset {
  return {
    version: 2,
    features: [{ name: groupId, enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: String(rollout), stickiness: 'userId', groupId } }] }],
  };
}

/** A flag with 1000 variants of weight 1: the variant drawn names the bucket. */
function thousandVariants(name: string): ClientRuleset {
  const variants = Array.from({ length: 1000 }, (_, index) => ({ name: `bucket-${index + 1}`, weight: 1 }));
  return { version: 2, features: [{ name, enabled: true, strategies: [], variants }] };
}

describe('non-ASCII identifiers (vectors.json)', () => {
  const oldNodeHash = (createRequire(import.meta.url)('murmurhash3js') as { x86: { hash32: (key: string, seed: number) => number } }).x86.hash32;

  it('covers the scripts it claims to', () => {
    expect(vectors.some((vector) => vector.utf8Bytes > vector.id.length + vector.groupId.length + 1)).toBe(true);
    expect(new Set(vectors.map((vector) => vector.label)).size).toBeGreaterThanOrEqual(10);
  });

  for (const vector of vectors) {
    it(`${vector.label}: ${vector.id} in ${vector.groupId} is in rollout bucket ${vector.rolloutBucket} and variant bucket ${vector.variantBucket1000}`, () => {
      const context = { userId: vector.id };
      expect(isEnabled(compileRuleset(rolloutRuleset(vector.groupId, vector.rolloutBucket)), vector.groupId, context)).toBe(true);
      expect(isEnabled(compileRuleset(rolloutRuleset(vector.groupId, vector.rolloutBucket - 1)), vector.groupId, context)).toBe(false);
      expect(getVariant(compileRuleset(thousandVariants(vector.groupId)), vector.groupId, context).name).toBe(`bucket-${vector.variantBucket1000}`);
    });
  }

  it('agrees with the old Node SDK hash on ASCII ids and not always on others (the documented difference)', () => {
    const oldBucket = (vector: Vector) => (oldNodeHash(`${vector.groupId}:${vector.id}`, 0) % 100) + 1;
    const ascii = vectors.filter((vector) => Buffer.byteLength(`${vector.groupId}:${vector.id}`) === `${vector.groupId}:${vector.id}`.length);
    const nonAscii = vectors.filter((vector) => !ascii.includes(vector));
    expect(ascii.length).toBeGreaterThan(0);
    for (const vector of ascii) expect(oldBucket(vector)).toBe(vector.rolloutBucket);
    const differing = nonAscii.filter((vector) => oldBucket(vector) !== vector.rolloutBucket);
    expect(differing.length).toBeGreaterThan(nonAscii.length / 2);
  });
});

describe('bucket boundaries', () => {
  const groupId = 'boundary-flag';
  /** The first generated id whose bucket in `groupId` is exactly `bucket`. */
  function idInBucket(bucket: number): string {
    for (let index = 0; index < 100_000; index++) {
      const id = `user-${index}`;
      if ((murmur3(`${groupId}:${id}`) % 100) + 1 === bucket) return id;
    }
    throw new Error(`no id in bucket ${bucket}`);
  }
  const enabledAt = (rollout: number, userId: string) => isEnabled(compileRuleset(rolloutRuleset(groupId, rollout)), groupId, { userId });

  it('rollout 0 enables nobody, not even bucket 1', () => {
    expect(enabledAt(0, idInBucket(1))).toBe(false);
  });
  it('rollout 1 enables bucket 1 and not bucket 2', () => {
    expect(enabledAt(1, idInBucket(1))).toBe(true);
    expect(enabledAt(1, idInBucket(2))).toBe(false);
  });
  it('rollout 99 enables bucket 99 and not bucket 100', () => {
    expect(enabledAt(99, idInBucket(99))).toBe(true);
    expect(enabledAt(99, idInBucket(100))).toBe(false);
  });
  it('rollout 100 enables bucket 100 (and everyone with an id)', () => {
    expect(enabledAt(100, idInBucket(100))).toBe(true);
    expect(enabledAt(100, idInBucket(1))).toBe(true);
  });
  it('a variant split at 500/500 puts bucket 500 in the first variant and 501 in the second', () => {
    const name = 'boundary-variants';
    const rules = compileRuleset({ version: 2, features: [{ name, enabled: true, strategies: [], variants: [{ name: 'first', weight: 500 }, { name: 'second', weight: 500 }] }] });
    const idWithVariantBucket = (bucket: number) => {
      for (let index = 0; ; index++) if ((murmur3(`${name}:user-${index}`, VARIANT_SEED) % 1000) + 1 === bucket) return `user-${index}`;
    };
    expect(getVariant(rules, name, { userId: idWithVariantBucket(500) }).name).toBe('first');
    expect(getVariant(rules, name, { userId: idWithVariantBucket(501) }).name).toBe('second');
  });
});
