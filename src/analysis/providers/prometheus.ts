/**
 * PromQL over Prometheus's HTTP API. An instant query gives the value; with `range`, a range query over
 * the last `range` gives the series' values as samples for the compare judges. Every way it can go
 * wrong is a ProviderError carrying the query and Prometheus's own words, so an outage or a typo in
 * the query holds the rollout (Error) instead of rolling back a healthy release (Failed).
 */
import { fillPlaceholders } from '../../spec/placeholders.js';
import type { ProviderSpec } from '../../spec/schema.js';
import type { MeasureRequest, MetricData, Provider } from '../types.js';
import { ProviderError } from '../types.js';
import { displayUrl, excerpt, httpGet, parseJsonBody, type GetAnswer } from './http-get.js';
import { mean } from './json-path.js';

export type PrometheusProviderSpec = Extract<ProviderSpec, { type: 'prometheus' }>;

type Sample = [number, string];
interface Series {
  metric?: Record<string, string>;
  value?: Sample;
  values?: Sample[];
}
interface ApiAnswer {
  status?: string;
  error?: string;
  errorType?: string;
  warnings?: string[];
  data?: { resultType?: string; result?: unknown };
}

export function createPrometheusProvider(spec: PrometheusProviderSpec): Provider {
  const base = spec.address.replace(/\/+$/, '');
  const shownBase = displayUrl(base);
  const headers = authHeaders(spec.auth);
  return {
    kind: 'prometheus',
    async measure(request: MeasureRequest): Promise<MetricData> {
      const query = fillPromQL(spec.query, request);
      const source: Record<string, unknown> = { address: shownBase, query };
      const params = queryParams(spec, query, Date.now(), source);
      const endpoint = spec.range === undefined ? '/api/v1/query' : '/api/v1/query_range';
      source.endpoint = endpoint;
      const doing = `prometheus ${shownBase}: ${spec.range === undefined ? 'query' : `range query over ${spec.range / 1000}s of`} ${JSON.stringify(query)}`;
      const answer = await httpGet({ url: `${base}${endpoint}?${params.toString()}`, headers, timeoutMs: spec.timeout, signal: request.signal, doing });
      const data = resultOf(answer, doing);
      if (data.warnings?.length) source.warnings = data.warnings;
      source.resultType = data.resultType;
      return spec.range === undefined ? instantData(data, source, doing) : rangeData(data, source, doing);
    },
  };
}

/** The API parameters, and the same in readable form in `source`. */
function queryParams(spec: PrometheusProviderSpec, query: string, now: number, source: Record<string, unknown>): URLSearchParams {
  const params = new URLSearchParams({ query });
  if (spec.range === undefined) {
    params.set('time', seconds(now));
    source.time = new Date(now).toISOString();
  } else {
    params.set('start', seconds(now - spec.range));
    params.set('end', seconds(now));
    params.set('step', seconds(spec.step));
    Object.assign(source, { start: new Date(now - spec.range).toISOString(), end: new Date(now).toISOString(), step: spec.step / 1000 });
  }
  // Prometheus stops evaluating when we stop waiting
  params.set('timeout', seconds(spec.timeout));
  return params;
}

type Result = NonNullable<ApiAnswer['data']> & { warnings?: string[] };

/** The `data` of a successful answer; Prometheus's own error text, or what came back instead, as a ProviderError. */
function resultOf(answer: GetAnswer, doing: string): Result {
  let body: ApiAnswer | null;
  try {
    body = parseJsonBody(answer, doing) as ApiAnswer | null;
  } catch (error) {
    if (answer.status >= 200 && answer.status < 300) throw error;
    throw new ProviderError(`${doing}: answered ${answer.status}: ${excerpt(answer.text)}`, { cause: error });
  }
  if (body?.status === 'error') {
    throw new ProviderError(`${doing} failed: ${body.errorType ? `${body.errorType}: ` : ''}${body.error ?? excerpt(answer.text)}`);
  }
  if (answer.status < 200 || answer.status >= 300 || body?.status !== 'success' || typeof body.data !== 'object' || body.data === null) {
    throw new ProviderError(`${doing}: unexpected answer ${answer.status} (is this the Prometheus API?): ${excerpt(answer.text)}`);
  }
  return { ...body.data, ...(body.warnings ? { warnings: body.warnings } : {}) };
}

