import { useState } from 'preact/hooks';

/**
 * A small hand-written SVG line chart: one line per series, an optional dashed threshold with its label,
 * an aria-label saying what it shows, and a button that shows the same numbers as a table.
 */
export interface ChartSeries {
  name: string;
  points: Array<{ t: number; value: number | null }>;
}

const COLOURS = ['#0b57d0', '#a4161a', '#116329', '#7a4a00', '#6b21a8'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3', '1 2'];
const WIDTH = 560;
const HEIGHT = 170;
const PAD = { left: 52, right: 12, top: 10, bottom: 24 };

export function LineChart({ title, unit, series, threshold, format }: { title: string; unit: string; series: ChartSeries[]; threshold?: { value: number; label: string }; format: (value: number) => string }) {
  const [table, setTable] = useState(false);
  const times = series.flatMap((each) => each.points.map((point) => point.t));
  const values = series.flatMap((each) => each.points.map((point) => point.value).filter((value): value is number => value !== null));
  const top = Math.max(...values, threshold?.value ?? 0, 0) * 1.1 || 1;
  const first = Math.min(...times);
  const last = Math.max(...times);
  const span = last - first || 1;
  const x = (t: number) => PAD.left + ((t - first) / span) * (WIDTH - PAD.left - PAD.right);
  const y = (value: number) => HEIGHT - PAD.bottom - (value / top) * (HEIGHT - PAD.top - PAD.bottom);
  const latest = series.map((each) => {
    const value = [...each.points].reverse().find((point) => point.value !== null)?.value;
    return `${each.name} ${value === undefined || value === null ? 'no data' : format(value)}`;
  });
  const label = `${title} per version over the last ${Math.round(span / 1000)} s; latest: ${latest.join(', ') || 'no traffic'}${threshold ? `; limit ${threshold.label}` : ''}`;
  return (
    <figure class="chart">
      <figcaption>
        {title} <span class="muted">({unit})</span>{' '}
        <button type="button" class="link" aria-expanded={table} onClick={() => setTable(!table)}>
          {table ? 'Hide' : 'Show'} data table
        </button>
      </figcaption>
      {times.length === 0 ? (
        <p class="muted">No traffic measured yet.</p>
      ) : (
        <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label} class="chart-svg">
          <line x1={PAD.left} y1={HEIGHT - PAD.bottom} x2={WIDTH - PAD.right} y2={HEIGHT - PAD.bottom} stroke="#6b7280" />
          <line x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={HEIGHT - PAD.bottom} stroke="#6b7280" />
          <text x={PAD.left - 4} y={PAD.top + 8} text-anchor="end" class="axis">
            {format(top)}
          </text>
          <text x={PAD.left - 4} y={HEIGHT - PAD.bottom} text-anchor="end" class="axis">
            0
          </text>
          <text x={WIDTH - PAD.right} y={HEIGHT - 6} text-anchor="end" class="axis">
            now
          </text>
          {threshold ? (
            <g class="threshold">
              <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(threshold.value)} y2={y(threshold.value)} stroke="#a4161a" stroke-dasharray="5 4" />
              <text x={WIDTH - PAD.right - 2} y={y(threshold.value) - 4} text-anchor="end" class="axis threshold-label">
                {threshold.label}
              </text>
            </g>
          ) : null}
          {series.map((each, index) => (
            <polyline
              key={each.name}
              fill="none"
              stroke={COLOURS[index % COLOURS.length]}
              stroke-width="2"
              stroke-dasharray={DASHES[index % DASHES.length]}
              points={each.points
                .filter((point) => point.value !== null)
                .map((point) => `${x(point.t).toFixed(1)},${y(point.value!).toFixed(1)}`)
                .join(' ')}
            />
          ))}
        </svg>
      )}
      <ul class="legend plain row" aria-hidden="true">
        {series.map((each, index) => (
          <li key={each.name}>
            <svg width="24" height="8">
              <line x1="0" y1="4" x2="24" y2="4" stroke={COLOURS[index % COLOURS.length]} stroke-width="2" stroke-dasharray={DASHES[index % DASHES.length]} />
            </svg>{' '}
            {each.name}
          </li>
        ))}
      </ul>
      {table ? (
        <div class="table-wrap">
          <table>
            <caption>{title} ({unit})</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                {series.map((each) => (
                  <th scope="col" class="num" key={each.name}>
                    {each.name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {[...new Set(times)].sort((a, b) => a - b).map((t) => (
                <tr key={t}>
                  <td>{new Date(t).toLocaleTimeString()}</td>
                  {series.map((each) => {
                    const value = each.points.find((point) => point.t === t)?.value;
                    return (
                      <td class="num" key={each.name}>
                        {value === undefined || value === null ? '—' : format(value)}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </figure>
  );
}
