/**
 * Every provider type from one place: those that read Promote's own database (feedback, sdk) with
 * the store's pool, the others from their spec alone. A factory failure (a builtin metric without a
 * router, say) becomes a provider whose every measurement is an Error that says so: the rollout holds
 * and a person reads why, rather than the analysis failing as if the release were bad.
 */
import type pg from 'pg';
import { describeCause } from '../../errors.js';
import type { ProviderSpec } from '../../spec/schema.js';
import { ProviderError, type Provider } from '../types.js';
import { createFeedbackProvider } from './feedback.js';
import { createProvider, type ProviderContext } from './index.js';
import { createSdkProvider } from './sdk.js';

export interface AllProvidersContext extends ProviderContext {
  pool: pg.Pool;
  app: string;
}

export function createProviderFor(spec: ProviderSpec, context: AllProvidersContext): Provider {
  try {
    if (spec.type === 'feedback') return createFeedbackProvider(spec, { pool: context.pool, app: context.app });
    if (spec.type === 'sdk') return createSdkProvider(spec, { pool: context.pool, app: context.app });
    return createProvider(spec, context);
  } catch (error) {
    const problem = describeCause(error);
    return {
      kind: spec.type,
      measure: () => Promise.reject(new ProviderError(problem, { cause: error })),
    };
  }
}
