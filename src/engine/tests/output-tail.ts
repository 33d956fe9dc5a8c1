/**
 * The last lines of a command's stdout and stderr, interleaved in the order lines complete. Memory
 * is bounded whatever the command prints: at most `maxLines` lines of at most `maxLineLength`
 * characters are kept, plus one unfinished line per stream, itself capped.
 */
import { StringDecoder } from 'node:string_decoder';

export interface OutputTailOptions {
  maxLines?: number;
  maxLineLength?: number;
}

// colour and cursor escapes: CSI sequences and OSC strings (terminated by BEL or ST)
// eslint-disable-next-line no-control-regex
const terminalEscapes = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

class PartialLine {
  readonly decoder = new StringDecoder('utf8');
  text = '';
  dropped = 0;
}

export class OutputTail {
  private readonly maxLines: number;
  private readonly maxLineLength: number;
  private readonly lines: string[] = [];
  private readonly partials = new Map<string, PartialLine>();
  private total = 0;

  constructor(options: OutputTailOptions = {}) {
    this.maxLines = Math.max(1, options.maxLines ?? 50);
    this.maxLineLength = Math.max(16, options.maxLineLength ?? 1000);
  }

  /** lines completed so far, including those no longer kept */
  get lineCount(): number {
    return this.total;
  }

  /** characters held right now: the bound the tests check */
  get retainedCharacters(): number {
    let count = this.lines.reduce((sum, line) => sum + line.length, 0);
    for (const partial of this.partials.values()) count += partial.text.length;
    return count;
  }

  write(stream: string, chunk: Buffer | string): void {
    let partial = this.partials.get(stream);
    if (partial === undefined) {
      partial = new PartialLine();
      this.partials.set(stream, partial);
    }
    const text = typeof chunk === 'string' ? chunk : partial.decoder.write(chunk);
    let from = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', from)) {
      this.append(partial, text, from, newline);
      this.complete(partial);
      from = newline + 1;
    }
    this.append(partial, text, from, text.length);
  }

  /** Ends every stream and returns the kept lines joined by newlines. */
  finish(): string {
    for (const partial of this.partials.values()) {
      const rest = partial.decoder.end();
      this.append(partial, rest, 0, rest.length);
      if (partial.text !== '' || partial.dropped > 0) this.complete(partial);
    }
    return this.lines.join('\n');
  }

  private append(partial: PartialLine, text: string, from: number, to: number): void {
    const room = this.maxLineLength - partial.text.length;
    const length = to - from;
    if (length <= room) {
      partial.text += text.slice(from, to);
    } else {
      if (room > 0) partial.text += text.slice(from, from + room);
      partial.dropped += length - Math.max(room, 0);
    }
  }

  private complete(partial: PartialLine): void {
    let line = partial.text.endsWith('\r') ? partial.text.slice(0, -1) : partial.text;
    line = line.replace(terminalEscapes, '');
    if (partial.dropped > 0) line += `… (${partial.dropped} more characters)`;
    partial.text = '';
    partial.dropped = 0;
    this.total += 1;
    this.lines.push(line);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }
}
