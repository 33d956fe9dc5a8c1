// `npm start`: the main job. Until the demo promotion exists (issue 9), it proves the example
// configuration, brings up the embedded state store, reads from it and stops it again.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const steps = [
  ['validate', 'examples/promote.yaml'],
  ['db', 'start'],
  ['release', 'list', '--config', 'examples/promote.yaml'],
  ['db', 'status'],
  ['db', 'stop'],
];
for (const args of steps) {
  console.log(`\n$ promote ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
