import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/program.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process with captured output: fast, and exercises the real command code. */
export async function runInProcess(args: string[], options: { cwd: string; env?: Record<string, string | undefined> }): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    cwd: options.cwd,
    env: { PROMOTE_LOG_LEVEL: 'silent', ...options.env },
    interactive: false,
  });
  return { code, stdout, stderr };
}

export const builtCli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Starts the built CLI as a real process (the global setup builds dist/ first). */
export function spawnCli(args: string[], options: { cwd: string; env?: Record<string, string | undefined> }): ChildProcess {
  return spawn(process.execPath, [builtCli, ...args], {
    cwd: options.cwd,
    env: { ...process.env, PROMOTE_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

export async function runBuilt(args: string[], options: { cwd: string; env?: Record<string, string | undefined> }): Promise<CliResult> {
  return collect(spawnCli(args, options));
}
