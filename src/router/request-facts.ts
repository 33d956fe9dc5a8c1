import type { IncomingMessage } from 'node:http';
import type { RequestFacts } from './pick.js';

/** What `pick` may ask of a Node request: header and cookie lookups, parsed only when asked. */
export class NodeRequestFacts implements RequestFacts {
  readonly method: string;
  readonly path: string;
  private cookies: Map<string, string> | undefined;

  constructor(private readonly request: IncomingMessage) {
    this.method = request.method ?? 'GET';
    this.path = request.url ?? '/';
  }

  header(name: string): string | undefined {
    const value = this.request.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  }

  cookie(name: string): string | undefined {
    if (this.cookies === undefined) this.cookies = parseCookies(this.request.headers.cookie);
    return this.cookies.get(name);
  }
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const equals = part.indexOf('=');
    if (equals <= 0) continue;
    const name = part.slice(0, equals).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(equals + 1).trim());
  }
  return cookies;
}
