/**
 * The routing decision: which version serves one request. `compileTraffic` turns a routing table into
 * a ready-to-use form once per config or health change; `pick` is a pure function of that form, the
 * request and a random source, called once per request, so it does no parsing and (apart from the
 * result and, rarely, a path or a new sticky key) no allocation.
 */
import { PromoteError } from '../errors.js';
import { murmur3 } from '../flags/murmur3.js';
import type { TrafficConfig } from './traffic.js';

/** Traffic is split over this many buckets: one bucket is 0.01 % of the traffic. */
export const BUCKETS = 10_000;
/** Lifetime of the sticky cookie the router sets: 30 days. */
export const STICKY_COOKIE_MAX_AGE_SECONDS = 30 * 24 * 60 * 60;
/** Methods mirrored when the config names none: the safe ones, since a mirrored write would write twice. */
export const DEFAULT_MIRROR_METHODS: readonly string[] = ['GET', 'HEAD', 'OPTIONS'];

/** What `pick` needs to know about a request. The proxy adapts node:http's request to it. */
export interface RequestFacts {
  /** upper case */
  method: string;
  /** path + query as received, e.g. /v1/orders?x=1 */
  path: string;
  /** case-insensitive lookup, first value; the names `pick` passes are already lower case */
  header(name: string): string | undefined;
  cookie(name: string): string | undefined;
}

export type DecisionReason = 'api-route' | 'override' | 'sticky' | 'weight' | 'fallback';

/** The outcome of `pick`. Optional fields are present but `undefined` when they do not apply. */
export interface Decision {
  version: string;
  /**
   * api-route: an API route matched; override: the override header or cookie named the version;
   * sticky: the sticky key's bucket; weight: a random bucket; fallback: no version with traffic is
   * available, so the stable version serves.
   */
  reason: DecisionReason;
  /** path to forward (differs when an API route strips its prefix) */
  path: string;
  /** Set-Cookie value to add when the router assigned a new sticky key (name=value; Path=/; HttpOnly; SameSite=Lax; Max-Age=...) */
  setCookie?: string;
  /** extra response headers, e.g. Deprecation / Sunset / Link for retired API versions (shared and frozen: copy before changing) */
  responseHeaders?: Readonly<Record<string, string>>;
  /** version to mirror this request to (response discarded) */
  mirrorTo?: string;
}

export interface CompiledApiRoute {
  /** the path prefix without trailing slashes ('' for the root), or undefined when the route matches on a header only */
  readonly prefix: string | undefined;
  /** lower case */
  readonly headerName: string | undefined;
  readonly headerValue: string | undefined;
  readonly version: string;
  readonly strip: boolean;
  readonly responseHeaders: Readonly<Record<string, string>> | undefined;
}

/** A routing table checked and prepared for `pick`. Build it with `compileTraffic`; treat it as read-only. */
export interface CompiledTraffic {
  readonly revision: number;
  /** the table it was compiled from */
  readonly source: TrafficConfig;
  readonly stable: string;
  readonly canary: string | undefined;
  /** version names in bucket order */
  readonly versions: readonly string[];
  /** base URLs of each version's instances */
  readonly upstreams: ReadonlyMap<string, readonly string[]>;
  /**
   * For each version (same order as `versions`), the exclusive upper end of its bucket range after the
   * circuit breaker; version i owns buckets [bounds[i-1], bounds[i]). The last entry is BUCKETS unless
   * `fallback` is set.
   */
  readonly bounds: Int32Array;
  /** percent of weighted traffic each version receives now, after the circuit breaker */
  readonly shares: ReadonlyMap<string, number>;
  /** no version with a positive weight is available: everything that is not routed otherwise goes to stable */
  readonly fallback: boolean;
  readonly apiRoutes: readonly CompiledApiRoute[];
  readonly override: { readonly header: string; readonly cookie: string; readonly targets: ReadonlyMap<string, string> } | undefined;
  readonly preview: { readonly header: string; readonly version: string } | undefined;
  readonly sticky:
    | { readonly header: string | undefined; readonly cookie: string | undefined; readonly setCookiePrefix: string; readonly setCookieSuffix: string }
    | undefined;
  /** undefined when no mirror is configured or the mirror version is unavailable */
  readonly mirror: { readonly version: string; readonly percent: number; readonly methods: ReadonlySet<string> } | undefined;
}

