import { join } from 'node:path';
import { loadSpecOrThrow } from '../../src/spec/index.js';
import { createTarget } from '../../src/targets/target.js';

/**
 * Stops the app instances rollouts started from `folder/promote.yaml`: they outlive the CLI and the
 * controller on purpose, so a test that deployed must stop them itself.
 */
export async function stopDeployedVersions(folder: string, versions: readonly string[]): Promise<void> {
  const spec = await loadSpecOrThrow(join(folder, 'promote.yaml'), {});
  for (const environment of spec.environments) {
    const target = createTarget(environment.target, { app: spec.app.name, environment: environment.name, stateDir: join(folder, '.promote', 'run'), configDir: folder });
    for (const version of versions) await target.teardown(version);
    await target.close();
  }
}
