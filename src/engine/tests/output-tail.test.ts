import { describe, expect, it } from 'vitest';
import { OutputTail } from './output-tail.js';

describe('OutputTail', () => {
  it('keeps the last lines, interleaved in the order they complete', () => {
    const tail = new OutputTail({ maxLines: 3 });
    tail.write('stdout', Buffer.from('one\ntw'));
    tail.write('stderr', Buffer.from('error one\n'));
    tail.write('stdout', Buffer.from('o\nthree\nfour'));
    expect(tail.finish()).toBe('two\nthree\nfour');
    expect(tail.lineCount).toBe(5);
  });

  it('holds a bounded number of characters whatever is written', () => {
    const tail = new OutputTail({ maxLines: 50, maxLineLength: 1000 });
    const bound = 50 * 1000 + 2 * 1000;
    for (let index = 0; index < 100_000; index += 1) tail.write(index % 2 === 0 ? 'stdout' : 'stderr', Buffer.from(`line ${index}\n`));
    const huge = Buffer.alloc(1024 * 1024, 'x');
    for (let index = 0; index < 20; index += 1) {
      tail.write('stdout', huge);
      expect(tail.retainedCharacters).toBeLessThanOrEqual(bound);
    }
    const text = tail.finish();
    expect(tail.lineCount).toBe(100_001);
    expect(text.split('\n')).toHaveLength(50);
    expect(text.split('\n').at(-2)).toBe('line 99999');
    expect(text.split('\n').at(-1)).toBe(`${'x'.repeat(1000)}… (${20 * 1024 * 1024 - 1000} more characters)`);
  });

  it('decodes UTF-8 split across chunks and strips terminal escapes and carriage returns', () => {
    const tail = new OutputTail();
    const bytes = Buffer.from('grün ✓\r\n\u001b[31mred\u001b[0m \u001b]8;;http://x\u0007link\u001b]8;;\u0007\n');
    for (const byte of bytes) tail.write('stdout', Buffer.from([byte]));
    expect(tail.finish()).toBe('grün ✓\nred link');
  });

  it('ends an unfinished multibyte sequence with a replacement character', () => {
    const tail = new OutputTail();
    tail.write('stdout', Buffer.from([0x61, 0xe2, 0x9c]));
    expect(tail.finish()).toBe('a\uFFFD');
  });
});
