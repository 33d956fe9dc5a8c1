import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { scratchFolder } from '../../../test/helpers/scratch.js';
import { describeJUnit, JUnitError, maxFailedCases, parseJUnit, readJUnitFile, readJUnitFiles, type JUnitFailedCase, type JUnitSummary } from './junit.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

function parseError(xml: string): JUnitError {
  try {
    parseJUnit(xml);
  } catch (error) {
    if (error instanceof JUnitError) return error;
    throw error;
  }
  throw new Error('expected a JUnitError');
}

describe('JUnit reports from real runners', () => {
  it('reads a pytest report: failures, setup errors, skips and xfails', async () => {
    const result = await readJUnitFile(join(fixtures, 'tests-junit-pytest.xml'));
    expect(result).toEqual({
      ok: true,
      summary: {
        tests: 6,
        failures: 1,
        errors: 1,
        skipped: 2,
        timeSeconds: 0.731,
        failed: [
          { suite: 'pytest', classname: 'tests.test_api', name: 'test_create_order', kind: 'failure', message: 'assert 500 == 201\n +  where 500 = <Response [500]>.status_code' },
          { suite: 'pytest', classname: 'tests.test_db', name: 'test_connection', kind: 'error', message: 'failed on setup with "psycopg.OperationalError: connection refused"' },
        ],
      },
    });
  });

  it('reads a jest-junit report: the message is the first line of the failure text', async () => {
    const result = await readJUnitFile(join(fixtures, 'tests-junit-jest.xml'));
    expect(result).toEqual({
      ok: true,
      summary: {
        tests: 5,
        failures: 1,
        errors: 0,
        skipped: 1,
        timeSeconds: 2.345,
        failed: [
          {
            suite: 'orders api',
            classname: 'orders api rejects a negative total',
            name: 'orders api rejects a negative total',
            kind: 'failure',
            message: 'Error: expect(received).toBe(expected) // Object.is equality',
          },
        ],
      },
    });
  });

  it('reads a Maven Surefire report: a bare <testsuite>, CDATA, properties, a flaky test that passed on rerun', async () => {
    const result = await readJUnitFile(join(fixtures, 'tests-junit-surefire.xml'));
    expect(result).toEqual({
      ok: true,
      summary: {
        tests: 5,
        failures: 1,
        errors: 1,
        skipped: 1,
        timeSeconds: 1234.5,
        failed: [
          { suite: 'com.example.orders.OrderServiceTest', name: 'rejectsNegativeTotal', kind: 'failure', message: 'expected: <400> but was: <500>' },
          { suite: 'com.example.orders.OrderServiceTest', name: 'connectsToDatabase', kind: 'error', message: 'Connection refused' },
        ],
      },
    });
  });

  it('merges several files, as a Surefire folder has one per class', async () => {
    const result = await readJUnitFiles([join(fixtures, 'tests-junit-jest.xml'), join(fixtures, 'tests-junit-surefire.xml')]);
    expect(result.ok && result.summary).toMatchObject({ tests: 10, failures: 2, errors: 1, skipped: 2, timeSeconds: 1236.845 });
    expect(result.ok && result.summary.failed.map((failed) => failed.name)).toEqual(['orders api rejects a negative total', 'rejectsNegativeTotal', 'connectsToDatabase']);
  });

  it('names the file and the position of malformed XML', async () => {
    const file = join(fixtures, 'tests-junit-malformed.xml');
    const result = await readJUnitFile(file);
    expect(result).toEqual({
      ok: false,
      problem: `JUnit report ${file} is malformed: line 5, column 3: expected </testcase> (opened at line 3, column 3), found </testsuite>`,
    });
  });

  it('describes a summary in one line', () => {
    const summary = parseJUnit(`<testsuite name="s"><testcase name="a"><failure message="x&#10;y"/></testcase><testcase name="b"><error/></testcase><testcase name="c"/></testsuite>`);
    expect(describeJUnit(summary)).toBe('1 failed and 1 errored of 3 JUnit tests: s › a: x y (and 1 more)');
    expect(describeJUnit(parseJUnit('<testsuite><testcase name="a"/><testcase name="b"><skipped/></testcase></testsuite>'))).toBe('2 JUnit tests passed, 1 skipped');
  });
});

