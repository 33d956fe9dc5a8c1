/**
 * Rules that span several parts of the file, which a schema cannot express. They run on the raw
 * parsed value even when the schema found problems, so the user sees every problem in one pass;
 * hence the defensive reading of every field.
 */
import { checkDuration } from './duration.js';
import type { PathProblem } from './problems.js';
import { didYouMean } from './suggest.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const asObject = (value: unknown): Json => (isObject(value) ? value : {});

export function checkSemantics(data: unknown): PathProblem[] {
  const spec = asObject(data);
  const strategies = asObject(spec.strategies);
  const templates = Object.keys(asObject(asObject(spec.analysis).templates));
  return [
    ...uniqueNames(asList(spec.environments), 'environments', 'environment'),
    ...uniqueNames(asList(spec.flags), 'flags', 'flag'),
    ...strategyReferences(asList(spec.environments), Object.keys(strategies)),
    ...Object.entries(strategies).flatMap(([name, strategy]) => checkStrategy(name, asObject(strategy), templates)),
    ...Object.entries(asObject(asObject(spec.analysis).templates)).flatMap(([name, template]) => checkTemplate(name, asObject(template))),
    ...flagSafeguards(asList(spec.flags), asObject(asObject(spec.analysis).templates)),
    ...verifyChecks(strategies, Object.keys(asObject(asObject(spec.integrity).checks))),
    ...schemaChecks(asObject(asObject(spec.integrity).checks), asList(spec.environments)),
    ...routerAddresses(asList(spec.environments)),
  ];
}

/**
 * `promote server` runs every environment's router in one process: two of them (or a router and
 * its admin port) on one address cannot both listen. The defaults count, since two routers that
 * leave `admin` out share 127.0.0.1:9464. Port 0 picks a free port, so it never collides.
 */
function routerAddresses(environments: unknown[]): PathProblem[] {
  const taken = new Map<string, string>();
  const problems: PathProblem[] = [];
  environments.forEach((environment, index) => {
    if (!isObject(environment) || !isObject(environment.router)) return;
    const router = environment.router;
    for (const [field, fallback] of [['listen', '127.0.0.1:8080'], ['admin', '127.0.0.1:9464']] as const) {
      const address = typeof router[field] === 'string' ? router[field] : fallback;
      if (/:0$/.test(address)) continue;
      const where = `environments[${index}].router.${field}${typeof router[field] === 'string' ? '' : ' (its default)'}`;
      const first = taken.get(address);
      if (first === undefined) taken.set(address, where);
      else problems.push({ path: ['environments', index, 'router', ...(typeof router[field] === 'string' ? [field] : [])], message: `${where} is ${address}, which ${first} already uses: every router and admin port needs its own address` });
    }
  });
  return problems;
}

/**
 * A compare judge needs data its provider can give: raw samples for the distribution tests, event
 * counts for the proportion test. Caught here, not as "no data" on every measurement of a rollout.
 */
function checkTemplate(name: string, template: Json): PathProblem[] {
  const provider = asObject(template.provider);
  const judge = asObject(template.judge);
  if (judge.type !== 'compare' || typeof judge.test !== 'string') return [];
  const at: (string | number)[] = ['analysis', 'templates', name, 'judge', 'test'];
  if (provider.type === 'builtin' && typeof provider.metric === 'string') {
    if (judge.test === 'twoProportion' && provider.metric !== 'error_rate') {
      return [{ path: at, message: `twoProportion compares error counts: use it with the builtin metric error_rate, not ${provider.metric}` }];
    }
    if (judge.test !== 'twoProportion' && provider.metric !== 'latency') {
      return [{ path: at, message: `${judge.test} compares raw samples: use it with the builtin metric latency (${provider.metric} is one number per window)` }];
    }
  }
  if (provider.type === 'prometheus' && judge.test !== 'twoProportion' && provider.range === undefined) {
    return [{ path: at, message: `${judge.test} compares samples: give the prometheus provider a range (e.g. range: 5m) so the series' values become samples` }];
  }
  if (judge.test === 'twoProportion' && provider.type !== 'builtin' && provider.type !== 'command') {
    return [{ path: at, message: `twoProportion needs event counts (events and total), which only the builtin error_rate and command providers give; use mannWhitney on samples or a threshold` }];
  }
  return [];
}

function uniqueNames(items: unknown[], listName: string, noun: string): PathProblem[] {
  const firstIndex = new Map<string, number>();
  const problems: PathProblem[] = [];
  items.forEach((item, index) => {
    const name = asObject(item).name;
    if (typeof name !== 'string') return;
    const first = firstIndex.get(name);
    if (first === undefined) firstIndex.set(name, index);
    else problems.push({ path: [listName, index, 'name'], message: `duplicate ${noun} name "${name}" (first used at ${listName}[${first}])` });
  });
  return problems;
}

function strategyReferences(environments: unknown[], known: string[]): PathProblem[] {
  return environments.flatMap((environment, index) => {
    const strategy = asObject(environment).strategy;
    if (typeof strategy !== 'string' || known.includes(strategy)) return [];
    const message =
      known.length === 0
        ? `unknown strategy "${strategy}": no strategies are defined (add one under strategies)`
        : `unknown strategy "${strategy}"; strategies defines ${known.join(', ')}${didYouMean(strategy, known)}`;
    return [{ path: ['environments', index, 'strategy'], message }];
  });
}

function unknownTemplate(template: string, templates: readonly string[]): string {
  return templates.length === 0
    ? `unknown analysis template "${template}": none are defined (add them under analysis.templates)`
    : `unknown analysis template "${template}"; analysis.templates defines ${templates.join(', ')}${didYouMean(template, templates)}`;
}

