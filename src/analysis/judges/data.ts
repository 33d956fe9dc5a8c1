/**
 * What a compare judge takes from a provider's MetricData, checked. The rules:
 * - NaN in samples is "no data at that point" (a Prometheus ratio at a step without traffic is
 *   0/0): dropped and counted, so a series with gaps is judged on the points it has;
 * - an infinite sample, or counts that are not counts (negative, fractional, events above total),
 *   are data no provider should return: a ProviderError naming the version and position, which the
 *   runner records as an Error measurement, never as a failure of the release.
 * Data the provider did not give at all (no samples, no counts) is `undefined`: the judge says "no
 * data".
 */
import { ProviderError, type MetricData } from '../types.js';

export type Version = 'candidate' | 'baseline';

export interface Samples {
  values: number[];
  /** NaN values left out */
  droppedNaN: number;
}

export interface Counts {
  events: number;
  total: number;
}

export function samplesOf(data: MetricData, version: Version): Samples | undefined {
  if (data.samples === undefined) return undefined;
  const values: number[] = [];
  let droppedNaN = 0;
  data.samples.forEach((value, index) => {
    if (Number.isNaN(value)) droppedNaN++;
    else if (!Number.isFinite(value)) throw new ProviderError(`the ${version}'s samples[${index}] is ${String(value)}: samples must be finite numbers`);
    else values.push(value);
  });
  return { values, droppedNaN };
}

export function countsOf(data: MetricData, version: Version): Counts | undefined {
  const { events, total } = data;
  if (events === undefined || total === undefined) return undefined;
  if (!Number.isInteger(total) || total < 0) throw new ProviderError(`the ${version}'s total is ${String(total)}: it must be a whole number of at least 0`);
  if (!Number.isInteger(events) || events < 0 || events > total) {
    throw new ProviderError(`the ${version}'s events are ${String(events)}: they must be a whole number from 0 to the total (${total})`);
  }
  return { events, total };
}
