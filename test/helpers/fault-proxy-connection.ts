/**
 * One proxied connection of the test fault proxy (see fault-proxy.ts): a client socket, a socket to
 * the target, and a pipe each way (fault-proxy-pipe.ts) that applies the faults in force to each chunk.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connectionRandom, decide, type ActiveFaults, type Decision, type Direction, type FaultKind, type Faults } from './fault-proxy-faults.js';
import { Pipe } from './fault-proxy-pipe.js';

export interface ConnectionHost {
  forwarded(direction: Direction, bytes: number): void;
  applied(kind: FaultKind): void;
  finished(connection: FaultConnection): void;
}

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