/** A flag's safeguards judge the flag alone, with no second version to compare against: thresholds only. */
function flagSafeguards(flags: unknown[], templates: Json): PathProblem[] {
  const names = Object.keys(templates);
  return flags.flatMap((flag, index) =>
    asList(asObject(asObject(flag).safeguards).templates).flatMap((template, position): PathProblem[] => {
      if (typeof template !== 'string') return [];
      const path = ['flags', index, 'safeguards', 'templates', position];
      if (!names.includes(template)) return [{ path, message: unknownTemplate(template, names) }];
      if (asObject(asObject(templates[template]).judge).type === 'compare') {
        return [{ path, message: `template "${template}" compares two versions, and a flag's safeguard has only one to measure: use a template with a threshold judge` }];
      }
      return [];
    }),
  );
}

/** Every check a verify step names is defined under integrity.checks. */
function verifyChecks(strategies: Json, checks: readonly string[]): PathProblem[] {
  return Object.entries(strategies).flatMap(([name, strategy]) =>
    asList(asObject(strategy).steps).flatMap((step, index) =>
      asList(asObject(asObject(step).verify).checks).flatMap((check, position): PathProblem[] => {
        if (typeof check !== 'string' || checks.includes(check)) return [];
        const message = checks.length === 0 ? `unknown integrity check "${check}": none are defined (add them under integrity.checks)` : `unknown integrity check "${check}"; integrity.checks defines ${checks.join(', ')}${didYouMean(check, checks)}`;
        return [{ path: ['strategies', name, 'steps', index, 'verify', 'checks', position], message }];
      }),
    ),
  );
}

/** A schema check compares with an environment that exists; without `against`, with the one before. */
function schemaChecks(checks: Json, environments: unknown[]): PathProblem[] {
  const names = environments.map((environment) => asObject(environment).name).filter((name): name is string => typeof name === 'string');
  return Object.entries(checks).flatMap(([name, check]): PathProblem[] => {
    const against = asObject(check).against;
    if (asObject(check).type !== 'schema' || typeof against !== 'string' || names.includes(against)) return [];
    return [{ path: ['integrity', 'checks', name, 'against'], message: `unknown environment "${against}"; environments are ${names.join(', ')}${didYouMean(against, names)}` }];
  });
}

function checkStrategy(name: string, strategy: Json, templates: string[]): PathProblem[] {
  const steps = asList(strategy.steps).map(asObject);
  const at = (index: number, ...rest: (string | number)[]) => ['strategies', name, 'steps', index, ...rest];
  const problems: PathProblem[] = [];
  const testNamesSoFar = new Set<string>();
  const promoteIndex = steps.findIndex((step) => 'promote' in step);

  steps.forEach((step, index) => {
    if (isObject(step.test) && typeof step.test.name === 'string') testNamesSoFar.add(step.test.name);
    if (asObject(step.analysis).continuous === true && asObject(step.analysis).background !== true) {
      problems.push({ path: at(index, 'analysis', 'continuous'), message: 'a continuous analysis runs beside the later steps: add `background: true`' });
    }
    const score = asObject(asObject(step.analysis).score);
    if (typeof score.pass === 'number' && typeof score.marginal === 'number' && score.marginal > score.pass) {
      problems.push({ path: at(index, 'analysis', 'score', 'marginal'), message: `the marginal score (${score.marginal}) must not be above the pass score (${score.pass})` });
    }

    asList(asObject(step.analysis).templates).forEach((template, position) => {
      if (typeof template !== 'string' || templates.includes(template)) return;
      problems.push({ path: at(index, 'analysis', 'templates', position), message: unknownTemplate(template, templates) });
    });

    if (strategy.type === 'blueGreen' && typeof step.setWeight === 'number' && step.setWeight !== 0 && step.setWeight !== 100) {
      problems.push({
        path: at(index, 'setWeight'),
        message: `a blueGreen strategy switches all traffic at once: setWeight must be 0 or 100, got ${step.setWeight} (use type: canary for gradual weights)`,
      });
    }

    asList(asObject(step.approval).after).forEach((test, position) => {
      if (typeof test !== 'string' || testNamesSoFar.has(test)) return;
      const earlier = [...testNamesSoFar];
      const advice = didYouMean(test, earlier) || (earlier.length > 0 ? ` (earlier tests: ${earlier.join(', ')})` : '');
      problems.push({
        path: at(index, 'approval', 'after', position),
        message: `approval waits for test "${test}", but no earlier test step in this strategy has that name${advice}`,
      });
    });

    const validFor = asObject(step.approval).validFor;
    const validity = typeof validFor === 'string' ? checkDuration(validFor) : undefined;
    if (validity?.ok && validity.ms === 0) {
      // a vote valid for no time never counts: the step could only wait until someone aborts
      problems.push({ path: at(index, 'approval', 'validFor'), message: `approval.validFor ${String(validFor)} would make every approval expire as it is given; use a duration above 0 (e.g. 4h), or leave it out so approvals do not expire` });
    }

    if (isContract(step.migrate) && (promoteIndex === -1 || promoteIndex > index)) {
      // Contract drops what the old version still uses; it is safe only once the old version is gone.
      problems.push({
        path: at(index, 'migrate'),
        message:
          promoteIndex === -1
            ? 'migrate: contract needs a promote step before it: the old version may still be serving traffic and using the old schema'
            : `migrate: contract comes before the promote step (steps[${promoteIndex}]); the old version still serves traffic until then and needs the old schema`,
      });
    }
  });
  return problems;
}

function isContract(migrate: unknown): boolean {
  return migrate === 'contract' || asObject(migrate).phase === 'contract';
}
