import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmur3, murmur3Bytes, normalizedHash } from './murmur3.js';

/**
 * An independent, byte-at-a-time MurmurHash3 x86_32 written from the algorithm's description with
 * BigInt arithmetic, so it shares no tricks (Math.imul, block reads, fast paths) with the real one.
 */
function reference(bytes: Uint8Array, seed: number): number {
  const mask = 0xffffffffn;
  const mul = (a: bigint, b: bigint): bigint => (a * b) & mask;
  const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (32n - r))) & mask;
  const scramble = (k: bigint): bigint => mul(rotl(mul(k, 0xcc9e2d51n), 15n), 0x1b873593n);
  let h = BigInt(seed >>> 0);
  let block: number[] = [];
  for (const byte of bytes) {
    block.push(byte);
    if (block.length === 4) {
      const k = BigInt(block[0]!) | (BigInt(block[1]!) << 8n) | (BigInt(block[2]!) << 16n) | (BigInt(block[3]!) << 24n);
      h ^= scramble(k);
      h = rotl(h, 13n);
      h = (mul(h, 5n) + 0xe6546b64n) & mask;
      block = [];
    }
  }
  if (block.length > 0) {
    let k = 0n;
    block.forEach((byte, index) => {
      k |= BigInt(byte) << BigInt(8 * index);
    });
    h ^= scramble(k);
  }
  h ^= BigInt(bytes.length);
  h ^= h >> 16n;
  h = mul(h, 0x85ebca6bn);
  h ^= h >> 13n;
  h = mul(h, 0xc2b2ae35n);
  h ^= h >> 16n;
  return Number(h);
}

const utf8 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'utf8'));

describe('murmur3', () => {
  it.each([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['Hello, world!', 1234, 0xfaf6cdb3],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0, 0xb3dd93fa],
  ])('hashes %j with seed %d to the canonical value', (text, seed, expected) => {
    expect(murmur3(text, seed)).toBe(expected);
    expect(murmur3Bytes(utf8(text), seed)).toBe(expected);
    expect(reference(utf8(text), seed)).toBe(expected);
  });

  it.each(['ß', '日本語', '🚀', 'straße', 'abc日', 'abcd🚀', 'user-42-🚀-ß', 'a'.repeat(50_000) + 'é', 'ü'.repeat(10_000)])(
    'hashes the UTF-8 bytes of %j, not its UTF-16 code units',
    (text) => {
      const bytes = utf8(text);
      expect(bytes.length).toBeGreaterThan(text.length);
      expect(murmur3(text)).toBe(reference(bytes, 0));
      expect(murmur3(text, 0x9747b28c)).toBe(reference(bytes, 0x9747b28c));
      expect(murmur3Bytes(bytes, 7)).toBe(reference(bytes, 7));
    },
  );

  it('agrees with the reference for the fixed non-ASCII examples', () => {
    // Pinned so a change in the encoder (or the reference) cannot move both sides together.
    expect(murmur3('ß')).toBe(reference(new Uint8Array([0xc3, 0x9f]), 0));
    expect(murmur3('日本語')).toBe(reference(new Uint8Array([0xe6, 0x97, 0xa5, 0xe6, 0x9c, 0xac, 0xe8, 0xaa, 0x9e]), 0));
    expect(murmur3('🚀')).toBe(reference(new Uint8Array([0xf0, 0x9f, 0x9a, 0x80]), 0));
  });

  it('encodes a lone surrogate as U+FFFD, like TextEncoder', () => {
    expect(murmur3('a\ud800b')).toBe(murmur3('a\ufffdb'));
    expect(murmur3('\udc00')).toBe(reference(new Uint8Array([0xef, 0xbf, 0xbd]), 0));
  });

  it('matches the reference on arbitrary unicode strings and seeds', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 0, max: 0xffffffff }), (text, seed) => {
        expect(murmur3(text, seed)).toBe(reference(utf8(text), seed));
      }),
      { numRuns: 500 },
    );
  });

  it('matches the reference when non-ASCII text starts at any offset after an ASCII run', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 23 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }), (ascii, rest) => {
        expect(murmur3(ascii + rest)).toBe(reference(utf8(ascii + rest), 0));
      }),
      { numRuns: 500 },
    );
  });

  it('matches the reference on arbitrary UTF-16 (lone surrogates included)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.nat({ max: 0xffff }).map((code) => String.fromCharCode(code)), maxLength: 20 }), (text) => {
        expect(murmur3(text)).toBe(reference(utf8(text), 0));
      }),
      { numRuns: 300 },
    );
  });

  it('matches the reference on arbitrary ASCII strings of every length mod 4', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 64 }), (text) => {
        expect(murmur3(text)).toBe(reference(utf8(text), 0));
      }),
      { numRuns: 300 },
    );
  });

  it('returns an unsigned 32-bit integer', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const h = murmur3(text);
        expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
      }),
    );
  });
});

describe('normalizedHash', () => {
  it('gives the values every Unleash SDK gives', () => {
    // Shared test vectors of the Unleash node, java and go clients.
    expect(normalizedHash('123', 'gr1')).toBe(73);
    expect(normalizedHash('999', 'groupX')).toBe(25);
  });

  it('is murmur3 of "group:id" modulo the normalizer, plus one', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.integer({ min: 1, max: 100_000 }), (id, group, normalizer) => {
        const value = normalizedHash(id, group, normalizer);
        expect(value).toBe((murmur3(`${group}:${id}`) % normalizer) + 1);
        expect(value >= 1 && value <= normalizer).toBe(true);
      }),
    );
  });
});