/**
 * Chooses the version for one request:
 * 1. the first API route that matches (its version even at weight 0 or unavailable: nothing else
 *    serves that API), with deprecation headers and the prefix stripped when configured;
 * 2. the override header, then the override cookie: `canary`, `stable` or an exact version name
 *    (honoured even for an unavailable version: a tester asked for it); unknown values are ignored;
 * 3. the sticky key's bucket (sticky header, else sticky cookie; a new cookie key when there is none);
 * 4. a random bucket.
 * Then, except for API routes, an eligible request may be mirrored to the mirror version.
 * `random` returns numbers in [0, 1), like Math.random.
 */
export function pick(config: CompiledTraffic, request: RequestFacts, random: () => number): Decision {
  const path = request.path;
  const routes = config.apiRoutes;
  for (let index = 0; index < routes.length; index++) {
    const route = routes[index]!;
    if (route.prefix !== undefined && !matchesPrefix(path, route.prefix)) continue;
    if (route.headerName !== undefined && request.header(route.headerName) !== route.headerValue) continue;
    return {
      version: route.version,
      reason: 'api-route',
      path: route.strip && route.prefix !== undefined ? stripPrefix(path, route.prefix) : path,
      setCookie: undefined,
      responseHeaders: route.responseHeaders,
      mirrorTo: undefined,
    };
  }

  let version: string | undefined;
  let reason: DecisionReason = 'override';
  let setCookie: string | undefined;

  const preview = config.preview;
  if (preview !== undefined && request.header(preview.header) !== undefined) version = preview.version;

  const override = config.override;
  if (override !== undefined && version === undefined) {
    const fromHeader = request.header(override.header);
    if (fromHeader !== undefined) version = override.targets.get(fromHeader);
    if (version === undefined) {
      const fromCookie = request.cookie(override.cookie);
      if (fromCookie !== undefined) version = override.targets.get(fromCookie);
    }
  }

  if (version === undefined) {
    const sticky = config.sticky;
    let key: string | undefined;
    if (sticky !== undefined) {
      if (sticky.header !== undefined) key = nonEmpty(request.header(sticky.header));
      if (key === undefined && sticky.cookie !== undefined) {
        key = nonEmpty(request.cookie(sticky.cookie));
        if (key === undefined) {
          key = hex8(random()) + hex8(random());
          setCookie = sticky.setCookiePrefix + key + sticky.setCookieSuffix;
        }
      }
    }
    if (config.fallback) {
      version = config.stable;
      reason = 'fallback';
    } else {
      let bucket: number;
      if (key !== undefined) {
        bucket = murmur3(key) % BUCKETS;
        reason = 'sticky';
      } else {
        bucket = Math.floor(random() * BUCKETS);
        if (!(bucket >= 0 && bucket < BUCKETS)) bucket = bucket >= BUCKETS ? BUCKETS - 1 : 0;
        reason = 'weight';
      }
      version = versionOfBucket(config, bucket);
    }
  }

  let mirrorTo: string | undefined;
  const mirror = config.mirror;
  if (mirror !== undefined && version !== mirror.version && mirror.methods.has(request.method) && random() * 100 < mirror.percent) {
    mirrorTo = mirror.version;
  }

  return { version, reason, path, setCookie, responseHeaders: undefined, mirrorTo };
}

/** The version owning `bucket` (0 to BUCKETS - 1) under the compiled weights; stable when in fallback. */
export function versionOfBucket(config: CompiledTraffic, bucket: number): string {
  if (config.fallback) return config.stable;
  const bounds = config.bounds;
  for (let index = 0; index < bounds.length; index++) {
    if (bucket < bounds[index]!) return config.versions[index]!;
  }
  return config.stable;
}

