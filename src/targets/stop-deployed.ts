import { join } from 'node:path';
import { loadSpecOrThrow, type EnvironmentVariables } from '../spec/index.js';
import { createTarget } from './target.js';

/**
 * Stops the app instances that rollouts started from `folder/promote.yaml`, in every environment.
 * They outlive the CLI, the controller and `promote server` on purpose (a restart adopts them), so
 * whoever deployed for a while only (a test, the demo) stops them itself.
 */
export async function stopDeployedVersions(folder: string, versions: readonly string[], env: EnvironmentVariables = {}): Promise<void> {
  const spec = await loadSpecOrThrow(join(folder, 'promote.yaml'), env);
  for (const environment of spec.environments) {
    const target = createTarget(environment.target, { app: spec.app.name, environment: environment.name, stateDir: join(folder, '.promote', 'run'), configDir: folder });
    try {
      for (const version of versions) await target.teardown(version);
    } finally {
      await target.close();
    }
  }
}
