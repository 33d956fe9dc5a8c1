/**
 * MurmurHash3 x86_32 over the UTF-8 bytes of a string: the hash Unleash uses for stickiness and
 * gradual rollouts, and the hash the router uses to put a sticky key in a bucket.
 *
 * It runs on the router's request path, so it does not allocate: ASCII strings (the common case for
 * user ids, session ids and cookie values) are hashed four code units at a time, and other strings are
 * encoded to UTF-8 on the fly while hashing. Lone surrogates are encoded as U+FFFD (EF BF BD), as
 * TextEncoder and Buffer.from(text, 'utf8') do, so every string has exactly one hash.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** MurmurHash3 x86_32 of the UTF-8 encoding of `text`, as an unsigned 32-bit integer. */
// Small enough for V8 to inline: the hash stays allocation-free and as fast as when written out.
function scramble(block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

/** Mixes one full 4-byte block into the hash. */
function mixBlock(hash: number, block: number): number {
  let h = hash ^ scramble(block);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

export function murmur3(text: string, seed = 0): number {
  const length = text.length;
  let h = seed | 0;
  let i = 0;
  const blockEnd = length & ~3;
  // ASCII fast path: one byte per UTF-16 code unit, no encoding needed.
  for (; i < blockEnd; i += 4) {
    const b0 = text.charCodeAt(i);
    const b1 = text.charCodeAt(i + 1);
    const b2 = text.charCodeAt(i + 2);
    const b3 = text.charCodeAt(i + 3);
    if ((b0 | b1 | b2 | b3) > 0x7f) return hashEncoded(text, h, i);
    h = mixBlock(h, b0 | (b1 << 8) | (b2 << 16) | (b3 << 24));
  }
  const rest = length & 3;
  if (rest !== 0) {
    const b0 = text.charCodeAt(i);
    const b1 = rest > 1 ? text.charCodeAt(i + 1) : 0;
    const b2 = rest > 2 ? text.charCodeAt(i + 2) : 0;
    if ((b0 | b1 | b2) > 0x7f) return hashEncoded(text, h, i);
    h ^= scramble(b0 | (b1 << 8) | (b2 << 16));
  }
  return finish(h, length);
}

/**
 * The general path: encodes each code point to UTF-8 on the fly (no buffer) and feeds the bytes into
 * the 4-byte block. A lone surrogate becomes U+FFFD, as in TextEncoder. It continues where the ASCII
 * path stopped: `start` code units (= bytes, a multiple of 4) are already mixed into `hashSoFar`.
 */
function hashEncoded(text: string, hashSoFar: number, start: number): number {
  const length = text.length;
  let h = hashSoFar;
  let block = 0;
  let shift = 0;
  let total = start;
  for (let i = start; i < length; i++) {
    const code = text.charCodeAt(i);
    let packed: number;
    let count: number;
    if (code < 0x80) {
      packed = code;
      count = 1;
    } else if (code < 0x800) {
      packed = (0xc0 | (code >>> 6)) | ((0x80 | (code & 0x3f)) << 8);
      count = 2;
    } else if (code < 0xd800 || code >= 0xe000) {
      packed = (0xe0 | (code >>> 12)) | ((0x80 | ((code >>> 6) & 0x3f)) << 8) | ((0x80 | (code & 0x3f)) << 16);
      count = 3;
    } else {
      const next = code < 0xdc00 && i + 1 < length ? text.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next < 0xe000) {
        const point = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        packed =
          (0xf0 | (point >>> 18)) | ((0x80 | ((point >>> 12) & 0x3f)) << 8) | ((0x80 | ((point >>> 6) & 0x3f)) << 16) | ((0x80 | (point & 0x3f)) << 24);
        count = 4;
        i++;
      } else {
        packed = 0xbdbfef; // U+FFFD: EF BF BD
        count = 3;
      }
    }
    total += count;
    for (; count > 0; count--) {
      block |= (packed & 0xff) << shift;
      packed >>>= 8;
      shift += 8;
      if (shift === 32) {
        h = mixBlock(h, block);
        block = 0;
        shift = 0;
      }
    }
  }
  if (shift !== 0) h ^= scramble(block);
  return finish(h, total);
}

/** MurmurHash3 x86_32 of `bytes`, as an unsigned 32-bit integer. */
export function murmur3Bytes(bytes: Uint8Array, seed = 0): number {
  return hashRange(bytes, bytes.length, seed);
}

function hashRange(bytes: Uint8Array, length: number, seed: number): number {
  let h = seed | 0;
  let i = 0;
  const blockEnd = length & ~3;
  for (; i < blockEnd; i += 4) {
    h = mixBlock(h, bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
  }
  const rest = length & 3;
  if (rest !== 0) {
    let k = bytes[i]!;
    if (rest > 1) k |= bytes[i + 1]! << 8;
    if (rest > 2) k |= bytes[i + 2]! << 16;
    h ^= scramble(k);
  }
  return finish(h, length);
}

function finish(hash: number, length: number): number {
  let h = hash ^ length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Unleash's normalized hash: a number from 1 to `normalizer` for an identifier (user id, session id...)
 * within a group (usually the flag name), the same in every Unleash SDK:
 * `murmur3(`${groupId}:${identifier}`, seed) % normalizer + 1`.
 */
export function normalizedHash(identifier: string, groupId: string, normalizer = 100, seed = 0): number {
  return (murmur3(`${groupId}:${identifier}`, seed) % normalizer) + 1;
}
