/**
 * Positions in a SQL file. The parser counts in UTF-8 bytes (AST locations) and, for errors, in
 * characters; editors and our `file:line:column` count lines from 1 and columns in UTF-16 units.
 * This class converts between them so no rule ever does offset arithmetic of its own.
 */
export interface Position {
  line: number;
  column: number;
}

export class SourceText {
  readonly text: string;
  private readonly lineStarts: number[] = [0];
  /** UTF-8 byte offset at each UTF-16 index (only built when the text is not plain ASCII) */
  private readonly bytesAt: Uint32Array | undefined;

  constructor(text: string) {
    this.text = text;
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      if (code === 10 || (code === 13 && text.charCodeAt(index + 1) !== 10)) this.lineStarts.push(index + 1);
    }
    // eslint-disable-next-line no-control-regex
    if (/^[\x00-\x7f]*$/.test(text)) return;
    const bytes = new Uint32Array(text.length + 1);
    let total = 0;
    for (let index = 0; index < text.length; index++) {
      bytes[index] = total;
      const code = text.charCodeAt(index);
      const next = text.charCodeAt(index + 1);
      if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        bytes[index + 1] = total + 2; // inside a pair: never a parser position
        total += 4;
        index++;
      } else {
        total += code < 0x80 ? 1 : code < 0x800 ? 2 : 3;
      }
    }
    bytes[text.length] = total;
    this.bytesAt = bytes;
  }

  /** The UTF-16 index of a UTF-8 byte offset (the nearest index at or before it). */
  indexOfByte(byte: number): number {
    const bytes = this.bytesAt;
    if (!bytes) return clamp(byte, 0, this.text.length);
    let low = 0;
    let high = this.text.length;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((bytes[middle] ?? 0) <= byte) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  byteOfIndex(index: number): number {
    return this.bytesAt ? (this.bytesAt[clamp(index, 0, this.text.length)] ?? 0) : index;
  }

  /** The UTF-16 index of the n-th code point (Postgres reports error positions in characters). */
  indexOfCharacter(character: number): number {
    let index = 0;
    for (let count = 0; count < character && index < this.text.length; count++) {
      const code = this.text.charCodeAt(index);
      index += code >= 0xd800 && code <= 0xdbff && isLowSurrogate(this.text.charCodeAt(index + 1)) ? 2 : 1;
    }
    return index;
  }

  position(index: number): Position {
    const at = clamp(index, 0, this.text.length);
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.lineStarts[middle] ?? 0) <= at) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: at - (this.lineStarts[low] ?? 0) + 1 };
  }

  /** The whole line an index is on, without its line break. */
  lineText(index: number): string {
    const { line } = this.position(index);
    const start = this.lineStarts[line - 1] ?? 0;
    const end = this.lineStarts[line] ?? this.text.length;
    return this.text.slice(start, end).replace(/\r?\n$|\r$/, '');
  }
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high);
}

/**
 * Lone surrogates cannot be encoded as UTF-8; the parser's encoder would swallow the character after
 * one. Each becomes U+FFFD, which keeps every UTF-16 index where it was.
 */
export function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
