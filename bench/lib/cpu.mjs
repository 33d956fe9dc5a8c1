// CPU accounting from /proc for the benchmarks: the ticks of a process tree and of the whole
// machine, so a benchmark can say how many cores it used and how many others took meanwhile.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** the pid and every process below it, through /proc's children lists */
export function descendants(pid) {
  const all = [pid];
  for (let index = 0; index < all.length; index++) {
    try {
      for (const task of readdirSync(`/proc/${all[index]}/task`)) {
        const kids = readFileSync(`/proc/${all[index]}/task/${task}/children`, 'utf8').trim();
        if (kids) for (const kid of kids.split(/\s+/)) all.push(Number(kid));
      }
    } catch {
      // gone already
    }
  }
  return all;
}

/** utime + stime of one process (with its reaped children's when asked), or undefined once it is gone */
export function processTicks(pid, { withReapedChildren = false } = {}) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]) + (withReapedChildren ? Number(fields[13]) + Number(fields[14]) : 0);
  } catch {
    return undefined;
  }
}

/** busy and total ticks of the whole machine, from the first line of /proc/stat */
export function machineTicks() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const numbers = fields.map(Number);
  const total = numbers.slice(0, 8).reduce((sum, value) => sum + value, 0);
  return { busy: total - numbers[3] - numbers[4], total };
}
