/**
 * Every failure Promote reports carries what Promote was doing, so a user reading one line knows
 * where to look. The exit code tells CI what kind of failure it was.
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class PromoteError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  /** the HTTP status the API answers with (403 refused, 404 unknown, 409 conflict, 423 frozen…); unset: derived by the API */
  readonly status: number | undefined;

  constructor(message: string, options: { cause?: unknown; exitCode?: ExitCode; hint?: string; status?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PromoteError';
    this.exitCode = options.exitCode ?? ExitCode.failed;
    this.hint = options.hint;
    this.status = options.status;
  }
}

/**
 * Something the caller named that does not exist: a rollout, an environment, a release, a flag. The API
 * answers 404; everything else a PromoteError says is a conflict (409) unless it gives its own status.
 */
export function notFound(message: string, options: { cause?: unknown; exitCode?: ExitCode; hint?: string } = {}): PromoteError {
  return new PromoteError(message, { ...options, status: 404 });
}

/** Bad command-line usage: a missing argument, an unknown option, a malformed value. Exit code 2. */
export class UsageError extends PromoteError {
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, { ...options, exitCode: ExitCode.usage });
    this.name = 'UsageError';
  }
}

/** Wraps an error from a dependency or the database with what Promote was doing when it happened. */
export function wrapError(doing: string, cause: unknown, options: { hint?: string; exitCode?: ExitCode } = {}): PromoteError {
  return new PromoteError(`${doing}: ${describeCause(cause)}`, { cause, ...options });
}

export function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    const text = cause.message || cause.name || String(cause);
    if (cause instanceof AggregateError && cause.errors.length > 0) {
      return cause.errors.map(describeCause).join('; ');
    }
    return typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text;
  }
  return String(cause);
}

/**
 * Replaces the password in any URL-looking text, and any API token,, so secrets never reach logs, events or messages.
 * The scheme is bounded to 32 characters: an unbounded `[a-z0-9+.-]*` rescanned a long run of
 * letters from every start, so one 100 kB name in promote.yaml or a request took 12 s (quadratic).
 * A longer run before `://` still matches from a later start, and the text before a match is kept,
 * so the output is the same.
 */
export function redactSecrets(text: string): string {
  // and Promote's own API tokens and session secrets (pmt_, pms_ and base64url; a shorter run too: it may be cut off)
  return text.replace(/([a-z][a-z0-9+.-]{0,31}:\/\/[^:/?#@\s]*:)([^@/\s]*)@/gi, '$1***@').replace(/\b(pmt|pms)_[A-Za-z0-9_-]{8,}/g, '$1_***');
}

/** A failure the command has already explained on its own output: the CLI only sets the exit code. */
export class ReportedFailure extends PromoteError {
  constructor(message: string, exitCode: ExitCode = ExitCode.failed) {
    super(message, { exitCode });
    this.name = 'ReportedFailure';
  }
}
