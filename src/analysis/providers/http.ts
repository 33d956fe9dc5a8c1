/**
 * A number from any JSON endpoint: GET the URL, pick the number with `jsonPath`. For teams whose
 * metrics live behind an HTTP API (a vendor's, or their own service's stats page) rather than in
 * Prometheus. Header values are sent but never shown: they are where tokens live.
 */
import { PromoteError } from '../../errors.js';
import { fillPlaceholders } from '../../spec/placeholders.js';
import type { ProviderSpec } from '../../spec/schema.js';
import type { MeasureRequest, MetricData, Provider } from '../types.js';
import { ProviderError } from '../types.js';
import { displayUrl, excerpt, httpGet, parseJsonBody } from './http-get.js';
import { formatJsonPath, JsonPathError, numbersAtPath, parseJsonPath, type PathSegment } from './json-path.js';

export type HttpProviderSpec = Extract<ProviderSpec, { type: 'http' }>;

/** Throws PromoteError when the jsonPath does not parse: a mistake in the file, not a failed measurement. */
export function createHttpProvider(spec: HttpProviderSpec): Provider {
  let path: PathSegment[];
  try {
    path = parseJsonPath(spec.jsonPath);
  } catch (error) {
    if (error instanceof JsonPathError) throw new PromoteError(`http provider ${displayUrl(spec.url)}: ${error.message}`, { cause: error });
    throw error;
  }
  const shownPath = formatJsonPath(path);
  return {
    kind: 'http',
    async measure(request: MeasureRequest): Promise<MetricData> {
      const values = { version: request.version, environment: request.environment, app: request.app };
      const encoded = { version: encodeURIComponent(request.version), environment: encodeURIComponent(request.environment), app: encodeURIComponent(request.app) };
      const url = fillPlaceholders(spec.url, encoded);
      const headers = Object.fromEntries(Object.entries(spec.headers ?? {}).map(([name, value]) => [name, fillPlaceholders(value, values)]));
      const shownUrl = displayUrl(url);
      const doing = `http GET ${shownUrl}`;
      const answer = await httpGet({ url, headers, timeoutMs: spec.timeout, signal: request.signal, doing });
      if (answer.status < 200 || answer.status >= 300) throw new ProviderError(`${doing}: answered ${answer.status}: ${excerpt(answer.text) || '(empty body)'}`);
      const document = parseJsonBody(answer, doing);
      const found = numbersAtPath(document, path);
      if (!found.ok) throw new ProviderError(`${doing}: ${found.problem}`);
      const source: Record<string, unknown> = { url: shownUrl, status: answer.status, jsonPath: shownPath, headers: Object.keys(headers) };
      if (found.samples === undefined) return { value: found.value, source: { ...source, value: found.value } };
      return { value: found.value, samples: found.samples, support: found.samples.length, source: { ...source, samples: found.samples.length } };
    },
  };
}
