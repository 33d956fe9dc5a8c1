import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  /** human-readable lines; by default when a person is at the terminal */
  pretty?: boolean;
  /** file descriptor to write to; stderr, so stdout stays for results and --json */
  fd?: number;
}

/** Logs go to stderr, synchronously, so nothing is lost when the CLI exits right after a failure. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const fd = options.fd ?? 2;
  const level = options.level ?? 'info';
  const wantsPretty = options.pretty ?? (fd === 2 ? process.stderr.isTTY : false);
  const base = { level, base: undefined, redact: { paths: ['password', '*.password', 'url', '*.url', 'databaseUrl', '*.databaseUrl'], censor: '***' } };
  if (wantsPretty) {
    return pino(base, pretty({ destination: fd, sync: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' }));
  }
  return pino(base, pino.destination({ fd, sync: true }));
}
