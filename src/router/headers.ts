import type { IncomingMessage } from 'node:http';

/** Headers that describe one connection, not the message: a proxy never forwards them (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  if (text === '' || text === 'keep-alive' || text === 'close') return undefined;
  return new Set(text.split(',').map((token) => token.trim().toLowerCase()));
}

/**
 * The headers sent upstream: the client's end-to-end headers plus X-Forwarded-For/Proto/Host. Works on
 * rawHeaders so repeated headers keep their order and nothing is joined or lower-cased needlessly.
 */
export function upstreamRequestHeaders(request: IncomingMessage, keepUpgrade = false): string[] {
  const raw = request.rawHeaders;
  const named = connectionTokens(request.headers.connection);
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let host: string | undefined;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index]!;
    const value = raw[index + 1]!;
    const lower = name.toLowerCase();
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    if (lower === 'host') host = value;
    if (lower === 'x-forwarded-proto' || lower === 'x-forwarded-host') continue;
    if (HOP_BY_HOP.has(lower) && !(keepUpgrade && (lower === 'upgrade' || lower === 'connection'))) continue;
    if (named?.has(lower) && !(keepUpgrade && lower === 'upgrade')) continue;
    out.push(name, value);
  }
  const client = request.socket.remoteAddress ?? '';
  out.push('x-forwarded-for', forwardedFor === undefined ? client : `${forwardedFor}, ${client}`);
  out.push('x-forwarded-proto', 'encrypted' in request.socket && request.socket.encrypted ? 'https' : 'http');
  if (host !== undefined) out.push('x-forwarded-host', host);
  return out;
}

/**
 * The upstream's raw response headers (name, value, name, value...) without the hop-by-hop ones, as a
 * flat list writeHead takes directly: no header object is built or copied on the way through.
 */
export function clientResponseHeaders(raw: readonly (Buffer | string)[]): string[] {
  let named: Set<string> | undefined;
  for (let index = 0; index < raw.length; index += 2) {
    if (String(raw[index]).toLowerCase() === 'connection') {
      named = connectionTokens(String(raw[index + 1]));
      break;
    }
  }
  const out: string[] = [];
  for (let index = 0; index < raw.length; index += 2) {
    const name = typeof raw[index] === 'string' ? (raw[index] as string) : (raw[index] as Buffer).toString('latin1');
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    const value = raw[index + 1]!;
    out.push(name, typeof value === 'string' ? value : value.toString('latin1'));
  }
  return out;
}
