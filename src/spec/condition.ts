/**
 * Threshold conditions such as `value < 0.01` or `value >= 0.95 and value <= 1`. A tiny parser
 * instead of eval: the text comes from a config file, and a typo must be an error at load time, not a
 * surprise during a production rollout.
 *
 * Grammar (`and` binds tighter than `or`):
 *   condition  := conjunction ("or" conjunction)*
 *   conjunction := comparison ("and" comparison)*
 *   comparison := variable operator number | number operator variable | "(" condition ")"
 */
import { PromoteError } from '../errors.js';
import { didYouMean } from './suggest.js';

export const comparisonOperators = ['<', '<=', '>', '>=', '==', '!='] as const;
export type ComparisonOperator = (typeof comparisonOperators)[number];

/** Names a threshold condition may use. `value` is the measurement being judged. */
export const conditionVariables = ['value'] as const;

export type Condition =
  | { kind: 'compare'; variable: string; operator: ComparisonOperator; number: number }
  | { kind: 'and' | 'or'; left: Condition; right: Condition };

type Token =
  | { type: 'number'; value: number; at: number }
  | { type: 'word'; value: string; at: number }
  | { type: 'operator'; value: ComparisonOperator; at: number }
  | { type: 'paren'; value: '(' | ')'; at: number }
  | { type: 'end'; at: number };

const tokenPattern = /(-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(<=|>=|==|!=|<|>)|([()])/y;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  for (;;) {
    while (at < text.length && /\s/.test(text.charAt(at))) at++;
    if (at >= text.length) break;
    tokenPattern.lastIndex = at;
    const match = tokenPattern.exec(text);
    if (match === null) throw new PromoteError(`unexpected "${text.slice(at, at + 10)}" at character ${at + 1}`);
    if (match[1] !== undefined) tokens.push({ type: 'number', value: Number(match[1]), at });
    else if (match[2] !== undefined) tokens.push({ type: 'word', value: match[2], at });
    else if (match[3] !== undefined) tokens.push({ type: 'operator', value: match[3] as ComparisonOperator, at });
    else tokens.push({ type: 'paren', value: match[4] as '(' | ')', at });
    at = tokenPattern.lastIndex;
  }
  tokens.push({ type: 'end', at: text.length });
  return tokens;
}

const flipped: Record<ComparisonOperator, ComparisonOperator> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '==': '==', '!=': '!=' };

/** Parses a condition; throws PromoteError with a message that says what was expected where. */
export function parseCondition(text: string, variables: readonly string[] = conditionVariables): Condition {
  const tokens = tokenize(text);
  let index = 0;
  const peek = (): Token => tokens[index] ?? { type: 'end', at: text.length };
  const describe = (token: Token): string => (token.type === 'end' ? 'the end' : `"${String(token.value)}" at character ${token.at + 1}`);

  const variable = (token: Token & { type: 'word' }): string => {
    if (!variables.includes(token.value)) {
      throw new PromoteError(`unknown variable "${token.value}"; use ${variables.join(', ')}${didYouMean(token.value, variables)}`);
    }
    return token.value;
  };

  const comparison = (): Condition => {
    const first = tokens[index++] ?? peek();
    if (first.type === 'paren' && first.value === '(') {
      const inner = disjunction();
      const close = tokens[index++] ?? peek();
      if (close.type !== 'paren' || close.value !== ')') throw new PromoteError(`expected ")" but found ${describe(close)}`);
      return inner;
    }
    if (first.type !== 'word' && first.type !== 'number') {
      throw new PromoteError(`expected a comparison like "value < 0.01" but found ${describe(first)}`);
    }
    const operator = tokens[index++] ?? peek();
    const second = tokens[index++] ?? peek();
    if (operator.type !== 'operator') throw new PromoteError(`expected one of ${comparisonOperators.join(' ')} but found ${describe(operator)}`);
    if (first.type === 'word' && second.type === 'number') {
      return { kind: 'compare', variable: variable(first), operator: operator.value, number: second.value };
    }
    if (first.type === 'number' && second.type === 'word') {
      return { kind: 'compare', variable: variable(second), operator: flipped[operator.value], number: first.value };
    }
    throw new PromoteError(`a comparison needs a variable and a number, like "value < 0.01"; found ${describe(first)} and ${describe(second)}`);
  };

  const joined = (kind: 'and' | 'or', operand: () => Condition) => (): Condition => {
    let left = operand();
    for (let next = peek(); next.type === 'word' && next.value === kind; next = peek()) {
      index++;
      left = { kind, left, right: operand() };
    }
    return left;
  };
  const conjunction = joined('and', comparison);
  const disjunction = joined('or', conjunction);

  const condition = disjunction();
  const rest = peek();
  if (rest.type !== 'end') throw new PromoteError(`expected "and", "or" or the end but found ${describe(rest)}`);
  return condition;
}

/** Evaluates a parsed condition against the measured variables. */
export function evaluateCondition(condition: Condition, values: Readonly<Record<string, number>>): boolean {
  switch (condition.kind) {
    case 'and':
      return evaluateCondition(condition.left, values) && evaluateCondition(condition.right, values);
    case 'or':
      return evaluateCondition(condition.left, values) || evaluateCondition(condition.right, values);
    case 'compare': {
      const value = values[condition.variable];
      if (value === undefined) throw new PromoteError(`condition uses "${condition.variable}", which has no value`);
      return compare(value, condition.operator, condition.number);
    }
  }
}

function compare(left: number, operator: ComparisonOperator, right: number): boolean {
  switch (operator) {
    case '<':
      return left < right;
    case '<=':
      return left <= right;
    case '>':
      return left > right;
    case '>=':
      return left >= right;
    case '==':
      return left === right;
    case '!=':
      return left !== right;
  }
}