describe('JUnit parsing details', () => {
  it('uses the suites own counts when there are no testcase elements', () => {
    expect(parseJUnit('<testsuites><testsuite tests="4" failures="1" errors="0" skipped="2" time="1.5"/><testsuite tests="3" failures="0" errors="1" time="0.25"/></testsuites>')).toEqual({
      tests: 7,
      failures: 1,
      errors: 1,
      skipped: 2,
      timeSeconds: 1.75,
      failed: [],
    });
    expect(parseJUnit('<testsuites tests="2" failures="2"/>')).toMatchObject({ tests: 2, failures: 2 });
  });

  it('decodes entities, character references, CDATA, and skips comments and processing instructions', () => {
    const summary = parseJUnit(`\uFEFF<?xml version="1.0"?>
<!-- produced by hand -->
<?some-tool keep="this"?>
<!DOCTYPE testsuites SYSTEM "junit.dtd">
<testsuites>
  <testsuite name='quotes "double" &amp; &apos;single&apos;'>
    <testcase name="&#60;&#x3E;&#x1F600;&lt;&gt;" classname="c">
      <!-- a comment inside -->
      <failure><![CDATA[first <line> & more]]>&#10;second</failure>
    </testcase>
  </testsuite>
</testsuites>
<!-- trailing comment -->
`);
    expect(summary.failed).toEqual([{ suite: `quotes "double" & 'single'`, classname: 'c', name: '<>😀<>', kind: 'failure', message: 'first <line> & more' }]);
  });

  it('normalizes whitespace in attributes but keeps character references, and line ends everywhere', () => {
    const summary = parseJUnit('<testsuite>\r\n<testcase name="a\tb\r\nc&#10;d&#9;e"><failure message="x"/></testcase>\r</testsuite>');
    expect(summary.failed[0]?.name).toBe('a b c\nd\te');
  });

  it('counts the worst outcome of a testcase once', () => {
    const summary = parseJUnit('<testsuite><testcase name="t"><skipped/><error message="e"/><failure message="f"/></testcase></testsuite>');
    expect(summary).toMatchObject({ tests: 1, failures: 1, errors: 0, skipped: 0, failed: [{ message: 'f', kind: 'failure' }] });
  });

  it(`keeps at most ${maxFailedCases} failed cases but counts them all`, () => {
    const cases = Array.from({ length: 120 }, (_, index) => `<testcase name="t${index}"><failure message="m${index}"/></testcase>`).join('');
    const summary = parseJUnit(`<testsuite name="many">${cases}</testsuite>`);
    expect(summary.failures).toBe(120);
    expect(summary.failed).toHaveLength(maxFailedCases);
    expect(summary.failed.at(-1)?.name).toBe(`t${maxFailedCases - 1}`);
  });

  it('reads a large report in linear time', () => {
    const output = `<system-out>${'log line with &amp; entity\n'.repeat(20_000)}</system-out>`;
    const cases = Array.from({ length: 20_000 }, (_, index) => `<testcase name="t${index}" classname="c" time="0.001">${index % 1000 === 0 ? '<failure message="m"/>' : ''}</testcase>`).join('\n');
    const xml = `<testsuites><testsuite name="big">${output}${cases}<![CDATA[ end ]]></testsuite></testsuites>`;
    const started = performance.now();
    const summary = parseJUnit(xml);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(summary).toMatchObject({ tests: 20_000, failures: 20 });
  });

  it('clips long messages', () => {
    const summary = parseJUnit(`<testsuite><testcase name="t"><failure message="${'x'.repeat(5000)}"/></testcase></testsuite>`);
    expect(summary.failed[0]?.message).toHaveLength(500);
  });

  it('reads UTF-16 and declared single-byte encodings', async () => {
    const folder = await scratchFolder('promote-junit-');
    const xml = '<testsuite name="é"><testcase name="ü"><failure message="ß"/></testcase></testsuite>';
    await writeFile(join(folder, 'utf16.xml'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, 'utf16le')]));
    await writeFile(join(folder, 'latin1.xml'), Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?>${xml}`, 'latin1'));
    await writeFile(join(folder, 'klingon.xml'), `<?xml version="1.0" encoding="x-klingon"?>${xml}`);
    await writeFile(join(folder, 'empty.xml'), '');
    for (const name of ['utf16.xml', 'latin1.xml']) {
      const result = await readJUnitFile(join(folder, name));
      expect(result.ok && result.summary.failed).toEqual([{ suite: 'é', name: 'ü', message: 'ß', kind: 'failure' }]);
    }
    expect(await readJUnitFile(join(folder, 'klingon.xml'))).toEqual({ ok: false, problem: `JUnit report ${join(folder, 'klingon.xml')} cannot be read: the declared encoding "x-klingon" is not supported` });
    expect(await readJUnitFile(join(folder, 'empty.xml'))).toEqual({ ok: false, problem: `JUnit report ${join(folder, 'empty.xml')} is empty` });
    const missing = await readJUnitFile(join(folder, 'missing.xml'));
    expect(!missing.ok && missing.problem).toMatch(/^could not read JUnit report .*missing\.xml: .*ENOENT/);
  });

  const malformed: Array<[string, string, string]> = [
    ['an empty document', '  \n', 'line 1, column 1: the document is empty'],
    ['a root that is not a test report', '<html><body/></html>', 'line 1, column 1: the root element is <html>; a JUnit report starts with <testsuites> or <testsuite>'],
    ['an unclosed element', '<testsuite>\n  <testcase name="a">\n', 'line 3, column 1: unexpected end of the document: <testcase> opened at line 2, column 3 is not closed'],
    ['a stray closing tag', '<testsuite/></testcase>', 'line 1, column 13: closing tag </testcase> without a matching start tag'],
    ['an unknown entity', '<testsuite name="a&nbsp;b"/>', 'line 1, column 19: unknown entity &nbsp;, only &lt; &gt; &amp; &quot; &apos; and character references are defined'],
    ['a bare ampersand', '<testsuite>\n fish & chips</testsuite>', 'line 2, column 7: "&" must start a reference like &amp; or &#60;; write a literal ampersand as &amp;'],
    ['an invalid character reference', '<testsuite name="&#0;"/>', 'line 1, column 18: character reference &#0; is not a valid XML character'],
    ['a surrogate character reference', '<testsuite name="&#xD800;"/>', 'line 1, column 18: character reference &#xD800; is not a valid XML character'],
    ['a duplicate attribute', '<testsuite name="a" tests="1" name="b"/>', 'line 1, column 31: attribute name appears twice in <testsuite>'],
    ['an unquoted attribute', '<testsuite tests=1/>', 'line 1, column 18: the value of attribute tests must be in quotes'],
    ['"<" in an attribute', '<testsuite name="a<b"/>', 'line 1, column 19: "<" is not allowed in an attribute value; write &lt;'],
    ['attributes without whitespace', '<testsuite name="a"tests="1"/>', 'line 1, column 20: expected whitespace, ">" or "/>" in <testsuite>'],
    ['text after the root', '<testsuite/>\noops', 'line 2, column 1: text after the root element'],
    ['a second root', '<testsuite/><testsuite/>', 'line 1, column 13: a second root element; a document has exactly one'],
    ['an internal DTD subset', '<!DOCTYPE lolz [<!ENTITY lol "lol">]><testsuite/>', 'line 1, column 16: DOCTYPE internal subsets are not supported (no entity declarations in test reports)'],
    ['an unterminated comment', '<testsuite><!-- no end</testsuite>', 'line 1, column 12: unterminated comment: no "-->" after it'],
    ['"--" in a comment', '<testsuite><!-- a -- b --></testsuite>', 'line 1, column 19: "--" is not allowed inside a comment'],
    ['an unterminated CDATA section', '<testsuite><![CDATA[abc</testsuite>', 'line 1, column 12: unterminated CDATA section: no "]]>" after it'],
    ['"]]>" in text', '<testsuite>a]]>b</testsuite>', 'line 1, column 13: "]]>" is not allowed in text'],
    ['a late XML declaration', '<!-- x --><?xml version="1.0"?><testsuite/>', 'line 1, column 11: the XML declaration must be at the very start of the document'],
    ['a NUL character', '<testsuite>\u0000</testsuite>', 'line 1, column 12: NUL character in the document'],
    ['a bad element name', '<testsuite><1testcase/></testsuite>', 'line 1, column 13: expected an element name after "<", found "1"'],
    ['an unterminated start tag', '<testsuite name="a"', 'line 1, column 1: unterminated start tag <testsuite>'],
  ];
  it.each(malformed)('refuses %s with its position', (_, xml, message) => {
    expect(parseError(xml).message).toBe(message);
  });
});

// ---- round trips: a summary rendered as XML (escaped every legal way) parses back to itself ----

type Outcome = 'passed' | 'failure' | 'error' | 'skipped';
interface GeneratedCase {
  name: string;
  classname: string | undefined;
  outcome: Outcome;
  message: string;
  style: 'attribute' | 'text' | 'cdata';
  time: number;
}
interface GeneratedSuite {
  name: string;
  cases: GeneratedCase[];
}
interface GeneratedReport {
  suites: GeneratedSuite[];
  bare: boolean;
  timeMs: number;
  quote: '"' | "'";
  escapes: 'named' | 'decimal' | 'hex';
  seed: number;
  indent: string;
}

const specials = ['<', '>', '&', '"', "'", '\n', '\t', '\r', ']]>', ' ', '  ', '\u001b[31m', '--', '€', '😀', 'é', '\u0085', '\u2028', '-->', '<![CDATA[', '&amp;'];
const textUnit = fc.oneof(fc.constantFrom(...specials), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }), fc.constantFrom('a', 'b', 'Z', '0', '.', ':'));
const anyText = (maxLength: number) => fc.string({ unit: textUnit, maxLength }).filter((text) => !['\u0000', '\uFFFE', '\uFFFF'].some((bad) => text.includes(bad)));

const generatedCase: fc.Arbitrary<GeneratedCase> = fc.record({
  name: anyText(20),
  classname: fc.option(anyText(10), { nil: undefined }),
  outcome: fc.constantFrom<Outcome>('passed', 'failure', 'error', 'skipped'),
  style: fc.constantFrom<GeneratedCase['style']>('attribute', 'text', 'cdata'),
  message: anyText(60),
  time: fc.nat(100_000),
});
const generatedReport: fc.Arbitrary<GeneratedReport> = fc
  .record({
    suites: fc.array(fc.record({ name: anyText(20), cases: fc.array(generatedCase, { maxLength: 25 }) }), { minLength: 1, maxLength: 4 }),
    bare: fc.boolean(),
    timeMs: fc.nat(10_000_000),
    quote: fc.constantFrom<'"' | "'">('"', "'"),
    escapes: fc.constantFrom<GeneratedReport['escapes']>('named', 'decimal', 'hex'),
    seed: fc.nat(),
    indent: fc.constantFrom('', '\n', '\n  ', '\t', ' \r\n'),
  })
  .map((report) => ({ ...report, bare: report.bare && report.suites.length === 1 }));

function reference(code: number, style: GeneratedReport['escapes']): string {
  return style === 'hex' ? `&#x${code.toString(16)};` : `&#${code};`;
}

function escapeXml(text: string, report: GeneratedReport, inAttribute: boolean): string {
  const named: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const mustEscape = char === '<' || char === '&' || char === '>' || (inAttribute && char === report.quote) || code < 0x20 && !(code === 0x0a && !inAttribute);
    if (!mustEscape) out += char;
    else if (report.escapes === 'named' && named[char] !== undefined) out += named[char];
    else out += reference(code, report.escapes === 'named' ? 'decimal' : report.escapes);
  }
  return out;
}

function cdata(text: string): string {
  return `<![CDATA[${text.split(']]>').join(']]]]><![CDATA[>')}]]>`;
}

/** A tiny deterministic shuffle, so attribute order varies with the seed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed || 1;
  for (let index = out.length - 1; index > 0; index -= 1) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const other = state % (index + 1);
    [out[index], out[other]] = [out[other] as T, out[index] as T];
  }
  return out;
}

function renderReport(report: GeneratedReport): string {
  let seed = report.seed;
  const { quote, indent } = report;
  const attributes = (pairs: Array<[string, string | undefined]>) =>
    shuffled(pairs.filter((pair): pair is [string, string] => pair[1] !== undefined), (seed += 7))
      .map(([name, value]) => ` ${name}=${quote}${escapeXml(value, report, true)}${quote}`)
      .join('');
  const renderCase = (item: GeneratedCase): string => {
    const head = `<testcase${attributes([['name', item.name], ['classname', item.classname], ['time', String(item.time / 1000)]])}`;
    if (item.outcome === 'passed') return seed % 2 === 0 ? `${head}/>` : `${head}><system-out>${escapeXml(item.message, report, false)}</system-out></testcase>`;
    if (item.outcome === 'skipped') return `${head}><skipped${attributes([['message', item.message]])}/></testcase>`;
    const tag = item.outcome;
    if (item.style === 'attribute') return `${head}>${indent}<${tag}${attributes([['message', item.message], ['type', 'AssertionError']])}>trace &amp; more</${tag}>${indent}</testcase>`;
    const body = item.style === 'cdata' ? cdata(item.message) : escapeXml(item.message, report, false);
    return `${head}><!-- the ${tag} -->${indent}<${tag}${attributes([['type', 'X']])}>${body}</${tag}></testcase>`;
  };
  const renderSuite = (suite: GeneratedSuite, extra: Array<[string, string | undefined]>) =>
    `<testsuite${attributes([['name', suite.name], ['hostname', 'ci'], ['tests', String(suite.cases.length)], ...extra])}>${indent}${suite.cases.map(renderCase).join(indent)}${indent}</testsuite>`;
  const time = String(report.timeMs / 1000);
  const declaration = seed % 3 === 0 ? '<?xml version="1.0" encoding="UTF-8"?>\n' : '';
  if (report.bare) return `${declaration}${renderSuite(report.suites[0] as GeneratedSuite, [['time', time]])}${indent}`;
  return `${declaration}<testsuites${attributes([['time', time], ['name', 'all']])}>${indent}${report.suites.map((suite) => renderSuite(suite, [])).join(`${indent}<!-- next -->${indent}`)}${indent}</testsuites>`;
}

/** The summary a report should read as, by the rules in junit.ts's header. */
function expectedSummary(report: GeneratedReport): JUnitSummary {
  const summary: JUnitSummary = { tests: 0, failures: 0, errors: 0, skipped: 0, timeSeconds: report.timeMs / 1000, failed: [] };
  for (const suite of report.suites) {
    for (const item of suite.cases) {
      summary.tests += 1;
      if (item.outcome === 'skipped') summary.skipped += 1;
      if (item.outcome !== 'failure' && item.outcome !== 'error') continue;
      if (item.outcome === 'failure') summary.failures += 1;
      else summary.errors += 1;
      if (summary.failed.length >= maxFailedCases) continue;
      // CDATA cannot escape a carriage return: the parser sees it as a line end, as XML says
      const text = item.style === 'cdata' ? item.message.replace(/\r\n?/g, '\n') : item.message;
      const message = item.style === 'attribute' ? text : (text.split('\n').map((line) => line.trim()).find((line) => line !== '') ?? '');
      const failed: JUnitFailedCase = { suite: suite.name, name: item.name, message, kind: item.outcome };
      if (item.classname !== undefined && item.classname !== '' && item.classname !== suite.name) failed.classname = item.classname;
      summary.failed.push(failed);
    }
  }
  return summary;
}

describe('JUnit round trips', () => {
  it('a rendered summary parses back to itself, whatever the escaping, quoting, attribute order and layout', () => {
    fc.assert(
      fc.property(generatedReport, (report) => {
        expect(parseJUnit(renderReport(report))).toEqual(expectedSummary(report));
      }),
      { numRuns: 400 },
    );
  });

  it('a damaged report fails with a positioned JUnitError, never anything else', () => {
    const damage = fc.oneof(
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom('<', '>', '&', '"', "'", '/', '=', '<!', '<?', ']]>', '</x>', '&#;', '&#x110000;', '<a', '--') }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 5 }) }),
    );
    fc.assert(
      fc.property(generatedReport, damage, (report, change) => {
        const xml = renderReport(report);
        const at = change.at % (xml.length + 1);
        const damaged =
          change.kind === 'truncate' ? xml.slice(0, at) : change.kind === 'insert' ? xml.slice(0, at) + change.text + xml.slice(at) : xml.slice(0, at) + xml.slice(at + change.length);
        try {
          parseJUnit(damaged);
        } catch (error) {
          expect(error).toBeInstanceOf(JUnitError);
          const { line, column } = error as JUnitError;
          if (line !== undefined) {
            expect(line).toBeGreaterThanOrEqual(1);
            expect(column).toBeGreaterThanOrEqual(1);
            expect(line).toBeLessThanOrEqual(damaged.split(/\r\n?|\n/).length);
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('readJUnitFile', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await scratchFolder('promote-junit-read-');
  });

  it('returns a problem for a file that is not XML at all, naming it', async () => {
    const file = join(folder, 'not-xml.xml');
    await writeFile(file, 'PASS tests/orders.test.js\n');
    expect(await readJUnitFile(file)).toEqual({ ok: false, problem: `JUnit report ${file} is malformed: line 1, column 1: text before the root element` });
  });
});
