/**
 * The demo talks to `promote server` through its HTTP API, the way any client would.
 */
import { PromoteError } from '../errors.js';

export const ENDED_PHASES = ['Healthy', 'RolledBack', 'Degraded', 'Aborted'] as const;

export interface RolloutView {
  id: number;
  environment: string;
  phase: string;
  phaseReason: string | null;
  currentStep: number;
  weights: Record<string, number>;
}

export interface EventView {
  seq: number;
  type: string;
  actor: string;
  data: Record<string, unknown>;
  createdAt: string;
}

export interface MeasurementView {
  template: string;
  takenAt: string;
  verdict: string;
  reason: string;
}

export interface DemoApi {
  deploy(environment: string, version: string, skipEnvironmentGate?: string): Promise<RolloutView>;
  rollout(id: number): Promise<RolloutView>;
  events(id: number): Promise<EventView[]>;
  measurements(id: number): Promise<MeasurementView[]>;
  resume(environment: string, reason: string): Promise<void>;
  disableFlag(app: string, environment: string, flag: string, reason: string): Promise<void>;
}

export function demoApi(baseUrl: string): DemoApi {
  const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        method,
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (error) {
      throw new PromoteError(`the demo could not reach promote server at ${baseUrl} (${method} ${path}): ${error instanceof Error ? error.message : String(error)}`);
    }
    const answer = (await response.json().catch(() => ({}))) as T & { error?: string; hint?: string };
    if (!response.ok) throw new PromoteError(`promote server refused ${method} ${path}: ${answer.error ?? response.status}`, answer.hint === undefined ? {} : { hint: answer.hint });
    return answer;
  };
  return {
    deploy: (environment, version, skipEnvironmentGate) => call('POST', '/api/deploy', { environment, version, ...(skipEnvironmentGate === undefined ? {} : { skipEnvironmentGate }) }),
    rollout: (id) => call('GET', `/api/rollouts/${id}`),
    events: (id) => call('GET', `/api/rollouts/${id}/events`),
    measurements: (id) => call('GET', `/api/rollouts/${id}/measurements`),
    resume: async (environment, reason) => {
      await call('POST', `/api/environments/${environment}/resume`, { reason });
    },
    disableFlag: async (app, environment, flag, reason) => {
      await call('POST', `/api/apps/${encodeURIComponent(app)}/environments/${encodeURIComponent(environment)}/flags/${encodeURIComponent(flag)}/disable`, { reason });
    },
  };
}
