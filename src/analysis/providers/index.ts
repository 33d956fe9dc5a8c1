/**
 * One configured provider per analysis template, from its `provider:` spec. The providers that read
 * Promote's own database (feedback, sdk) need a connection pool and are created beside this, where
 * the pool is; every other type is created here.
 */
import { PromoteError } from '../../errors.js';
import type { ProviderSpec } from '../../spec/schema.js';
import type { Provider } from '../types.js';
import { createBuiltinProvider } from './builtin.js';
import { createCommandProvider } from './command.js';
import { createHttpProvider } from './http.js';
import { createPrometheusProvider } from './prometheus.js';

export interface ProviderContext {
  /** host:port of the environment's router admin (`router.admin`), for builtin metrics */
  routerAdmin?: string;
  /** the folder of promote.yaml: where commands run */
  configDir: string;
}

/** Throws PromoteError for a spec it cannot turn into a provider (no router for builtin, a bad jsonPath). */
export function createProvider(spec: ProviderSpec, context: ProviderContext): Provider {
  switch (spec.type) {
    case 'builtin':
      if (context.routerAdmin === undefined) {
        throw new PromoteError(`builtin metric ${spec.metric} needs the environment's router (router.admin), where the per-version windows are read; this environment has none`);
      }
      return createBuiltinProvider(spec, context.routerAdmin);
    case 'prometheus':
      return createPrometheusProvider(spec);
    case 'http':
      return createHttpProvider(spec);
    case 'command':
      return createCommandProvider(spec, context.configDir);
    case 'feedback':
    case 'sdk':
      throw new PromoteError(`${spec.type} providers read Promote's own database and are created with its connection pool, not by createProvider`);
  }
}
