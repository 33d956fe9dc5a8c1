import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toFlagContext } from '../flags/openfeature-mapping.js';
import { createSseParser, type SseEvent } from './flags-transport.js';

const line = fc.string({ unit: fc.constantFrom('a', 'b', '{', '"', ':', ' ', 'é', '😀', '1') });

describe('the SSE parser', () => {
  it('reads the same events however the bytes are cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ event: fc.constantFrom('ruleset', 'unchanged'), id: fc.nat().map(String), data: fc.array(line, { minLength: 1, maxLength: 3 }) }), { maxLength: 6 }),
        fc.constantFrom('\n', '\r\n'),
        fc.array(fc.nat(), { maxLength: 10 }),
        (events, newline, cuts) => {
          const text = events.map((event) => `: heartbeat${newline}event: ${event.event}${newline}id: ${event.id}${newline}${event.data.map((part) => `data: ${part}${newline}`).join('')}${newline}`).join('');
          const seen: SseEvent[] = [];
          const parse = createSseParser((event) => seen.push(event));
          const points = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) => a - b);
          let from = 0;
          for (const point of [...points, text.length]) {
            parse(text.slice(from, point));
            from = point;
          }
          expect(seen).toEqual(events.map((event) => ({ event: event.event, id: event.id, data: event.data.join('\n') })));
        },
      ),
    );
  });
});

describe('toFlagContext', () => {
  it('never throws, and either refuses with a message or gives a flat context', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.date(), fc.constant(null)))), (input) => {
        const result = toFlagContext(input);
        if (!result.ok) expect(result.message).toMatch(/^(the context must be an object|context\.)/);
        else for (const value of Object.values(result.context.properties ?? {})) expect(typeof value).toBe('string');
      }),
    );
  });
});
