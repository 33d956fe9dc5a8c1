// tsc does not keep the executable bit; npm links the bin, but `node dist/cli/main.js` users and
// `./dist/cli/main.js` both deserve a runnable file.
import { chmod } from 'node:fs/promises';

await chmod(new URL('../dist/cli/main.js', import.meta.url), 0o755);
