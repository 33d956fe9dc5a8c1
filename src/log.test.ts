import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { scratchFolder } from '../test/helpers/scratch.js';
import { createLogger } from './log.js';

describe('logger', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await scratchFolder('promote-log-');
  });

  function logInto(file: string, pretty: boolean, write: (log: ReturnType<typeof createLogger>) => void): string {
    const fd = openSync(file, 'w');
    try {
      write(createLogger({ fd, pretty, level: 'info' }));
    } finally {
      closeSync(fd);
    }
    return readFileSync(file, 'utf8');
  }

  it('writes one JSON object per line when nobody reads it at a terminal, secrets censored', () => {
    const text = logInto(join(folder, 'json.log'), false, (log) => {
      log.info({ port: 5432, url: 'postgres://u:hunter2@db/x', password: 'hunter2' }, 'started');
      log.debug('not at info level');
    });
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 30, msg: 'started', port: 5432, url: '***', password: '***' });
    expect(text).not.toContain('hunter2');
  });

  it('writes readable lines for a person', () => {
    const text = logInto(join(folder, 'pretty.log'), true, (log) => log.warn({ port: 5432 }, 'slow start'));
    expect(text).toMatch(/WARN.*slow start/);
    expect(() => JSON.parse(text) as unknown).toThrow();
  });
});
