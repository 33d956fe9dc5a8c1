/**
 * One direction of a proxied connection of the test fault proxy (see fault-proxy.ts): what the source
 * sent, queued and forwarded in order through the faults in force.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { FaultConnection } from './fault-proxy-connection.js';
import type { Direction, SliceFault } from './fault-proxy-faults.js';

type Item = { type: 'data'; chunk: Buffer; at: number } | { type: 'end' } | { type: 'reset' };

/** above this many queued bytes the source is paused, so a held or slow pipe pushes back on its sender */
const HIGH_WATER = 1 << 20;
/** how long a reset after some bytes waits for those bytes to be read before sending the RST */
const RESET_AFTER_DATA_MS = 20;

/** One direction of a connection: a queue of what the source sent, forwarded in order through the faults. */
export class Pipe {
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
        if (left > 0) {
          await this.write(chunk.subarray(0, left));
          // libuv reports a RST that arrives along with unread data as a clean end: let the data land first
          await connection.sleepUntil(performance.now() + RESET_AFTER_DATA_MS);
        }
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
