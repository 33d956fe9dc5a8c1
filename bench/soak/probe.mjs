// What the soak samples, from outside the processes it measures: a process's resident memory
// (/proc/<pid>/status VmRSS), its V8 heap (the file heap-probe.mjs writes), its open file descriptors
// and the TCP sockets among them by state (/proc/<pid>/fd matched against /proc/net/tcp{,6}); and the
// connections PostgreSQL holds per database, application and state (pg_stat_activity). Plus the
// least-squares slope the report gives for each series.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

const MB = 2 ** 20;
/** /proc/net/tcp's state codes */
const TCP_STATES = { '01': 'established', '06': 'timeWait', '08': 'closeWait', '0A': 'listen' };

/** VmRSS in MB, or undefined once the process is gone */
export function rssMb(pid) {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** the heap figures heap-probe.mjs last wrote, in MB, or undefined when there are none yet */
export function heapMb(file) {
  try {
    const usage = JSON.parse(readFileSync(file, 'utf8'));
    return { heapUsedMb: usage.heapUsed / MB, heapTotalMb: usage.heapTotal / MB, externalMb: usage.external / MB };
  } catch {
    return undefined;
  }
}

/** open fds and the TCP sockets among them, by state */
export function descriptors(pid) {
  const inodes = new Set();
  let fds = 0;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      fds += 1;
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode) inodes.add(inode);
      } catch {
        // closed while we looked
      }
    }
  } catch {
    return undefined;
  }
  const tcp = { total: 0, established: 0, closeWait: 0, listen: 0, other: 0 };
  for (const table of ['tcp', 'tcp6']) {
    let text;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || !inodes.has(fields[9])) continue;
      tcp.total += 1;
      tcp[TCP_STATES[fields[3]] ?? 'other'] += 1;
    }
  }
  return { fds, sockets: inodes.size, tcp };
}

/** PostgreSQL connections to each of `databases` (name → label), by application and state, leaving out `exceptApplication`'s */
export async function connections(client, databases, exceptApplication) {
  const result = await client.query(
    `select datname, coalesce(nullif(application_name, ''), '(unnamed)') as application, coalesce(state, '(none)') as state, count(*)::int as n
       from pg_stat_activity
      where datname = any($1) and pid <> pg_backend_pid() and application_name not like $2
      group by 1, 2, 3 order by 1, 2, 3`,
    [Object.keys(databases), `${exceptApplication}%`],
  );
  const out = Object.fromEntries(Object.values(databases).map((label) => [label, { total: 0, detail: {} }]));
  for (const row of result.rows) {
    const entry = out[databases[row.datname]];
    entry.total += row.n;
    entry.detail[`${row.application} ${row.state}`] = row.n;
  }
  return out;
}

/** the least-squares slope of y over x (0 with fewer than two points) */
export function slope(points) {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** first, last, min, max and the slope per minute of a series of [minutes, value] */
export function summariseSeries(points) {
  const values = points.map(([, y]) => y);
  const round = (value) => Math.round(value * 1000) / 1000;
  if (values.length === 0) return { samples: 0 };
  return {
    samples: values.length,
    first: round(values[0]),
    last: round(values[values.length - 1]),
    min: round(Math.min(...values)),
    max: round(Math.max(...values)),
    slopePerMinute: round(slope(points)),
  };
}
