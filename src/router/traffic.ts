/**
 * The routing table of one environment: what the controller writes, what every router process applies.
 * It is plain JSON (stored in Postgres, pushed with NOTIFY), so routers and the controller share it
 * without sharing code paths.
 */
export interface TrafficConfig {
  /** increases with every change; a router ignores a config older than the one it has */
  revision: number;
  /**
   * Versions in bucket order: the first version owns the lowest sticky buckets, so while its weight
   * grows a sticky client never leaves it. The controller lists the canary first.
   */
  versions: VersionTraffic[];
  /** the version that serves when nothing else decides (overrides naming "stable" land here) */
  stable: string;
  /** the candidate; overrides naming "canary" land here */
  canary?: string;
  sticky?: StickySettings;
  override?: OverrideSettings;
  apiRoutes?: ApiRoute[];
  mirror?: MirrorSettings;
  /** blue-green: requests carrying this header (any value) reach `version` before it takes traffic */
  preview?: { header: string; version: string };
}

export interface VersionTraffic {
  name: string;
  /** percent of traffic, 0 to 100 in steps of 0.01; the weights of all versions add up to 100 */
  weight: number;
  /** base URLs of the version's instances, e.g. http://127.0.0.1:4101 */
  upstreams: string[];
}

export interface StickySettings {
  /** a cookie the router sets with a random key on first visit */
  cookie?: string;
  /** a header the client already sends, such as X-User-Id */
  header?: string;
}

export interface OverrideSettings {
  /** e.g. X-Promote-Version: canary | stable | <version name> */
  header: string;
  /** e.g. promote_version=canary */
  cookie: string;
}

export interface ApiRoute {
  /** requests whose path starts with this prefix (segment-wise: /v1 matches /v1 and /v1/x, not /v10) */
  pathPrefix?: string;
  /** or whose header has this value, e.g. { name: 'Accept-Version', value: '1' } */
  header?: { name: string; value: string };
  /** the version that serves them, whatever the weights say */
  version: string;
  /** remove the prefix before forwarding */
  stripPrefix?: boolean;
  /** a retired API: responses carry Deprecation and (with a date) Sunset headers */
  deprecated?: { since?: string; sunset?: string; link?: string };
}

export interface MirrorSettings {
  /** percent of eligible requests copied to the mirror version; the copy's response is discarded */
  percent: number;
  /** defaults to the canary */
  version?: string;
  /** methods eligible for mirroring; default GET, HEAD, OPTIONS (a mirrored write would write twice) */
  methods?: string[];
}
