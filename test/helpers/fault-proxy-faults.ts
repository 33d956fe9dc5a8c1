/**
 * The fault model of the test fault proxy (see fault-proxy.ts): what can be injected, the defaults,
 * and the per-connection decision of which faults apply. Modelled on Shopify's toxiproxy "toxics":
 * each fault acts on one direction of a connection (upstream = client to target, downstream = target
 * to client) and may apply to only a fraction of connections, decided by a seeded PRNG.
 */
import { seededRandom } from '../../src/system/seeded-random.js';

export type FaultDirection = 'upstream' | 'downstream' | 'both';
export type Direction = 'upstream' | 'downstream';

interface FaultCommon {
  /** share of connections the fault applies to, 0..1 (default 1), drawn per connection from the seed */
  probability?: number;
  /** which data the fault acts on; the default is given per fault below */
  direction?: FaultDirection;
}

/** delays every chunk by ms ± jitterMs (uniform), measured from when the proxy read it; order is kept. Default: downstream. */
export interface LatencyFault extends FaultCommon {
  ms: number;
  jitterMs?: number;
}
/** caps throughput (no burst credit). Default: downstream. */
export interface BandwidthFault extends FaultCommon {
  bytesPerSecond: number;
}
/**
 * sends a TCP RST to both peers (socket.resetAndDestroy) once afterBytes bytes (default 0: at the first
 * data) have passed in the fault's direction(s) since it was set; after a partial forward the RST waits
 * 20 ms so the peer reads those bytes first (libuv reports a RST arriving with unread data as a clean
 * end). Default: both.
 */
export interface ResetFault extends FaultCommon {
  afterBytes?: number;
}
/**
 * stops forwarding (data and FIN are held, not lost) and closes the connection ms after the fault is
 * set or the connection opens; ms 0 holds until the fault is removed. Default: both.
 */
export interface TimeoutFault extends FaultCommon {
  ms: number;
}
/**
 * the connection goes dead for good in the fault's direction(s): data and FIN are dropped, nothing is
 * closed, removing the fault does not revive it (the peer sees a hung connection). Default: both.
 */
export type HalfOpenFault = FaultCommon;
/** splits chunks into pieces of averageBytes ± varianceBytes, delayUs apart. Default: downstream. */
export interface SliceFault extends FaultCommon {
  averageBytes: number;
  varianceBytes?: number;
  delayUs?: number;
}
/** delays passing on a FIN by ms. Default: both. */
export interface SlowCloseFault extends FaultCommon {
  ms: number;
}

export interface Faults {
  latency?: LatencyFault;
  bandwidth?: BandwidthFault;
  reset?: ResetFault;
  timeout?: TimeoutFault;
  halfOpen?: HalfOpenFault | true;
  slice?: SliceFault;
  slowClose?: SlowCloseFault;
  /** stop listening (new connections are refused: ECONNREFUSED) and close every open connection */
  down?: boolean;
}

export const FAULT_KINDS = ['latency', 'bandwidth', 'reset', 'timeout', 'halfOpen', 'slice', 'slowClose'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultCounts = Record<FaultKind | 'down', number>;

const DEFAULT_DIRECTION: Record<FaultKind, FaultDirection> = {
  latency: 'downstream',
  bandwidth: 'downstream',
  slice: 'downstream',
  reset: 'both',
  timeout: 'both',
  halfOpen: 'both',
  slowClose: 'both',
};

/** the faults acting on one direction of one connection */
export interface ActiveFaults {
  latency?: LatencyFault;
  bandwidth?: BandwidthFault;
  reset?: ResetFault;
  timeout?: TimeoutFault;
  halfOpen?: HalfOpenFault;
  slice?: SliceFault;
  slowClose?: SlowCloseFault;
}

export interface Decision {
  upstream: ActiveFaults;
  downstream: ActiveFaults;
  /** the kinds that apply to this connection (each counted once, whatever its direction) */
  applied: FaultKind[];
}

/** Throws on a fault that cannot mean anything, so a typo in a test fails loudly rather than injecting nothing. */
export function validateFaults(faults: Faults): void {
  const fail = (message: string): never => {
    throw new Error(`fault proxy: ${message}`);
  };
  const nonNegative = (value: number | undefined, name: string) => {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) fail(`${name} must be a finite number >= 0, got ${value}`);
  };
  for (const kind of FAULT_KINDS) {
    const fault = faults[kind];
    if (fault === undefined || fault === true) continue;
    const { probability, direction } = fault;
    if (probability !== undefined && !(probability >= 0 && probability <= 1)) fail(`${kind}.probability must be within 0..1, got ${probability}`);
    if (direction !== undefined && !['upstream', 'downstream', 'both'].includes(direction)) fail(`${kind}.direction must be upstream, downstream or both`);
  }
  nonNegative(faults.latency?.ms, 'latency.ms');
  nonNegative(faults.latency?.jitterMs, 'latency.jitterMs');
  if (faults.bandwidth && !(faults.bandwidth.bytesPerSecond > 0 && Number.isFinite(faults.bandwidth.bytesPerSecond))) fail('bandwidth.bytesPerSecond must be > 0');
  nonNegative(faults.reset?.afterBytes, 'reset.afterBytes');
  nonNegative(faults.timeout?.ms, 'timeout.ms');
  if (faults.slice && !(faults.slice.averageBytes >= 1)) fail('slice.averageBytes must be >= 1');
  nonNegative(faults.slice?.varianceBytes, 'slice.varianceBytes');
  nonNegative(faults.slice?.delayUs, 'slice.delayUs');
  nonNegative(faults.slowClose?.ms, 'slowClose.ms');
}

/**
 * Decides which faults apply to one connection. One draw per configured kind, always in the same
 * order, so the same seed, connection order and sequence of set() calls give the same decisions.
 */
export function decide(faults: Faults, random: () => number): Decision {
  const decision: Decision = { upstream: {}, downstream: {}, applied: [] };
  for (const kind of FAULT_KINDS) {
    const configured = faults[kind];
    if (configured === undefined) continue;
    const fault = configured === true ? {} : configured;
    const draw = random();
    if (draw >= (fault.probability ?? 1)) continue;
    const direction = fault.direction ?? DEFAULT_DIRECTION[kind];
    if (direction !== 'downstream') (decision.upstream as Record<FaultKind, unknown>)[kind] = fault;
    if (direction !== 'upstream') (decision.downstream as Record<FaultKind, unknown>)[kind] = fault;
    decision.applied.push(kind);
  }
  return decision;
}

/**
 * Independent, reproducible streams per connection: stream 0 decides the faults, 1 and 2 draw the
 * jitter and slice sizes of each direction (so how much data flows never shifts the decisions).
 */
export function connectionRandom(seed: number, connection: number, stream: 0 | 1 | 2): () => number {
  return seededRandom((seed ^ Math.imul(connection + 1, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0);
}
