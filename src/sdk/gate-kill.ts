/**
 * The gate's circuit breaker: counts new-path failures per flag in a sliding window and, past the
 * limit, treats the flag as off in this process at once and asks the Promote server to turn it off
 * for everyone (POST /api/client/features/:name/disable with the client token).
 *
 * When the local kill ends: this process must not switch the new path back on by itself, but it must
 * follow a human who turns the flag on again. So it holds until the flags client shows a ruleset
 * revision newer than the one the server answered (a change made after the kill). When the server
 * could not be told (unreachable, no kill switch configured, an error), it holds until a revision
 * newer than the one in use at the kill arrives and the flag is on in it for the caller.
 */
import type { FlagContext } from '../flags/model.js';
import { PromoteError, describeCause } from '../errors.js';
import type { FlagsClient } from './flags.js';
import type { Reporter } from './report.js';

export interface KillSwitchOptions {
  flags: Pick<FlagsClient, 'isEnabled' | 'revision'>;
  disableAfter: { failures: number; withinMs: number };
  killSwitch?: { url: string; token: string; instance?: string };
  reporter?: Pick<Reporter, 'count' | 'observe'>;
  /** told when the server could not be told; never awaited */
  onError: (error: Error, flag: string) => void;
}

interface Kill {
  /** the flags client's revision when the kill began */
  atRevision: number;
  /** the revision the server answered: set once it turned the flag off (or found it off) */
  answered?: number;
  /** the server was asked and did not answer */
  unreachable: boolean;
}

export interface KillSwitch {
  /** counts one failure; true when this one killed the flag */
  failed(flag: string, error: Error): boolean;
  /** whether the flag is killed here; ends the kill when the flags show what lifts it */
  holds(flag: string, context?: FlagContext): boolean;
  killedFlags(): string[];
  /** resolves when every kill-switch request in flight has finished (tests, shutdown) */
  settled(): Promise<void>;
}

const REQUEST_TIMEOUT_MS = 5000;

export function createKillSwitch(options: KillSwitchOptions): KillSwitch {
  const { flags, disableAfter } = options;
  const failures = new Map<string, number[]>();
  const kills = new Map<string, Kill>();
  const requests = new Set<Promise<void>>();
  const revisionNow = () => {
    try {
      return flags.revision() ?? -1;
    } catch {
      return -1;
    }
  };

  const tellServer = async (flag: string, kill: Kill, reason: string) => {
    const target = options.killSwitch!;
    const url = `${target.url.replace(/\/+$/, '')}/api/client/features/${encodeURIComponent(flag)}/disable`;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: target.token },
        body: JSON.stringify({ reason, ...(target.instance ? { instance: target.instance } : {}) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`answered ${response.status}: ${text.slice(0, 300)}`);
      const revision = (JSON.parse(text) as { revision?: unknown }).revision;
      if (typeof revision !== 'number') throw new Error(`answered without a revision: ${text.slice(0, 300)}`);
      kill.answered = revision;
    } catch (error) {
      kill.unreachable = true;
      options.reporter?.count('gate.kill_switch_failure');
      options.onError(new PromoteError(`gate: could not turn flag ${flag} off on the Promote server (POST ${url}): ${describeCause(error)}; it stays off in this process until the flag changes`, { cause: error }), flag);
    }
  };

  const holds = (flag: string, context?: FlagContext): boolean => {
    const kill = kills.get(flag);
    if (!kill) return false;
    const revision = revisionNow();
    let lifted = false;
    if (kill.answered !== undefined) lifted = revision > kill.answered;
    else if (kill.unreachable && revision > kill.atRevision) lifted = context !== undefined && safeIsEnabled(flags, flag, context);
    if (lifted) kills.delete(flag);
    return !lifted;
  };

  return {
    failed(flag, error) {
      if (kills.has(flag)) return false;
      const now = performance.now();
      const recent = (failures.get(flag) ?? []).filter((at) => now - at < disableAfter.withinMs);
      recent.push(now);
      failures.set(flag, recent);
      if (recent.length < disableAfter.failures) return false;
      failures.delete(flag);
      const kill: Kill = { atRevision: revisionNow(), unreachable: options.killSwitch === undefined };
      kills.set(flag, kill);
      options.reporter?.count('gate.disabled');
      if (options.killSwitch) {
        const reason = `gate: ${recent.length} failures of the new path within ${disableAfter.withinMs} ms; the last: ${error.message}`.slice(0, 1000);
        const request = tellServer(flag, kill, reason).finally(() => requests.delete(request));
        requests.add(request);
      }
      return true;
    },
    holds,
    killedFlags: () => [...kills.keys()].filter((flag) => holds(flag)),
    async settled() {
      while (requests.size > 0) await Promise.all([...requests]);
    },
  };
}

function safeIsEnabled(flags: Pick<FlagsClient, 'isEnabled'>, flag: string, context: FlagContext): boolean {
  try {
    return flags.isEnabled(flag, context);
  } catch {
    return false;
  }
}
