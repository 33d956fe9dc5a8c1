// `npm start`: the main job, `promote demo` (arguments after `npm start --` pass through, e.g. --fast).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const child = spawn(process.execPath, [cli, 'demo', ...process.argv.slice(2)], { stdio: 'inherit' });
// Ctrl-C reaches the demo too (same process group); it stops everything cleanly, and we wait for it
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => undefined);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
