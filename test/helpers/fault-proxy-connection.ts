/**
 * One proxied connection of the test fault proxy (see fault-proxy.ts): a client socket, a socket to
 * the target, and a pipe each way that applies the faults in force to each chunk in order.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connectionRandom, decide, type ActiveFaults, type Decision, type Direction, type FaultKind, type Faults, type SliceFault } from './fault-proxy-faults.js';

export interface ConnectionHost {
  forwarded(direction: Direction, bytes: number): void;
  applied(kind: FaultKind): void;
  finished(connection: FaultConnection): void;
}

type Item = { type: 'data'; chunk: Buffer; at: number } | { type: 'end' } | { type: 'reset' };

/** above this many queued bytes the source is paused, so a held or slow pipe pushes back on its sender */
const HIGH_WATER = 1 << 20;

export class FaultConnection {
  readonly target: Socket;
  finished = false;
  /** bytes that have passed since the reset fault was set (shared by both directions) */
  resetBytes = 0;
  private decision: Decision = { upstream: {}, downstream: {}, applied: [] };
  private readonly dead = { upstream: false, downstream: false };
  private readonly decisions: () => number;
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private timeoutTimer: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private openSockets = 2;

  constructor(
    readonly id: number,
    readonly client: Socket,
    target: { host: string; port: number },
    seed: number,
    faults: Faults,
    private readonly host: ConnectionHost,
  ) {
    this.target = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    this.decisions = connectionRandom(seed, id, 0);
    for (const socket of [client, this.target]) {
      socket.setNoDelay(true);
      socket.on('close', () => {
        if (--this.openSockets === 0) this.finish();
      });
    }
    new Pipe(this, 'upstream', client, this.target, connectionRandom(seed, id, 1));
    new Pipe(this, 'downstream', this.target, client, connectionRandom(seed, id, 2));
    this.apply(faults);
  }

  /** replaces the faults acting on this connection (new draws, fresh reset count and timeout clock) */
  apply(faults: Faults): void {
    if (this.finished) return;
    this.decision = decide(faults, this.decisions);
    this.resetBytes = 0;
    if (this.timeoutTimer) this.cancel(this.timeoutTimer);
    this.timeoutTimer = undefined;
    for (const kind of this.decision.applied) this.host.applied(kind);
    if (this.decision.upstream.halfOpen) this.dead.upstream = true;
    if (this.decision.downstream.halfOpen) this.dead.downstream = true;
    const timeout = this.decision.upstream.timeout ?? this.decision.downstream.timeout;
    if (timeout && timeout.ms > 0) this.timeoutTimer = this.schedule(timeout.ms, () => this.destroy());
    this.wake();
  }

  faults(direction: Direction): ActiveFaults {
    return this.decision[direction];
  }

  isDead(direction: Direction): boolean {
    return this.dead[direction];
  }

  forwardedBytes(direction: Direction, bytes: number): void {
    this.host.forwarded(direction, bytes);
  }

  /** closes both sockets (FIN, as when a process exits) and lets go of every timer */
  destroy(): void {
    this.client.destroy();
    this.target.destroy();
    this.finish();
  }

  /** a TCP RST to both peers */
  reset(): void {
    this.resetSocket(this.client);
    this.resetSocket(this.target);
    this.finish();
  }

  resetSocket(socket: Socket): void {
    if (!socket.destroyed) socket.resetAndDestroy();
  }

  /** resolves at `at` (performance.now() time) or when the connection finishes, never early */
  async sleepUntil(at: number): Promise<void> {
    for (let left = at - performance.now(); left > 0 && !this.finished; left = at - performance.now()) {
      await new Promise<void>((resolve) => {
        this.schedule(Math.ceil(left), resolve, resolve);
      });
    }
  }

  /** resolves on the next change of faults, or when the connection finishes */
  changed(): Promise<void> {
    if (this.finished) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private schedule(ms: number, run: () => void, release: () => void = () => {}): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.set(timer, release);
    return timer;
  }

  private cancel(timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const [timer, release] of this.timers) {
      clearTimeout(timer);
      release();
    }
    this.timers.clear();
    this.wake();
    this.host.finished(this);
  }
}

/** One direction of a connection: a queue of what the source sent, forwarded in order through the faults. */
class Pipe {
  private readonly queue: Item[] = [];
  private queuedBytes = 0;
  private running = false;
  private nextSendAt = 0;