/** The bucket of a sticky key, the same in every router process. */
export function stickyBucket(key: string): number {
  return murmur3(key) % BUCKETS;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function hex8(value: number): string {
  return ((value * 0x100000000) >>> 0).toString(16).padStart(8, '0');
}

const SLASH = 0x2f;
const QUESTION = 0x3f;

/** Segment-wise: /v1 matches /v1, /v1/x and /v1?q, not /v10. The root prefix ('') matches every path. */
function matchesPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length) return true;
  const next = path.charCodeAt(prefix.length);
  return next === SLASH || next === QUESTION;
}

function stripPrefix(path: string, prefix: string): string {
  if (prefix === '') return path;
  const rest = path.slice(prefix.length);
  if (rest === '') return '/';
  return rest.charCodeAt(0) === QUESTION ? `/${rest}` : rest;
}

// ---------------------------------------------------------------------------------------------------
// compiling

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

function fail(field: string, problem: string): never {
  throw new PromoteError(`invalid routing table: ${field}: ${problem}`);
}

function show(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === undefined) return 'nothing';
  if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') return `a ${typeof value}`;
  const text = JSON.stringify(value) ?? 'nothing';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function expectRecord(value: unknown, field: string): Record<string, unknown> {
  if (!isRecord(value)) fail(field, `expected an object, got ${show(value)}`);
  return value;
}

function expectToken(value: unknown, field: string, what: string): string {
  if (typeof value !== 'string' || !TOKEN.test(value)) fail(field, `expected ${what}, got ${show(value)}`);
  return value;
}

/** A percentage 0..100 in steps of 0.01, as an integer number of hundredths. */
function expectHundredths(value: unknown, field: string): number {
  const problem = `expected 0 to 100 in steps of 0.01, got ${show(value)}`;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) fail(field, problem);
  const hundredths = Math.round(value * 100);
  if (Math.abs(value * 100 - hundredths) > 1e-6) fail(field, problem);
  return hundredths;
}

function parseDate(value: unknown, field: string): number {
  if (typeof value !== 'string' || !(ISO_DATE.test(value) || HTTP_DATE.test(value))) {
    fail(field, `expected a date like 2025-06-30, 2025-06-30T12:00:00Z or Mon, 30 Jun 2025 12:00:00 GMT, got ${show(value)}`);
  }
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) fail(field, `not a valid date: ${show(value)}`);
  return ms;
}

function isHttpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const protocol = new URL(text).protocol;
  return protocol === 'http:' || protocol === 'https:';
}

/**
 * Checks a routing table and prepares it for `pick`. Throws a PromoteError naming the offending field.
 *
 * `available` is the set of versions with at least one healthy instance (omit it when every version is
 * available). The weight of an unavailable version goes to the available ones in proportion to their
 * weights; when no version with a positive weight is available, traffic falls back to the stable
 * version (reason 'fallback'). Bucket ranges keep the configured order, so while every version is
 * available, a version's range is exactly its weight.
 */
