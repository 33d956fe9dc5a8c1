import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { builtCli } from '../helpers/cli.js';

describe('the CLI behind a pipe', () => {
  it('stops quietly with exit code 0 when the reader closes the pipe early (promote … | head)', async () => {
    // the JSON Schema is over 100 kB, far more than a pipe holds, and `head` goes after 10 bytes
    const child = spawn('sh', ['-c', `"${process.execPath}" "${builtCli}" schema | (head -c 10 > /dev/null; sleep 0.2); echo "exit $?"`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise((resolve) => child.once('close', resolve));
    expect(stderr).toBe('');
    expect(stdout).toBe('exit 0\n');
  }, 30_000);
});
