// One autocannon run in its own process (so it can be pinned to a core and never shares the
// orchestrator's event loop). Prints one JSON line on stdout.
//
//   node bench/router/load-autocannon.mjs --url http://127.0.0.1:18082/ --connections 50 --duration 10
//
// autocannon's own histogram keeps whole milliseconds; the benchmark needs sub-millisecond added
// latency, so every 2xx response time (float ms from process.hrtime) is also kept here and the
// percentiles are exact.
import autocannon from 'autocannon';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
  },
});
if (!values.url) {
  console.error('--url is required');
  process.exit(2);
}
const url = new URL(values.url);
if (url.hostname !== '127.0.0.1') {
  console.error('the benchmark only sends traffic to 127.0.0.1');
  process.exit(2);
}

let samples = new Float64Array(1 << 16);
let count = 0;
const instance = autocannon({ url: values.url, connections: Number(values.connections), duration: Number(values.duration), pipelining: 1 }, (error, result) => {
  if (error) {
    console.error(error);
    process.exit(1);
  }
  const sorted = samples.subarray(0, count).sort();
  const at = (q) => (count === 0 ? null : sorted[Math.min(count - 1, Math.ceil(q * count) - 1)] * 1000);
  let sum = 0;
  for (let index = 0; index < count; index++) sum += sorted[index];
  console.log(
    `AUTOCANNON_JSON ${JSON.stringify({
      requests: result['2xx'],
      duration_s: result.duration,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      p50_us: at(0.5),
      p90_us: at(0.9),
      p99_us: at(0.99),
      p999_us: at(0.999),
      mean_us: count === 0 ? null : (sum / count) * 1000,
      max_us: count === 0 ? null : sorted[count - 1] * 1000,
      autocannon_p50_ms: result.latency.p50,
      autocannon_p99_ms: result.latency.p99,
    })}`,
  );
});
instance.on('response', (_client, statusCode, _bytes, responseTime) => {
  if (statusCode < 200 || statusCode > 299) return;
  if (count === samples.length) {
    const grown = new Float64Array(samples.length * 2);
    grown.set(samples);
    samples = grown;
  }
  samples[count++] = responseTime;
});
