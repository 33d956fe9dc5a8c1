import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../../api';
import { ErrorMessage } from '../../components/error-message';
import { LineChart } from '../../components/line-chart';
import { percent } from '../../components/phase';
import type { Threshold, TrafficPoint, TrafficSeries } from '../../types';

/** The live split: one bar per version, its percentage as text (kept current from the event stream). */
export function TrafficSplit({ weights }: { weights: Record<string, number> }) {
  const entries = Object.entries(weights);
  return (
    <div data-testid="traffic-split" class="split" aria-live="polite">
      {entries.length === 0 ? <p class="muted">No traffic is routed by this rollout.</p> : null}
      {entries.map(([version, weight]) => (
        <div class="split-row" key={version}>
          <span class="split-version">{version}</span>
          <span class="split-bar" aria-hidden="true">
            <span style={{ width: `${Math.max(0, Math.min(100, weight))}%` }} />
          </span>
          <span class="split-weight num" data-testid={`weight-${version}`}>
            {percent(weight)}
          </span>
        </div>
      ))}
    </div>
  );
}

const CHARTS: Array<{ key: 'requestRate' | 'errorRate' | 'p99'; title: string; unit: string; value: (point: TrafficPoint) => number | null; format: (value: number) => string }> = [
  { key: 'requestRate', title: 'Request rate', unit: 'requests/s', value: (point) => point.requestsPerSecond, format: (value) => value.toFixed(value < 10 ? 1 : 0) },
  { key: 'errorRate', title: 'Error rate', unit: '% of requests', value: (point) => (point.errorRate === null ? null : point.errorRate), format: (value) => `${(value * 100).toFixed(value < 0.01 ? 2 : 1)}%` },
  { key: 'p99', title: 'Latency p99', unit: 'ms', value: (point) => point.p99, format: (value) => value.toFixed(value < 10 ? 1 : 0) },
];

/** Charts of the environment's traffic per version over the last 5 minutes, read from its router every 5 s while the page is open. */
export function TrafficCharts({ environment, thresholds, live }: { environment: string; thresholds: Threshold[]; live: boolean }) {
  const [series, setSeries] = useState<TrafficSeries | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    let stopped = false;
    const read = () =>
      api<TrafficSeries>(`/api/environments/${encodeURIComponent(environment)}/traffic?seconds=300`).then(
        (answer) => {
          if (stopped) return;
          setSeries(answer);
          setError(undefined);
        },
        (problem: unknown) => !stopped && setError(problem),
      );
    void read();
    const timer = live ? window.setInterval(() => void read(), 5_000) : undefined;
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [environment, live]);
  // an environment without a router has nothing to chart: say so plainly, it is not a failure
  if (error instanceof ApiError && error.status === 404 && !series) return <p class="muted">{error.message}.</p>;
  if (error && !series) return <ErrorMessage error={error} title="No traffic charts" />;
  if (!series) return <p class="muted">Reading the router…</p>;
  return (
    <div class="charts">
      {CHARTS.map((chart) => {
        const limit = thresholds.find((each) => each.chart === chart.key && each.bound !== null);
        return (
          <LineChart
            key={chart.key}
            title={chart.title}
            unit={chart.unit}
            format={chart.format}
            series={series.versions.map((version) => ({ name: version.version, points: version.points.map((point) => ({ t: point.t, value: chart.value(point) })) }))}
            {...(limit ? { threshold: { value: limit.bound!, label: `${limit.template}: ${limit.condition ?? ''}` } } : {})}
          />
        );
      })}
    </div>
  );
}
