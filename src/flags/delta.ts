/**
 * Unleash's delta API (`/api/client/delta`): instead of the whole ruleset, a client receives events
 * that change the one it holds. Applying them gives a new ruleset; the one passed in is not modified,
 * so a compiled copy of it stays valid while the new one is compiled.
 */
import type { ClientFeature, ClientRuleset, Segment } from './model.js';

export type DeltaEvent =
  | { eventId: number; type: 'hydration'; features: ClientFeature[]; segments?: Segment[] }
  | { eventId: number; type: 'feature-updated'; feature: ClientFeature }
  | { eventId: number; type: 'feature-removed'; featureName: string; project?: string }
  | { eventId: number; type: 'segment-updated'; segment: Segment }
  | { eventId: number; type: 'segment-removed'; segmentId: number };

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

/**
 * The ruleset after `events`, in order. Events of a type this version does not know, or without the
 * fields their type needs, are skipped: a newer server must not break an older client.
 */
export function applyDelta(ruleset: ClientRuleset, events: readonly DeltaEvent[]): ClientRuleset {
  const features = new Map<string, ClientFeature>();
  for (const feature of ruleset.features) features.set(feature.name, feature);
  const segments = new Map<number, Segment>();
  for (const segment of ruleset.segments ?? []) segments.set(segment.id, segment);

  for (const event of events as readonly unknown[]) {
    if (!isRecord(event)) continue;
    switch (event.type) {
      case 'hydration':
        features.clear();
        segments.clear();
        if (Array.isArray(event.features)) for (const feature of event.features as ClientFeature[]) if (isRecord(feature)) features.set(feature.name, feature);
        if (Array.isArray(event.segments)) for (const segment of event.segments as Segment[]) if (isRecord(segment)) segments.set(segment.id, segment);
        break;
      case 'feature-updated':
        if (isRecord(event.feature) && typeof event.feature.name === 'string') features.set(event.feature.name, event.feature as unknown as ClientFeature);
        break;
      case 'feature-removed':
        if (typeof event.featureName === 'string') features.delete(event.featureName);
        break;
      case 'segment-updated':
        if (isRecord(event.segment) && typeof event.segment.id === 'number') segments.set(event.segment.id, event.segment as unknown as Segment);
        break;
      case 'segment-removed':
        if (typeof event.segmentId === 'number') segments.delete(event.segmentId);
        break;
      default:
        break;
    }
  }
  return { ...ruleset, features: [...features.values()], segments: [...segments.values()] };
}
