/**
 * A target runs versions of the app: it starts a version's instances, says where they answer, and
 * stops them. The engine calls it; the router sends traffic to the URLs it returns.
 */
import type { Logger } from '../log.js';
import type { TargetSpec } from '../spec/schema.js';
import { createExternalTarget } from './external.js';
import { createProcessTarget } from './process.js';

export interface DeployRequest {
  app: string;
  environment: string;
  version: string;
  /** extra environment for the instances (RELEASE, PROMOTE_VERSION... are added by the target) */
  env?: Record<string, string>;
  /** artifact path recorded for the release, if any (exported as PROMOTE_ARTIFACT) */
  artifact?: string;
}

export interface VersionInstances {
  version: string;
  urls: string[];
}

export type InstanceState = 'starting' | 'ready' | 'unready' | 'crashed' | 'stopping' | 'stopped';

export interface InstanceStatus {
  version: string;
  index: number;
  url: string;
  pid?: number;
  state: InstanceState;
  restarts: number;
  /** when the instance entered its state (ISO 8601) */
  since: string;
}

export interface Target {
  /**
   * Starts the version's instances, or adopts them when they already run (after a controller
   * restart); resolves once all are ready, rejects (after cleaning up what it started) when readiness
   * does not come within the timeout. Idempotent: deploying a version that is already up returns its
   * instances.
   */
  deploy(request: DeployRequest, signal?: AbortSignal): Promise<VersionInstances>;
  /**
   * Stops a version's instances gracefully: SIGTERM, wait up to the drain timeout, then SIGKILL. The
   * caller has already taken them out of the router. Idempotent.
   */
  teardown(version: string): Promise<void>;
  /** The instances of a version as running now (undefined when none). */
  instances(version: string): Promise<VersionInstances | undefined>;
  status(): Promise<InstanceStatus[]>;
  /**
   * Stops supervising (health loops, timers). Does NOT stop the instances: they keep serving traffic
   * while the controller is away.
   */
  close(): Promise<void>;
}

export interface TargetOptions {
  app: string;
  environment: string;
  /** where instance records and logs live: `<stateDir>/<environment>/<version>/` */
  stateDir: string;
  log?: Logger;
  /** folder of promote.yaml: commands run there */
  configDir: string;
}

export function createTarget(spec: TargetSpec, options: TargetOptions): Target {
  switch (spec.type) {
    case 'process': {
      // specs built by hand (tests, tools) may lack the newer sections: the targets' defaults apply then
      const liveness = spec.liveness as typeof spec.liveness | undefined;
      return createProcessTarget(spec, {
        ...options,
        tuning: liveness ? { livenessIntervalMs: liveness.interval, livenessFailures: liveness.failureThreshold, ...(liveness.path ? { livenessPath: liveness.path } : {}) } : {},
      });
    }
    case 'external': {
      const readiness = spec.readiness as typeof spec.readiness | undefined;
      return createExternalTarget(spec, {
        ...options,
        tuning: {
          ...(readiness ? { readyTimeoutMs: readiness.timeout, readyIntervalMs: readiness.interval, ...(readiness.path ? { readinessPath: readiness.path } : {}) } : {}),
          ...((spec.commandTimeout as number | undefined) !== undefined ? { commandTimeoutMs: spec.commandTimeout } : {}),
        },
      });
    }
  }
}
