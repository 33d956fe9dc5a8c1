import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { scratchFolder } from '../../../test/helpers/scratch.js';
import { analysisTemplateSchema } from '../../spec/schema-analysis.js';
import { ProviderError, type MeasureRequest } from '../types.js';
import { parseOutput } from './command.js';
import { createProvider } from './index.js';

// at the top level, not in beforeAll: vitest drops an afterAll registered inside a hook (scratchFolder's cleanup)
const configDir = await scratchFolder('promote-command-provider-');
beforeAll(async () => {
  await writeFile(join(configDir, 'measure.sh'), 'echo "checking $PROMOTE_APP/$PROMOTE_ENVIRONMENT/$PROMOTE_VERSION" >&2\necho "{\\"events\\": 3, \\"total\\": 120}"\n', { mode: 0o755 });
});

function provider(run: string, timeout = '10s') {
  return createProvider(analysisTemplateSchema.shape.provider.parse({ type: 'command', run, timeout }), { configDir });
}
const request = (signal = new AbortController().signal): MeasureRequest => ({ app: 'shop', environment: 'production', version: 'v2', signal });

describe('command provider', () => {
  it('reads one number from stdout, whatever the command says on stderr', async () => {
    const data = await provider('echo "warming up" >&2; echo 0.25').measure(request());
    expect(data.value).toBe(0.25);
    expect(data.source).toMatchObject({ command: 'echo "warming up" >&2; echo 0.25', cwd: configDir, exitCode: 0, stdout: '0.25' });
  });

  it('runs in the folder of promote.yaml with the app, environment and version in its environment', async () => {
    const data = await provider('./measure.sh').measure(request());
    expect(data).toMatchObject({ events: 3, total: 120 });
    const env = await provider('echo "$PROMOTE_APP/$PROMOTE_ENVIRONMENT/$PROMOTE_VERSION" >&2; test "$PROMOTE_APP/$PROMOTE_ENVIRONMENT/$PROMOTE_VERSION" = shop/production/v2 && echo 1').measure(request());
    expect(env.value).toBe(1);
  });

  it('reads JSON: a number, an array of samples, or an object', () => {
    expect(parseOutput('42\n')).toEqual({ value: 42 });
    expect(parseOutput('[1, 2, "3"]')).toEqual({ samples: [1, 2, 3], value: 2, support: 3 });
    expect(parseOutput('[]')).toEqual({ samples: [], support: 0 });
    expect(parseOutput('{"value": 0.1, "support": 40}')).toEqual({ value: 0.1, support: 40 });
    expect(parseOutput('{"samples": [4, 6]}')).toEqual({ samples: [4, 6], value: 5, support: 2 });
    expect(parseOutput('{"events": 2, "total": 50, "value": 0.04}')).toEqual({ events: 2, total: 50, value: 0.04 });
  });

  it.each([
    ['', 'printed nothing on stdout'],
    ['ok', 'printed neither a number nor JSON'],
    ['0.1 0.2', 'printed neither a number nor JSON'],
    ['"fast"', 'printed the string "fast"'],
    ['{"vaule": 1}', 'unknown field "vaule"'],
    ['{"events": 1}', '"events" and "total" go together'],
    ['{"events": 5, "total": 2}', '"events" (5) is more than "total" (2)'],
    ['{"total": -1, "events": 0}', '"total" is -1; expected a count'],
    ['{"samples": [1, null]}', '"samples"[1] is null'],
    ['{}', 'no "value", "samples" or "events"'],
  ])('refuses output %j', (stdout, problem) => {
    const parsed = parseOutput(stdout);
    expect('problem' in parsed && parsed.problem).toContain(problem);
  });

  it('reports a non-zero exit with the exit code and what the command printed', async () => {
    const failed = await provider('echo 12; echo "datadog: 403 Forbidden" >&2; exit 3')
      .measure(request())
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(ProviderError);
    expect((failed as Error).message).toBe('command "echo 12; echo \\"datadog: 403 Forbidden\\" >&2; exit 3" for version v2: exited with 3; stdout: 12; stderr: datadog: 403 Forbidden');
  });

  it('reports output that is not a measurement with an excerpt', async () => {
    await expect(provider('echo "error rate is high"').measure(request())).rejects.toThrow(/printed neither a number nor JSON .*; stdout: error rate is high/);
  });

  it('stops a command that runs too long, and everything it started, promptly', async () => {
    const marker = join(configDir, 'late');
    const started = performance.now();
    await expect(provider(`sleep 2 && touch ${marker} & sleep 30`, '300ms').measure(request())).rejects.toThrow(/did not finish within 300ms; stopped/);
    expect(performance.now() - started).toBeLessThan(4_000);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(existsSync(marker)).toBe(false);
  });

  it('stops at once when the measurement is aborted', async () => {
    const abort = new AbortController();
    const started = performance.now();
    const pending = provider('sleep 30').measure(request(abort.signal));
    setTimeout(() => abort.abort(), 100);
    await expect(pending).rejects.toThrow(/: aborted/);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('never shows a password written in the command', async () => {
    const failed = await provider('echo "fetching https://ops:hunter2@metrics.example/q" >&2; exit 1')
      .measure(request())
      .catch((error: Error) => error.message);
    expect(failed).toContain('https://ops:***@metrics.example/q');
    expect(failed).not.toContain('hunter2');
  });
});