function instantData(data: Result, source: Record<string, unknown>, doing: string): MetricData {
  let sample: Sample | undefined;
  if (data.resultType === 'scalar') {
    sample = data.result as Sample;
  } else if (data.resultType === 'vector') {
    const series = oneSeries(data.result, source, doing);
    if (series === undefined) return { support: 0, source };
    sample = series.value;
  } else {
    throw new ProviderError(`${doing}: the query returned a ${data.resultType ?? 'result of no type'}; expected one number (an instant vector of one series, or a scalar)`);
  }
  const value = promNumber(sample?.[1]);
  source.value = sample?.[1];
  // NaN is PromQL's "nothing to divide": an error ratio with no requests is no data, not a number to judge
  if (Number.isNaN(value)) return { source };
  if (!Number.isFinite(value)) throw new ProviderError(`${doing}: the query returned ${String(sample?.[1])}; expected a finite number (a division by zero?)`);
  return { value, source };
}

function rangeData(data: Result, source: Record<string, unknown>, doing: string): MetricData {
  if (data.resultType !== 'matrix') throw new ProviderError(`${doing}: the range query returned a ${data.resultType ?? 'result of no type'}; expected a matrix`);
  const series = oneSeries(data.result, source, doing);
  if (series === undefined) return { support: 0, samples: [], source };
  const all = (series.values ?? []).map(([, text]) => promNumber(text));
  const samples = all.filter((value) => Number.isFinite(value));
  Object.assign(source, { points: all.length, dropped: all.length - samples.length });
  if (samples.length === 0) return { support: 0, samples, source };
  return { value: mean(samples), samples, support: samples.length, source };
}

/** The single series of a result, undefined for none; several are an error listing them. */
function oneSeries(result: unknown, source: Record<string, unknown>, doing: string): Series | undefined {
  const list = Array.isArray(result) ? (result as Series[]) : [];
  source.series = list.slice(0, 5).map((series) => formatLabels(series.metric ?? {}));
  source.seriesCount = list.length;
  if (list.length <= 1) return list[0];
  // only the labels that tell the series apart: enough to see which aggregation is missing
  const labelSets = list.map((series) => series.metric ?? {});
  const names = [...new Set(labelSets.flatMap((labels) => Object.keys(labels)))];
  const differing = names.filter((name) => new Set(labelSets.map((labels) => labels[name])).size > 1);
  const shown = labelSets.slice(0, 3).map((labels) => formatLabels(Object.fromEntries(differing.map((name) => [name, labels[name] ?? '']))));
  throw new ProviderError(
    `${doing}: the query must return one series, it returned ${list.length} (differing in ${differing.join(', ')}): ${shown.join(', ')}${list.length > 3 ? ', …' : ''}; aggregate them (sum, avg, max) or narrow the labels`,
  );
}

export function formatLabels(labels: Record<string, string>): string {
  const name = labels.__name__ ?? '';
  const rest = Object.entries(labels)
    .filter(([key]) => key !== '__name__')
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  return `${name}{${rest.join(', ')}}`;
}

/** The query with {{version}}, {{environment}} and {{app}} filled in, escaped for a PromQL string literal. */
export function fillPromQL(query: string, request: Pick<MeasureRequest, 'app' | 'environment' | 'version'>): string {
  return fillPlaceholders(query, { version: escapePromQL(request.version), environment: escapePromQL(request.environment), app: escapePromQL(request.app) });
}

/** Escapes text for the inside of a "..." or '...' PromQL string (Go string escapes). */
export function escapePromQL(text: string): string {
  return text.replace(/[\\"'\n\r\t]/g, (char) => promqlEscapes[char] ?? char);
}

const promqlEscapes: Record<string, string> = { '\\': '\\\\', '"': '\\"', "'": "\\'", '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function authHeaders(auth: PrometheusProviderSpec['auth']): Record<string, string> {
  if (auth?.bearerToken !== undefined) return { authorization: `Bearer ${auth.bearerToken}` };
  if (auth?.basic !== undefined) return { authorization: `Basic ${Buffer.from(`${auth.basic.username}:${auth.basic.password}`).toString('base64')}` };
  return {};
}

/** A sample value as Prometheus writes it: "0.25", "NaN", "+Inf", "-Inf" (which Number() reads as NaN). */
function promNumber(text: string | undefined): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** ms -> seconds as Prometheus reads them: "1700000000.123". */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3).replace(/\.?0+$/, '');
}
