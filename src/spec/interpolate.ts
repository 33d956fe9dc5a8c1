/**
 * `${VAR}` substitution from the environment, done on the parsed YAML scalars rather than on the raw
 * text: positions stay exact, and a variable's value can never inject YAML structure (a value
 * containing "\nfoo: bar" stays one string). Map keys are never substituted.
 *
 *   ${NAME}            the variable's value; an error when it is not set
 *   ${NAME:-default}   the default when the variable is unset or empty
 *   $${                a literal "${"
 *
 * `{{version}}`-style placeholders are not touched: they are filled in per version at run time.
 */
import { isMap, isScalar, isSeq, type Document } from 'yaml';
import { formatPath, type PathProblem, type PathSegment } from './problems.js';

export type EnvironmentVariables = Readonly<Record<string, string | undefined>>;

export interface InterpolatedString {
  value: string;
  /** Variables referenced without a default and not set, in order of first use. */
  missing: string[];
  /** Malformed references, as messages. */
  errors: string[];
}

const reference = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

export function interpolateString(text: string, env: EnvironmentVariables): InterpolatedString {
  let value = '';
  const missing: string[] = [];
  const errors: string[] = [];
  let index = 0;
  while (index < text.length) {
    if (text.startsWith('$${', index)) {
      value += '${';
      index += 3;
      continue;
    }
    if (!text.startsWith('${', index)) {
      value += text.charAt(index);
      index += 1;
      continue;
    }
    const close = text.indexOf('}', index + 2);
    if (close === -1) {
      errors.push('unterminated "${": close it with "}", or write "$${" for a literal "${"');
      value += text.slice(index);
      break;
    }
    const inner = text.slice(index + 2, close);
    const match = reference.exec(inner);
    if (match === null) {
      errors.push(`invalid variable reference "\${${inner.slice(0, 40)}}": expected \${NAME} or \${NAME:-default}, or "$\${" for a literal "\${"`);
    } else {
      const [, name = '', fallback] = match;
      const setValue = env[name];
      if (fallback !== undefined && (setValue === undefined || setValue === '')) value += fallback;
      else if (setValue !== undefined) value += setValue;
      else if (!missing.includes(name)) missing.push(name);
    }
    index = close + 1;
  }
  return { value, missing, errors };
}

/**
 * Substitutes variables in every string value of the document, in place. Plain (unquoted) scalars
 * that become a number or true/false after substitution take that type, as YAML would have read
 * them had the value been written out: `basePort: ${PORT:-4100}` is the number 4100.
 */
export function interpolateDocument(document: Document, env: EnvironmentVariables): PathProblem[] {
  const problems: PathProblem[] = [];
  const visit = (node: unknown, path: PathSegment[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key)) visit(pair.value, [...path, String(pair.key.value)]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...path, index]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      const result = interpolateString(node.value, env);
      for (const name of result.missing) {
        problems.push({ path, message: `environment variable ${name} is not set (used at ${formatPath(path)})` });
      }
      for (const error of result.errors) problems.push({ path, message: error });
      node.value = node.type === 'PLAIN' ? asPlainScalar(result.value) : result.value;
    }
  };
  visit(document.contents, []);
  return problems;
}

function asPlainScalar(text: string): string | number | boolean {
  if (/^-?(0|[1-9]\d*)(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}