  constructor(
    private readonly connection: FaultConnection,
    private readonly direction: Direction,
    private readonly source: Socket,
    private readonly dest: Socket,
    private readonly random: () => number,
  ) {
    source.on('data', (chunk: Buffer) => this.push({ type: 'data', chunk, at: performance.now() }));
    source.on('end', () => this.push({ type: 'end' }));
    // a reset or failure of the source (or a refused connection to the target) reaches the other peer as a reset
    source.on('error', () => this.push({ type: 'reset' }));
  }

  private push(item: Item): void {
    if (this.connection.finished) return;
    this.queue.push(item);
    if (item.type === 'data') {
      this.queuedBytes += item.chunk.length;
      if (this.queuedBytes > HIGH_WATER) this.source.pause();
    }
    void this.run();
  }

  private shift(): Item {
    const item = this.queue.shift()!;
    if (item.type === 'data') {
      this.queuedBytes -= item.chunk.length;
      if (this.queuedBytes <= HIGH_WATER / 2 && this.source.isPaused()) this.source.resume();
    }
    return item;
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { connection, direction } = this;
    try {
      while (this.queue.length > 0 && !connection.finished) {
        if (connection.isDead(direction)) {
          this.shift();
          continue;
        }
        const faults = connection.faults(direction);
        if (faults.timeout) {
          await connection.changed();
          continue;
        }
        const item = this.shift();
        if (item.type === 'data') {
          await this.forward(item.chunk, item.at);
        } else if (item.type === 'end') {
          if (faults.slowClose) await connection.sleepUntil(performance.now() + faults.slowClose.ms);
          if (!connection.isDead(direction) && !this.dest.destroyed) this.dest.end();
        } else {
          connection.resetSocket(this.dest);
        }
      }
    } catch {
      connection.destroy();
    } finally {
      this.running = false;
    }
  }

  private async forward(chunk: Buffer, at: number): Promise<void> {
    const { connection, direction } = this;
    const latency = connection.faults(direction).latency;
    if (latency) {
      const jitter = latency.jitterMs ? (this.random() * 2 - 1) * latency.jitterMs : 0;
      await connection.sleepUntil(at + Math.max(0, latency.ms + jitter));
    }
    // the faults may have changed while the chunk was delayed
    const { reset, bandwidth, slice } = connection.faults(direction);
    if (reset) {
      const left = (reset.afterBytes ?? 0) - connection.resetBytes;
      if (chunk.length >= left) {
        if (left > 0) await this.write(chunk.subarray(0, left));
        connection.reset();
        return;
      }
      connection.resetBytes += chunk.length;
    }
    const pieces = this.pieces(chunk, slice, bandwidth?.bytesPerSecond);
    for (let index = 0; index < pieces.length; index++) {
      if (connection.finished || connection.isDead(direction)) return;
      const piece = pieces[index]!;
      if (bandwidth) {
        this.nextSendAt = Math.max(this.nextSendAt, performance.now());
        await connection.sleepUntil(this.nextSendAt);
        this.nextSendAt += (piece.length * 1000) / bandwidth.bytesPerSecond;
      }
      await this.write(piece);
      if (slice?.delayUs && index < pieces.length - 1) await connection.sleepUntil(performance.now() + slice.delayUs / 1000);
    }
  }

  /** slice sizes when slicing; else 50 ms worth of bytes under a bandwidth limit, so it is smooth; else whole */
  private pieces(chunk: Buffer, slice: SliceFault | undefined, bytesPerSecond: number | undefined): Buffer[] {
    if (!slice && (bytesPerSecond === undefined || chunk.length <= bytesPerSecond / 20)) return [chunk];
    const pieces: Buffer[] = [];
    for (let offset = 0; offset < chunk.length; ) {
      const size = slice
        ? Math.max(1, Math.round(slice.averageBytes + (this.random() * 2 - 1) * (slice.varianceBytes ?? 0)))
        : Math.max(1, Math.floor(bytesPerSecond! / 20));
      pieces.push(chunk.subarray(offset, offset + size));
      offset += size;
    }
    return pieces;
  }

  /** resolves once the piece is handed to the kernel (backpressure), or the destination is gone */
  private write(piece: Buffer): Promise<void> {
    const dest = this.dest;
    if (dest.destroyed || dest.writableEnded || this.connection.finished) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        dest.off('close', done);
        resolve();
      };
      dest.on('close', done);
      this.connection.forwardedBytes(this.direction, piece.length);
      dest.write(piece, done);
    });
  }
}
