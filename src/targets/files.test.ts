import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, writeJsonAtomically } from '../system/files.js';
import { folderName, formatTail, logSectionHeader, logTail } from './files.js';
import { KeyedMutex } from './lock.js';

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'promote-target-files-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('folderName', () => {
  it('keeps plain version names as written', () => {
    expect(folderName('1.4.2')).toBe('1.4.2');
    expect(folderName('v2-rc_1+build.7')).toBe('v2-rc_1+build.7');
  });

  it('is always one safe path segment, and different names never share a folder', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 128, unit: 'binary' }), fc.string({ minLength: 1, maxLength: 128, unit: 'binary' }), (a, b) => {
        const name = folderName(a);
        expect(name).toMatch(/^[A-Za-z0-9_+%~-][A-Za-z0-9_+.%~-]*$/);
        expect(name.length).toBeLessThanOrEqual(200);
        if (a !== b) expect(folderName(b)).not.toBe(name);
      }),
      { numRuns: 500 },
    );
    expect(folderName('..')).toBe('%2E.');
    expect(folderName('a/../b')).toBe('a%2F..%2Fb');
  });
});

describe('logTail', () => {
  it('shows the last lines of the latest run only, secrets masked', async () => {
    const path = join(folder, 'instance-0.log');
    await appendFile(path, logSectionHeader('first run') + 'old line\n');
    const lines = Array.from({ length: 30 }, (_, index) => `line ${index}`);
    await appendFile(path, logSectionHeader('second run') + lines.join('\n') + '\nconnecting to postgres://app:hunter2@db/orders\n');
    const tail = await logTail(path);
    expect(tail).toHaveLength(20);
    expect(tail[0]).toBe('line 11');
    expect(tail.at(-1)).toBe('connecting to postgres://app:***@db/orders');
    expect(formatTail(path, tail)).toMatch(/^last lines of .*instance-0\.log:\n {2}line 11\n/);
    expect(await logTail(join(folder, 'missing.log'))).toEqual([]);
    expect(formatTail('x.log', [])).toBe('(nothing in x.log)');
  });
});

describe('records', () => {
  it('are written atomically and read back; damaged ones are told apart from missing ones', async () => {
    const path = join(folder, 'deep', 'er', 'record.json');
    await writeJsonAtomically(path, { pid: 1 });
    expect(await readJson(path)).toEqual({ pid: 1 });
    await appendFile(path, '{');
    expect(await readJson(path)).toBe('damaged');
    expect(await readJson(join(folder, 'none.json'))).toBeUndefined();
  });
});

describe('KeyedMutex', () => {
  it('runs tasks of one key one at a time in call order, other keys alongside, past failures', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const task = (name: string, ms: number, fail = false) => async () => {
      events.push(`start ${name}`);
      await delay(ms);
      events.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([mutex.run('a', task('a1', 30, true)), mutex.run('a', task('a2', 1)), mutex.run('b', task('b1', 5))]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(events.indexOf('start a2')).toBeGreaterThan(events.indexOf('end a1'));
    expect(events.indexOf('end b1')).toBeLessThan(events.indexOf('end a1'));
  });
});
