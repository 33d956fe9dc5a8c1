/** Finds where a path in the parsed data sits in the YAML text, so every problem gets a line and column. */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import type { PathSegment } from './problems.js';

export interface Position {
  line: number;
  column: number;
}

/**
 * The position of the node at `path`, or of the deepest node that exists on the way: a missing
 * required field is reported at the mapping that lacks it. With `pointAt: 'key'` the position of the
 * mapping key is returned, which is where an unknown field's name is.
 */
export function locate(document: Document, lineCounter: LineCounter, path: readonly PathSegment[], pointAt: 'key' | 'value' = 'value'): Position {
  let node: unknown = document.contents;
  let pair: Pair | undefined;
  let best: unknown = node;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(document);
    pair = undefined;
    if (isMap(node)) {
      pair = node.items.find((item) => keyText(item.key) === String(segment));
      node = pair?.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
    } else {
      node = undefined;
    }
    if (node === undefined && pair === undefined) break;
    // An empty value (`target:` with nothing after it) has no useful position of its own: use its key.
    best = pair !== undefined && (pointAt === 'key' || isEmptyScalar(node)) ? pair.key : (node ?? pair?.key);
  }
  return positionOf(best, lineCounter);
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function isEmptyScalar(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null && (node.source === '' || node.source === undefined));
}

function positionOf(node: unknown, lineCounter: LineCounter): Position {
  const offset = hasRange(node) ? node.range[0] : 0;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function hasRange(node: unknown): node is Node & { range: [number, number, number] } {
  return typeof node === 'object' && node !== null && Array.isArray((node as { range?: unknown }).range);
}

/** Position of a character offset in the text. */
/**
 * Line starts counted from the text itself. The YAML parser's own counter can miss newlines it skips
 * while recovering from a syntax error, which would put every later problem on the wrong line.
 */
export function textLineCounter(text: string): LineCounter {
  const lineCounter = new LineCounter();
  lineCounter.addNewLine(0);
  for (let index = text.indexOf('\n'); index !== -1; index = text.indexOf('\n', index + 1)) lineCounter.addNewLine(index + 1);
  return lineCounter;
}

export function positionAt(lineCounter: LineCounter, offset: number): Position {
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/** Where `path` sits in a promote.yaml text: for problems found after loading (planning a rollout, say). */
export function locateInText(text: string, path: readonly PathSegment[]): Position {
  const lineCounter = new LineCounter();
  return locate(parseDocument(text, { lineCounter }), lineCounter, path);
}
