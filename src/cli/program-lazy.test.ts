import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { CliContext } from './io.js';
import { commandsFor } from './program.js';

const noContext = (): CliContext => {
  throw new Error('not called while registering');
};

async function topLevelNames(argv: readonly string[]): Promise<string[]> {
  const program = new Command('promote');
  for (const register of await commandsFor(argv)) register(program, noContext);
  return program.commands.map((command) => command.name());
}

describe('the CLI loads only the module of the command it runs', () => {
  it('every command, loaded alone by its own command line, is there; and a lone load is smaller than all', async () => {
    const all = await topLevelNames([]);
    expect(all.length).toBeGreaterThan(20);
    for (const name of all) {
      const alone = await topLevelNames(['--log-level', 'debug', '-c', 'x.yaml', name, '--env', 'staging']);
      expect(alone, `promote ${name}`).toContain(name);
      expect(alone.length, `promote ${name} loads ${alone.join(', ')}`).toBeLessThan(all.length);
    }
  });

  it('help, an unknown command and no command load every module, so help lists all and suggestions work', async () => {
    const all = await topLevelNames([]);
    expect(await topLevelNames(['--help'])).toEqual(all);
    expect(await topLevelNames(['help', 'deploy'])).toEqual(all);
    expect(await topLevelNames(['deplyo'])).toEqual(all);
    expect(all).toEqual(expect.arrayContaining(['init', 'deploy', 'rollback', 'migrate', 'server', 'router', 'report', 'notify']));
  });
});
