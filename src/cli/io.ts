import type { Logger } from '../log.js';

/** Everything a command touches outside itself, so the CLI runs the same in a terminal and in a test. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  env: Record<string, string | undefined>;
  /** whether a person is reading stdout: tables and colour instead of plain lines */
  interactive: boolean;
}

export interface CliContext {
  io: CliIo;
  log: Logger;
  globals: GlobalOptions;
}

export interface GlobalOptions {
  databaseUrl?: string;
  config: string;
  logLevel: string;
}

export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    cwd: process.cwd(),
    env: process.env,
    interactive: Boolean(process.stdout.isTTY),
  };
}
