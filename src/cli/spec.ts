import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { PlanError } from '../engine/plan.js';
import { UsageError } from '../errors.js';
import { locateInText, loadSpecOrThrow, type EnvironmentSpec, type PromoteSpec } from '../spec/index.js';
import type { CliContext } from './io.js';

/** The promote.yaml named by --config, loaded for a command that needs it. */
export async function loadConfig(ctx: CliContext): Promise<{ spec: PromoteSpec; configDir: string; path: string }> {
  const path = resolve(ctx.io.cwd, ctx.globals.config);
  const spec = await loadSpecOrThrow(path, ctx.io.env);
  return { spec, configDir: dirname(path), path };
}

/** promote.yaml and the environment --env names in it, for the many commands that act on one environment. */
export async function loadEnvironment(ctx: CliContext, name: string): Promise<{ spec: PromoteSpec; configDir: string; environment: EnvironmentSpec }> {
  const { spec, configDir } = await loadConfig(ctx);
  return { spec, configDir, environment: findEnvironment(spec, name) };
}

export function findEnvironment(spec: PromoteSpec, name: string): EnvironmentSpec {
  const environment = spec.environments.find((each) => each.name === name);
  if (!environment) {
    throw new UsageError(`--env "${name}" is not an environment of ${spec.app.name}: expected one of ${spec.environments.map((each) => each.name).join(', ')}`);
  }
  return environment;
}

/** "127.0.0.1:8080" or "[::1]:8080" -> host and port; names the option on bad input. */
export function parseListen(text: string, option: string): { host: string; port: number } {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new UsageError(`${option} "${text}" is not valid: expected host:port, like 127.0.0.1:8080`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

export function currentActor(ctx: CliContext): string {
  return ctx.io.env.PROMOTE_ACTOR ?? userInfo().username;
}

/** Runs `work`; a rollout that cannot be planned is reported with each problem's line in promote.yaml. */
export async function withPlanPositions<T>(ctx: CliContext, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof PlanError)) throw error;
    const path = resolve(ctx.io.cwd, ctx.globals.config);
    const text = await readFile(path, 'utf8').catch(() => '');
    const shown = relative(ctx.io.cwd, path) || path;
    const lines = error.problems.map((problem) => {
      const { line, column } = locateInText(text, problem.segments);
      return `  ${shown}:${line}:${column} ${problem.path}: ${problem.message}`;
    });
    throw new UsageError(`the rollout cannot be planned:\n${lines.join('\n')}`, { cause: error });
  }
}