export function compileTraffic(config: TrafficConfig, available?: ReadonlySet<string>): CompiledTraffic {
  const input = expectRecord(config, 'routing table');
  const revision = input.revision;
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) {
    fail('revision', `expected a whole number of 0 or more, got ${show(revision)}`);
  }

  // versions
  const versionList = input.versions;
  if (!Array.isArray(versionList) || versionList.length === 0) fail('versions', `expected a non-empty list, got ${show(versionList)}`);
  const names: string[] = [];
  const hundredths: number[] = [];
  const upstreams = new Map<string, readonly string[]>();
  versionList.forEach((entry: unknown, index) => {
    const field = `versions[${index}]`;
    const version = expectRecord(entry, field);
    const name = version.name;
    if (typeof name !== 'string' || name === '' || name.length > 128 || CONTROL.test(name)) {
      fail(`${field}.name`, `expected 1 to 128 characters without control characters, got ${show(name)}`);
    }
    if (upstreams.has(name)) fail(`${field}.name`, `${show(name)} is listed twice`);
    hundredths.push(expectHundredths(version.weight, `${field}.weight`));
    const urls = version.upstreams;
    if (!Array.isArray(urls) || urls.length === 0) fail(`${field}.upstreams`, `expected a non-empty list of http(s) URLs, got ${show(urls)}`);
    const list = urls.map((url: unknown, urlIndex) => {
      if (typeof url !== 'string' || !isHttpUrl(url)) fail(`${field}.upstreams[${urlIndex}]`, `expected an http(s) URL, got ${show(url)}`);
      return url;
    });
    names.push(name);
    upstreams.set(name, Object.freeze(list));
  });
  const total = hundredths.reduce((sum, value) => sum + value, 0);
  if (total !== BUCKETS) fail('versions', `the weights must add up to 100, got ${total / 100}`);

  const listed = (value: unknown, field: string): string => {
    if (typeof value !== 'string' || !upstreams.has(value)) {
      fail(field, `expected one of the listed versions (${names.map((name) => JSON.stringify(name)).join(', ')}), got ${show(value)}`);
    }
    return value;
  };
  const stable = listed(input.stable, 'stable');
  const canary = input.canary === undefined ? undefined : listed(input.canary, 'canary');

  // circuit breaker: bucket ranges over the available versions, in configured order
  const bounds = new Int32Array(names.length);
  let availableTotal = 0;
  const isAvailable = names.map((name) => available === undefined || available.has(name));
  names.forEach((_, index) => {
    if (isAvailable[index]) availableTotal += hundredths[index]!;
  });
  const fallback = availableTotal === 0;
  const shares = new Map<string, number>();
  let cumulative = 0;
  let previous = 0;
  names.forEach((name, index) => {
    if (!fallback) {
      if (isAvailable[index]) cumulative += hundredths[index]!;
      // floor(cumulative * BUCKETS / availableTotal) is exact and reaches BUCKETS at the last available version
      bounds[index] = Math.floor((cumulative * BUCKETS) / availableTotal);
    }
    shares.set(name, (bounds[index]! - previous) / 100);
    previous = bounds[index]!;
  });
  if (fallback) shares.set(stable, 100);

  // sticky
  let sticky: CompiledTraffic['sticky'];
  if (input.sticky !== undefined) {
    const settings = expectRecord(input.sticky, 'sticky');
    const header = settings.header === undefined ? undefined : expectToken(settings.header, 'sticky.header', 'a header name').toLowerCase();
    const cookie = settings.cookie === undefined ? undefined : expectToken(settings.cookie, 'sticky.cookie', 'a cookie name');
    if (header === undefined && cookie === undefined) fail('sticky', 'expected a cookie or a header (or no sticky settings)');
    sticky = {
      header,
      cookie,
      setCookiePrefix: `${cookie ?? ''}=`,
      setCookieSuffix: `; Path=/; HttpOnly; SameSite=Lax; Max-Age=${STICKY_COOKIE_MAX_AGE_SECONDS}`,
    };
  }

  // overrides
  let override: CompiledTraffic['override'];
  if (input.override !== undefined) {
    const settings = expectRecord(input.override, 'override');
    const header = expectToken(settings.header, 'override.header', 'a header name').toLowerCase();
    const cookie = expectToken(settings.cookie, 'override.cookie', 'a cookie name');
    const targets = new Map<string, string>(names.map((name) => [name, name]));
    // The keywords win over a version that happens to be named "stable" or "canary".
    targets.set('stable', stable);
    if (canary !== undefined) targets.set('canary', canary);
    override = { header, cookie, targets };
  }

  let preview: CompiledTraffic['preview'];
  if (input.preview !== undefined) {
    const settings = expectRecord(input.preview, 'preview');
    const header = expectToken(settings.header, 'preview.header', 'a header name').toLowerCase();
    if (typeof settings.version !== 'string' || !names.includes(settings.version)) fail('preview.version', `expected one of the versions (${names.join(', ')}), got ${show(settings.version)}`);
    preview = { header, version: settings.version };
  }

  // API routes
  const apiRoutes: CompiledApiRoute[] = [];
  if (input.apiRoutes !== undefined) {
    if (!Array.isArray(input.apiRoutes)) fail('apiRoutes', `expected a list, got ${show(input.apiRoutes)}`);
    input.apiRoutes.forEach((entry: unknown, index) => {
      const field = `apiRoutes[${index}]`;
      const route = expectRecord(entry, field);
      const version = listed(route.version, `${field}.version`);
      let prefix: string | undefined;
      if (route.pathPrefix !== undefined) {
        const text = route.pathPrefix;
        if (typeof text !== 'string' || !text.startsWith('/') || /[?#\s]/.test(text) || CONTROL.test(text)) {
          fail(`${field}.pathPrefix`, `expected a path starting with / and without ?, # or spaces, got ${show(text)}`);
        }
        prefix = text.replace(/\/+$/, '');
      }
      let headerName: string | undefined;
      let headerValue: string | undefined;
      if (route.header !== undefined) {
        const header = expectRecord(route.header, `${field}.header`);
        headerName = expectToken(header.name, `${field}.header.name`, 'a header name').toLowerCase();
        if (typeof header.value !== 'string') fail(`${field}.header.value`, `expected text, got ${show(header.value)}`);
        headerValue = header.value;
      }
      if (prefix === undefined && headerName === undefined) fail(field, 'expected a pathPrefix or a header to match');
      const strip = route.stripPrefix ?? false;
      if (typeof strip !== 'boolean') fail(`${field}.stripPrefix`, `expected true or false, got ${show(strip)}`);
      if (strip && prefix === undefined) fail(`${field}.stripPrefix`, 'needs a pathPrefix to strip');
      let responseHeaders: Record<string, string> | undefined;
      if (route.deprecated !== undefined) {
        const deprecated = expectRecord(route.deprecated, `${field}.deprecated`);
        responseHeaders = {};
        responseHeaders.Deprecation =
          deprecated.since === undefined ? 'true' : `@${Math.floor(parseDate(deprecated.since, `${field}.deprecated.since`) / 1000)}`;
        if (deprecated.sunset !== undefined) {
          responseHeaders.Sunset = new Date(parseDate(deprecated.sunset, `${field}.deprecated.sunset`)).toUTCString();
        }
        if (deprecated.link !== undefined) {
          const link = deprecated.link;
          if (typeof link !== 'string' || !(isHttpUrl(link) || (link.startsWith('/') && !link.startsWith('//'))) || /[\s<>"]/.test(link)) {
            fail(`${field}.deprecated.link`, `expected an http(s) URL or a path starting with /, got ${show(link)}`);
          }
          responseHeaders.Link = `<${link}>; rel="deprecation"`;
        }
        Object.freeze(responseHeaders);
      }
      apiRoutes.push(Object.freeze({ prefix, headerName, headerValue, version, strip, responseHeaders }));
    });
  }

  // mirror
  let mirror: CompiledTraffic['mirror'];
  if (input.mirror !== undefined) {
    const settings = expectRecord(input.mirror, 'mirror');
    const percent = expectHundredths(settings.percent, 'mirror.percent') / 100;
    let version: string;
    if (settings.version !== undefined) version = listed(settings.version, 'mirror.version');
    else if (canary !== undefined) version = canary;
    else fail('mirror.version', 'required when the routing table has no canary');
    let methods: ReadonlySet<string> = new Set(DEFAULT_MIRROR_METHODS);
    if (settings.methods !== undefined) {
      const list = settings.methods;
      if (!Array.isArray(list) || list.length === 0) fail('mirror.methods', `expected a non-empty list of HTTP methods, got ${show(list)}`);
      methods = new Set(list.map((method: unknown, index) => expectToken(method, `mirror.methods[${index}]`, 'an HTTP method').toUpperCase()));
    }
    if (available === undefined || available.has(version)) mirror = { version, percent, methods };
  }

  return Object.freeze({
    revision,
    source: config,
    stable,
    canary,
    versions: Object.freeze(names),
    upstreams,
    bounds,
    shares,
    fallback,
    apiRoutes: Object.freeze(apiRoutes),
    override,
    preview,
    sticky,
    mirror,
  });
}
