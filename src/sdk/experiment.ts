/**
 * Scientist-style experiments: run the code in use (the control) and a candidate side by side, give
 * the caller the control's result, and compare the two in the background. The outcomes are reported
 * as metrics, so a rollout's `sdk` analysis can judge a version by its mismatches.
 *
 * The caller only ever waits for the control: the candidate has a time budget, and whatever it does
 * (hang, throw, run slow) is judged after `run` has already answered. A candidate that does its work
 * synchronously cannot be cut short, since it runs on the caller's thread; make candidates async.
 *
 * What may throw to the caller: the control's own error, and a malformed spec (a programming error,
 * raised as a PromoteError naming the field, before either side runs).
 */
import { isDeepStrictEqual } from 'node:util';
import { PromoteError } from '../errors.js';
import { murmur3 } from '../flags/murmur3.js';
import type { Reporter } from './report.js';

export interface ExperimentSpec<T> {
  /** /^[a-z][a-z0-9_-]{0,40}$/, used in metric names */
  name: string;
  /** the control: its result (or error) is what the caller gets */
  use: () => T | Promise<T>;
  /** the candidate */
  try: () => T | Promise<T>;
  /** deterministic sampling key (murmur3 of `${name}:${key}`) */
  key?: string;
  /** 0..1, default 1; below 1 a key is required */
  sampleRate?: number;
  /** candidate budget, default 1000 ms; never delays the control */
  timeoutMs?: number;
  /** default util.isDeepStrictEqual */
  compare?: (control: T, candidate: T) => boolean;
  /** a true one turns a mismatch into 'ignored' */
  ignore?: Array<(control: T, candidate: T) => boolean>;
  /** what onResult sees instead of the raw values */
  clean?: (value: T) => unknown;
}

/**
 * 'error' means the experiment's own callbacks (compare, ignore, clean) threw; a candidate that
 * throws is a 'mismatch' unless the control threw the same message, which is a 'match'.
 */
export type ExperimentOutcome = 'match' | 'mismatch' | 'ignored' | 'error' | 'timeout' | 'skipped';

export interface ExperimentResult {
  name: string;
  key?: string;
  outcome: ExperimentOutcome;
  controlMs: number;
  candidateMs?: number;
  /** the cleaned value, or `{ error: message }` when that side threw */
  control?: unknown;
  candidate?: unknown;
  /** the candidate's error, or the callback's error for outcome 'error' */
  error?: string;
}

export interface ExperimenterOptions {
  reporter?: Pick<Reporter, 'count' | 'observe'>;
  /** candidates in flight per experiment name, default 8; over it the run is 'skipped' */
  maxConcurrent?: number;
  /** told about every judged run; its errors are ignored */
  onResult?: (result: ExperimentResult) => void;
}

export interface Experimenter {
  run<T>(spec: ExperimentSpec<T>): Promise<T>;
  /** candidates of this experiment running now (settled or timed-out ones no longer count) */
  inFlight(name: string): number;
  /** resolves when every running candidate has settled or timed out and its result was reported */
  settled(): Promise<void>;
}

/** an experiment's name, and so a dual writer's (its reads are compared under it): it goes into metric names */
export const EXPERIMENT_NAME = /^[a-z][a-z0-9_-]{0,40}$/;
const DEFAULT_TIMEOUT_MS = 1000;

type Settled<T> = { ok: true; value: T; ms: number } | { ok: false; error: unknown; ms: number };

/** Whether a key takes part in an experiment at this rate: the same answer in every process. */
export function experimentSampled(name: string, key: string, sampleRate: number): boolean {
  if (sampleRate >= 1) return true;
  if (sampleRate <= 0) return false;
  return murmur3(`${name}:${key}`) / 2 ** 32 < sampleRate;
}

