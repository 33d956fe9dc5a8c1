/**
 * A small, strict XML scanner for the subset test reports use: elements, attributes, text, character
 * and the five predefined entity references, CDATA, comments, processing instructions and a DOCTYPE
 * without an internal subset (which is refused: no entity expansion, no external fetches).
 *
 * It is event based, so the caller keeps only what it needs (a JUnit report's system-out can be
 * megabytes). Every syntax error carries a line and column. Control characters other than NUL are
 * accepted in text and character references, because test output is full of ANSI escapes and
 * rejecting a whole report over a colour code helps nobody.
 */

export class XmlSyntaxError extends Error {
  constructor(
    readonly problem: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${problem}`);
    this.name = 'XmlSyntaxError';
  }
}

export interface XmlHandler {
  /**
   * A start tag (self-closing tags are followed at once by `close`). `fail` throws an XmlSyntaxError
   * positioned at this tag, for problems the caller finds in the document's content.
   */
  open(name: string, attributes: ReadonlyMap<string, string>, fail: (problem: string) => never): void;
  close(name: string): void;
  /** character data inside the root element, entities decoded; CDATA arrives here too */
  text(text: string): void;
}

const nameStart = ':A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}';
const nameChar = `${nameStart}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040`;
// XML name characters include combining marks (U+0300-036F), which are meant to follow a start character
// eslint-disable-next-line no-misleading-character-class
const namePattern = new RegExp(`[${nameStart}][${nameChar}]*`, 'uy');
const whitespace = /[ \t\n]*/y;

const predefined: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Line and column (both from 1) of an offset in the text. */
export function positionOf(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, source.length);
  for (let index = source.indexOf('\n'); index !== -1 && index < end; index = source.indexOf('\n', index + 1)) {
    line += 1;
    lineStart = index + 1;
  }
  return { line, column: end - lineStart + 1 };
}

/** Scans a whole document, calling the handler for each element and piece of text; throws XmlSyntaxError. */
export function scanXml(input: string, handler: XmlHandler): void {
  // XML normalizes line ends before parsing; line numbers stay the same, so positions stay true
  const source = (input.startsWith('\uFEFF') ? input.slice(1) : input).replace(/\r\n?/g, '\n');
  new Scanner(source, handler).run();
}

class Scanner {
  private index = 0;
  private readonly open: Array<{ name: string; offset: number }> = [];
  private seenRoot = false;

  constructor(
    private readonly source: string,
    private readonly handler: XmlHandler,
  ) {}

  private fail(problem: string, offset: number): never {
    const { line, column } = positionOf(this.source, offset);
    throw new XmlSyntaxError(problem, line, column);
  }

  run(): void {
    const { source } = this;
    if (source.trim() === '') this.fail('the document is empty', 0);
    while (this.index < source.length) {
      if (source.charCodeAt(this.index) === 0x3c /* < */) this.markup();
      else this.characterData();
    }
    const unclosed = this.open.at(-1);
    if (unclosed !== undefined) {
      const { line, column } = positionOf(source, unclosed.offset);
      this.fail(`unexpected end of the document: <${unclosed.name}> opened at line ${line}, column ${column} is not closed`, source.length);
    }
    if (!this.seenRoot) this.fail('the document has no root element', source.length);
  }

  private find(text: string, from: number, what: string, start: number): number {
    const at = this.source.indexOf(text, from);
    if (at === -1) this.fail(`unterminated ${what}: no "${text}" after it`, start);
    return at;
  }

  private markup(): void {
    const { source } = this;
    const start = this.index;
    if (source.startsWith('<?', start)) {
      const end = this.find('?>', start + 2, 'processing instruction', start);
      const target = /^[^\s?]*/.exec(source.slice(start + 2, end))?.[0] ?? '';
      if (target.toLowerCase() === 'xml' && start !== 0) this.fail('the XML declaration must be at the very start of the document', start);
      if (target === '') this.fail('a processing instruction needs a target name', start + 2);
      this.index = end + 2;
    } else if (source.startsWith('<!--', start)) {
      const end = this.find('-->', start + 4, 'comment', start);
      const doubleDash = source.indexOf('--', start + 4);
      if (doubleDash < end) this.fail('"--" is not allowed inside a comment', doubleDash);
      this.index = end + 3;
    } else if (source.startsWith('<![CDATA[', start)) {
      if (this.open.length === 0) this.fail('CDATA section outside the root element', start);
      const end = this.find(']]>', start + 9, 'CDATA section', start);
      const text = source.slice(start + 9, end);
      this.checkCharacters(text, start + 9);
      this.handler.text(text);
      this.index = end + 3;
    } else if (source.startsWith('<!DOCTYPE', start)) {
      this.doctype(start);
    } else if (source.startsWith('<!', start)) {
      this.fail('unexpected markup declaration; expected a comment, CDATA section or element', start);
    } else if (source.startsWith('</', start)) {
      this.endTag(start);
    } else {
      this.startTag(start);
    }
  }

  private doctype(start: number): void {
    if (this.seenRoot) this.fail('DOCTYPE after the root element', start);
    let quote = '';
    for (let index = start + 9; index < this.source.length; index += 1) {
      const char = this.source[index];
      if (quote !== '') {
        if (char === quote) quote = '';
      } else if (char === '"' || char === "'") {
        quote = char;
      } else if (char === '[') {
        this.fail('DOCTYPE internal subsets are not supported (no entity declarations in test reports)', index);
      } else if (char === '>') {
        this.index = index + 1;
        return;
      }
    }
    this.fail('unterminated DOCTYPE', start);
  }

  private name(at: number, what: string): string {
    namePattern.lastIndex = at;
    const match = namePattern.exec(this.source);
    if (match === null) {
      const found = this.source[at];
      this.fail(`expected ${what}, found ${found === undefined ? 'the end of the document' : JSON.stringify(found)}`, at);
    }
    return match[0];
  }

  private skipWhitespace(): number {
    whitespace.lastIndex = this.index;
    whitespace.exec(this.source);
    const skipped = whitespace.lastIndex - this.index;
    this.index = whitespace.lastIndex;
    return skipped;
  }

  private expect(char: string, context: string): void {
    const found = this.source[this.index];
    if (found !== char) {
      this.fail(`expected "${char}" ${context}, found ${found === undefined ? 'the end of the document' : JSON.stringify(found)}`, this.index);
    }
    this.index += 1;
  }

  private startTag(start: number): void {
    const { source } = this;
    if (this.open.length === 0 && this.seenRoot) this.fail('a second root element; a document has exactly one', start);
    const name = this.name(start + 1, 'an element name after "<"');
    this.index = start + 1 + name.length;
    const attributes = new Map<string, string>();
    for (;;) {
      const spaced = this.skipWhitespace() > 0;
      if (source.startsWith('/>', this.index)) {
        this.index += 2;
        this.seenRoot = true;
        this.handler.open(name, attributes, (problem) => this.fail(problem, start));
        this.handler.close(name);
        return;
      }
      if (source[this.index] === '>') {
        this.index += 1;
        this.seenRoot = true;
        this.open.push({ name, offset: start });
        this.handler.open(name, attributes, (problem) => this.fail(problem, start));
        return;
      }
      if (this.index >= source.length) this.fail(`unterminated start tag <${name}>`, start);
      if (!spaced) this.fail(`expected whitespace, ">" or "/>" in <${name}>`, this.index);
      const attributeAt = this.index;
      const attribute = this.name(this.index, `an attribute name, ">" or "/>" in <${name}>`);
      this.index += attribute.length;
      this.skipWhitespace();
      this.expect('=', `after attribute ${attribute}`);
      this.skipWhitespace();
      const quote = source[this.index];
      if (quote !== '"' && quote !== "'") this.fail(`the value of attribute ${attribute} must be in quotes`, this.index);
      const valueStart = this.index + 1;
      const valueEnd = this.find(quote, valueStart, `value of attribute ${attribute}`, this.index);
      const lessThan = source.indexOf('<', valueStart);
      if (lessThan !== -1 && lessThan < valueEnd) this.fail(`"<" is not allowed in an attribute value; write &lt;`, lessThan);
      if (attributes.has(attribute)) this.fail(`attribute ${attribute} appears twice in <${name}>`, attributeAt);
      attributes.set(attribute, this.decode(source.slice(valueStart, valueEnd), valueStart, true));
      this.index = valueEnd + 1;
    }
  }

  private endTag(start: number): void {
    const name = this.name(start + 2, 'an element name after "</"');
    this.index = start + 2 + name.length;
    this.skipWhitespace();
    this.expect('>', `to end </${name}`);
    const top = this.open.pop();
    if (top === undefined) this.fail(`closing tag </${name}> without a matching start tag`, start);
    if (top.name !== name) {
      const { line, column } = positionOf(this.source, top.offset);
      this.fail(`expected </${top.name}> (opened at line ${line}, column ${column}), found </${name}>`, start);
    }
    this.handler.close(name);
  }

  private characterData(): void {
    const { source } = this;
    const start = this.index;
    const next = source.indexOf('<', start);
    const end = next === -1 ? source.length : next;
    this.index = end;
    if (this.open.length === 0) {
      const stray = source.slice(start, end).search(/[^ \t\n]/);
      if (stray !== -1) {
        this.fail(this.seenRoot ? 'text after the root element' : 'text before the root element', start + stray);
      }
      return;
    }
    const text = source.slice(start, end);
    const cdataEnd = text.indexOf(']]>');
    if (cdataEnd !== -1) this.fail('"]]>" is not allowed in text', start + cdataEnd);
    this.handler.text(this.decode(text, start, false));
  }

  /** Every search below stays inside one piece of text, so a large document is scanned in linear time. */
  private checkCharacters(text: string, offset: number): void {
    const nul = text.indexOf('\u0000');
    if (nul !== -1) this.fail('NUL character in the document', offset + nul);
  }

  /** Decodes entity and character references in `text` (found at `offset`); attribute values get whitespace normalized. */
  private decode(text: string, offset: number, attribute: boolean): string {
    this.checkCharacters(text, offset);
    if (!text.includes('&')) return attribute ? text.replace(/[\t\n]/g, ' ') : text;
    const literal = (from: number, to: number) => (attribute ? text.slice(from, to).replace(/[\t\n]/g, ' ') : text.slice(from, to));
    let out = '';
    let from = 0;
    for (let amp = text.indexOf('&'); amp !== -1; amp = text.indexOf('&', from)) {
      out += literal(from, amp);
      const semicolon = text.indexOf(';', amp);
      if (semicolon === -1 || semicolon - amp > 12) {
        this.fail('"&" must start a reference like &amp; or &#60;; write a literal ampersand as &amp;', offset + amp);
      }
      out += this.reference(text.slice(amp + 1, semicolon), offset + amp);
      from = semicolon + 1;
    }
    return out + literal(from, text.length);
  }

  private reference(reference: string, at: number): string {
    const named = predefined[reference];
    if (named !== undefined && Object.hasOwn(predefined, reference)) return named;
    const numeric = /^#(?:([0-9]+)|x([0-9a-fA-F]+))$/.exec(reference);
    if (numeric === null) {
      this.fail(`unknown entity &${reference};, only &lt; &gt; &amp; &quot; &apos; and character references are defined`, at);
    }
    const code = numeric[1] !== undefined ? Number.parseInt(numeric[1], 10) : Number.parseInt(numeric[2] ?? '', 16);
    const valid = code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) && code !== 0xfffe && code !== 0xffff;
    if (!valid) this.fail(`character reference &${reference}; is not a valid XML character`, at);
    return String.fromCodePoint(code);
  }
}
