/**
 * The analyses a controller runs for one environment: starts a run per startAnalysis action, stops it
 * on stopAnalysis, and interrupts them all when the controller stops (the next controller continues
 * them from their recorded measurements).
 */
import type pg from 'pg';
import { ActionInterrupted } from '../engine/controller.js';
import type { Outcome } from '../engine/state.js';
import { PromoteError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AnalysisTemplateSpec, EnvironmentSpec } from '../spec/index.js';
import { rolloutMeasurements } from '../store/analysis.js';
import { judge } from './judges/index.js';
import { createProviderFor } from './providers/all.js';
import { runAnalysis } from './runner.js';

export interface AnalysisServiceOptions {
  pool: pg.Pool;
  environment: EnvironmentSpec;
  templates: Readonly<Record<string, AnalysisTemplateSpec>>;
  configDir: string;
  log?: Logger;
}

export interface AnalysisRequest {
  app: string;
  rolloutId: number;
  actionId: string;
  templates: readonly string[];
  score: { pass: number; marginal: number };
  continuous?: boolean;
  candidate: string;
  baseline: string | null;
}

export interface AnalysisService {
  run(request: AnalysisRequest): Promise<Outcome>;
  stop(actionId: string): void;
  close(): void;
}

export function createAnalysisService(options: AnalysisServiceOptions): AnalysisService {
  const running = new Map<string, AbortController>();
  let closed = false;
  return {
    async run(request) {
      if (closed) throw new ActionInterrupted(`analysis ${request.actionId}`);
      const missing = request.templates.filter((name) => options.templates[name] === undefined);
      if (missing.length > 0) {
        throw new PromoteError(`promote.yaml has no analysis template ${missing.join(', ')} any more; it was there when the rollout was planned`);
      }
      const abort = new AbortController();
      running.get(request.actionId)?.abort();
      running.set(request.actionId, abort);
      try {
        const result = await runAnalysis({
          measurements: rolloutMeasurements(options.pool, request.rolloutId, request.actionId),
          app: request.app,
          environment: options.environment.name,
          candidate: request.candidate,
          baseline: request.baseline,
          templates: request.templates.map((name) => ({ name, spec: options.templates[name]! })),
          score: request.score,
          continuous: request.continuous === true,
          provider: (_name, spec) => createProviderFor(spec.provider, { app: request.app, pool: options.pool, configDir: options.configDir, ...(options.environment.router ? { routerAdmin: options.environment.router.admin } : {}) }),
          judge,
          signal: abort.signal,
          ...(options.log ? { log: options.log } : {}),
        });
        if (result.verdict === undefined) {
          if (closed) throw new ActionInterrupted(`analysis ${request.actionId}`);
          return { status: 'succeeded', detail: 'stopped before a verdict', evidence: result };
        }
        return { status: 'succeeded', verdict: result.verdict, detail: result.reason, evidence: result };
      } finally {
        if (running.get(request.actionId) === abort) running.delete(request.actionId);
      }
    },
    stop(actionId) {
      running.get(actionId)?.abort();
    },
    close() {
      closed = true;
      for (const abort of running.values()) abort.abort();
    },
  };
}