export function createExperimenter(options: ExperimenterOptions = {}): Experimenter {
  const maxConcurrent = options.maxConcurrent ?? 8;
  if (!Number.isSafeInteger(maxConcurrent) || maxConcurrent < 0) {
    throw new PromoteError(`createExperimenter: maxConcurrent must be a whole number >= 0, got ${String(maxConcurrent)}`);
  }
  const running = new Map<string, number>();
  const background = new Set<Promise<void>>();

  const safely = (what: () => void) => {
    try {
      what();
    } catch {
      // reporting must never reach the caller: the reporter and onResult are best effort
    }
  };
  const report = (result: ExperimentResult) => {
    safely(() => options.reporter?.count(`experiment.${result.outcome}`));
    safely(() => options.reporter?.count(`experiment.${result.name}.${result.outcome}`));
    if (result.candidateMs !== undefined) safely(() => options.reporter?.observe('experiment.candidate_ms', result.candidateMs!));
    safely(() => options.onResult?.(result));
  };
  const track = (work: Promise<void>) => {
    const tracked = work.catch(() => undefined).finally(() => background.delete(tracked));
    background.add(tracked);
  };

  return {
    run<T>(spec: ExperimentSpec<T>): Promise<T> {
      validate(spec);
      const { name, key } = spec;
      const started = performance.now();
      // validate made sure a key is there whenever the rate is below 1
      if (!experimentSampled(name, key ?? '', spec.sampleRate ?? 1)) {
        return Promise.resolve().then(spec.use);
      }
      const skip = (running.get(name) ?? 0) >= maxConcurrent;
      const control = settle(spec.use, started);
      if (skip) {
        track(control.then((c) => report({ name, ...(key === undefined ? {} : { key }), outcome: 'skipped', controlMs: c.ms })));
      } else {
        running.set(name, (running.get(name) ?? 0) + 1);
        const candidate = withinBudget(settle(spec.try, performance.now()), spec.timeoutMs ?? DEFAULT_TIMEOUT_MS).finally(() => {
          const left = (running.get(name) ?? 1) - 1;
          if (left === 0) running.delete(name);
          else running.set(name, left);
        });
        track(Promise.all([control, candidate]).then(([c, t]) => report(judge(spec, c, t))));
      }
      return control.then((c) => {
        // the app's own error, passed on exactly as thrown (whatever its type)
        if (!c.ok) throw c.error;
        return c.value;
      });
    },
    inFlight: (name) => running.get(name) ?? 0,
    async settled() {
      while (background.size > 0) await Promise.all([...background]);
    },
  };
}

function validate<T>(spec: ExperimentSpec<T>): void {
  const fail = (message: string) => {
    throw new PromoteError(`experiment ${JSON.stringify(spec?.name)}: ${message}`);
  };
  if (typeof spec?.name !== 'string' || !EXPERIMENT_NAME.test(spec.name)) fail(`name must match ${String(EXPERIMENT_NAME)} (it is used in metric names)`);
  if (typeof spec.use !== 'function') fail('use must be a function (the control)');
  if (typeof spec.try !== 'function') fail('try must be a function (the candidate)');
  const rate = spec.sampleRate ?? 1;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) fail(`sampleRate must be a number from 0 to 1, got ${String(spec.sampleRate)}`);
  if (rate < 1 && (typeof spec.key !== 'string' || spec.key === '')) fail('key is required when sampleRate is below 1 (sampling is decided per key)');
  if (spec.key !== undefined && typeof spec.key !== 'string') fail('key must be a string');
  const timeout = spec.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) fail(`timeoutMs must be a positive number of milliseconds, got ${String(spec.timeoutMs)}`);
}

/** Calls one side, catching synchronous throws too, and times it. */
function settle<T>(side: () => T | Promise<T>, started: number): Promise<Settled<T>> {
  // an async wrapper turns a synchronous throw into a rejection like any other
  const pending = (async () => side())();
  return pending.then(
    (value) => ({ ok: true as const, value, ms: performance.now() - started }),
    (error: unknown) => ({ ok: false as const, error, ms: performance.now() - started }),
  );
}

/** The candidate's outcome, or 'timeout' when it is still running after its budget. */
function withinBudget<T>(candidate: Promise<Settled<T>>, timeoutMs: number): Promise<Settled<T> | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
    timer.unref();
  });
  return Promise.race([candidate, expired]).finally(() => clearTimeout(timer));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function judge<T>(spec: ExperimentSpec<T>, control: Settled<T>, candidate: Settled<T> | 'timeout'): ExperimentResult {
  const base = { name: spec.name, ...(spec.key === undefined ? {} : { key: spec.key }), controlMs: control.ms };
  try {
    const clean = (side: Settled<T>) => (side.ok ? (spec.clean ? spec.clean(side.value) : side.value) : { error: message(side.error) });
    if (candidate === 'timeout') return { ...base, outcome: 'timeout', control: clean(control) };
    const seen = { ...base, candidateMs: candidate.ms, control: clean(control), candidate: clean(candidate), ...(candidate.ok ? {} : { error: message(candidate.error) }) };
    if (!control.ok || !candidate.ok) {
      const same = !control.ok && !candidate.ok && message(control.error) === message(candidate.error);
      return { ...seen, outcome: same ? 'match' : 'mismatch' };
    }
    const equal = spec.compare ?? isDeepStrictEqual;
    if (equal(control.value, candidate.value)) return { ...seen, outcome: 'match' };
    const ignored = (spec.ignore ?? []).some((rule) => rule(control.value, candidate.value));
    return { ...seen, outcome: ignored ? 'ignored' : 'mismatch' };
  } catch (error) {
    return { ...base, ...(candidate === 'timeout' ? {} : { candidateMs: candidate.ms }), outcome: 'error', error: `compare, ignore or clean threw: ${message(error)}` };
  }
}
