import { ErrorCode, GeneralError, OpenFeatureEventEmitter, ProviderEvents, type EvaluationContext, type JsonValue, type Provider, type ResolutionDetails } from '@openfeature/server-sdk';
import { resolve, toFlagContext, valueType, type FlagValue } from '../flags/openfeature-mapping.js';
import { createFlagsClient, type FlagsClient, type FlagsClientOptions } from './flags.js';

type ValueKind = 'boolean' | 'string' | 'number' | 'object';

/**
 * An OpenFeature server provider over Promote's flags client: local evaluation from the streamed
 * ruleset, with OpenFeature's reasons and error codes (FLAG_NOT_FOUND, TYPE_MISMATCH, PARSE_ERROR,
 * INVALID_CONTEXT, PROVIDER_NOT_READY), and its events: READY, CONFIGURATION_CHANGED on every new
 * revision, STALE while serving the last ruleset without a server, ERROR with neither ruleset nor server.
 * Values follow the same rules as Promote's OFREP endpoints (src/flags/openfeature-mapping.ts).
 *
 *   OpenFeature.setProviderAndWait(new PromoteFlagsProvider({ url, token }));
 */
export class PromoteFlagsProvider implements Provider {
  readonly metadata = { name: 'Promote' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly client: FlagsClient;
  private readonly ownsClient: boolean;
  private readonly unsubscribe: Array<() => void> = [];

  /** give it the client's options (the provider then owns and closes the client) or a client of your own */
  constructor(clientOrOptions: FlagsClient | FlagsClientOptions) {
    this.ownsClient = !('evaluate' in clientOrOptions);
    this.client = 'evaluate' in clientOrOptions ? clientOrOptions : createFlagsClient(clientOrOptions);
    this.unsubscribe.push(
      this.client.on('change', (revision) => this.events.emit(ProviderEvents.ConfigurationChanged, { message: `flags revision ${revision}`, metadata: { revision } })),
      this.client.on('status', (status) => {
        if (status === 'READY') this.events.emit(ProviderEvents.Ready, { message: 'flags current' });
        else if (status === 'STALE') this.events.emit(ProviderEvents.Stale, { message: 'serving the last ruleset: the Promote server cannot be reached' });
        else if (status === 'ERROR') this.events.emit(ProviderEvents.Error, { message: 'no ruleset: the Promote server cannot be reached and there is no cache file' });
      }),
    );
  }

  /** resolves when a ruleset is in place (from the server, or the cache file: then STALE follows) */
  async initialize(): Promise<void> {
    const how = await this.client.ready();
    if (how === 'none') throw new GeneralError('no flags ruleset: the Promote server could not be reached and there is no cache file');
    if (how === 'cache') queueMicrotask(() => this.events.emit(ProviderEvents.Stale, { message: 'started from the cache file: the Promote server cannot be reached' }));
  }

  async onClose(): Promise<void> {
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    if (this.ownsClient) await this.client.close();
  }

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> {
    return this.settled(flagKey, defaultValue, context, 'boolean');
  }

  resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>> {
    return this.settled(flagKey, defaultValue, context, 'string');
  }

  resolveNumberEvaluation(flagKey: string, defaultValue: number, context: EvaluationContext): Promise<ResolutionDetails<number>> {
    return this.settled(flagKey, defaultValue, context, 'number');
  }

  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T, context: EvaluationContext): Promise<ResolutionDetails<T>> {
    return this.settled(flagKey, defaultValue, context, 'object');
  }

  private settled<T>(flagKey: string, defaultValue: T, context: EvaluationContext, kind: ValueKind): Promise<ResolutionDetails<T>> {
    return Promise.resolve(this.resolveTyped(flagKey, defaultValue, context, kind));
  }

  /** The synchronous core, also usable without OpenFeature. */
  resolveTyped<T>(flagKey: string, defaultValue: T, context: EvaluationContext, kind: ValueKind): ResolutionDetails<T> {
    const failed = (errorCode: ErrorCode, errorMessage: string, variant?: string): ResolutionDetails<T> => ({ value: defaultValue, reason: 'ERROR', errorCode, errorMessage, ...(variant ? { variant } : {}) });
    const ruleset = this.client.ruleset();
    const flagContext = toFlagContext(context);
    if (!flagContext.ok) return failed(ErrorCode.INVALID_CONTEXT, flagContext.message);
    const evaluation = this.client.evaluate(flagKey, flagContext.context);
    if (!ruleset || evaluation.errorCode === 'PROVIDER_NOT_READY') return failed(ErrorCode.PROVIDER_NOT_READY, evaluation.errorMessage ?? 'no ruleset yet');
    const resolution = resolve(ruleset, { ...evaluation, errorCode: evaluation.errorCode });
    if (!resolution.ok) return failed(ErrorCode[resolution.errorCode], resolution.errorDetails, resolution.variant);
    if (valueType(resolution.value) !== kind) return failed(ErrorCode.TYPE_MISMATCH, `flag ${flagKey} is ${describeValue(resolution.value)}, asked for ${kind === 'object' ? 'an object' : `a ${kind}`}`, resolution.variant);
    return { value: resolution.value as T, variant: resolution.variant, reason: resolution.reason, flagMetadata: { revision: ruleset.revision } };
  }
}

function describeValue(value: FlagValue): string {
  const kind = valueType(value);
  return kind === 'object' ? 'an object' : `a ${kind}`;
}
