/**
 * IP addresses and CIDR ranges for the remoteAddress strategy and the IN_CIDR operator. Parsed once
 * when a ruleset is compiled; matching is a few integer comparisons, with no allocation per request.
 */

export interface IpRange {
  family: 4 | 6;
  /** the address as 32-bit words, most significant first: one word for IPv4, four for IPv6 */
  words: readonly number[];
  /** how many leading bits must match: 32 or 128 for a single address */
  prefix: number;
}

const ipv4Pattern = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const hexGroupPattern = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4(text: string): number | undefined {
  const match = ipv4Pattern.exec(text);
  if (match === null) return undefined;
  let word = 0;
  for (let part = 1; part <= 4; part++) {
    const octet = Number(match[part]);
    if (octet > 255) return undefined;
    word = word * 256 + octet;
  }
  return word;
}

/** The eight 16-bit groups of an IPv6 address, with `::` expanded and a trailing dotted IPv4 part. */
function parseIpv6Groups(text: string): number[] | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseHalf = (half: string, mayEndInIpv4: boolean): number[] | undefined => {
    if (half === '') return [];
    const parts = half.split(':');
    const groups: number[] = [];
    for (let index = 0; index < parts.length; index++) {
      const part = parts[index]!;
      if (mayEndInIpv4 && index === parts.length - 1 && part.includes('.')) {
        const ipv4 = parseIpv4(part);
        if (ipv4 === undefined) return undefined;
        groups.push(ipv4 >>> 16, ipv4 & 0xffff);
      } else if (hexGroupPattern.test(part)) {
        groups.push(parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return groups;
  };
  if (halves.length === 1) {
    const groups = parseHalf(text, true);
    return groups?.length === 8 ? groups : undefined;
  }
  const head = parseHalf(halves[0]!, false);
  const tail = parseHalf(halves[1]!, true);
  if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** A single IPv4 or IPv6 address as a range of one address, or undefined when it is not an address. */
export function parseIp(text: string): IpRange | undefined {
  const ipv4 = parseIpv4(text);
  if (ipv4 !== undefined) return { family: 4, words: [ipv4], prefix: 32 };
  if (!text.includes(':')) return undefined;
  const groups = parseIpv6Groups(text);
  if (groups === undefined) return undefined;
  const words = [0, 1, 2, 3].map((index) => (groups[index * 2]! * 0x10000 + groups[index * 2 + 1]!) >>> 0);
  return { family: 6, words, prefix: 128 };
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a single address; undefined when it is neither. */
export function parseIpRange(text: string): IpRange | undefined {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  if (slash === -1) return parseIp(trimmed);
  const address = parseIp(trimmed.slice(0, slash));
  const prefixText = trimmed.slice(slash + 1);
  if (address === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > address.prefix) return undefined;
  return { ...address, prefix };
}

/** Whether `address` (a single address) lies in `range`; addresses of the other family never do. */
export function rangeContains(range: IpRange, address: IpRange): boolean {
  if (range.family !== address.family) return false;
  let bitsLeft = range.prefix;
  for (let index = 0; bitsLeft > 0; index++, bitsLeft -= 32) {
    const bits = bitsLeft >= 32 ? 32 : bitsLeft;
    const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
    if (((range.words[index]! ^ address.words[index]!) & mask) !== 0) return false;
  }
  return true;
}
