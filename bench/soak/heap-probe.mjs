// Preloaded into the router and controller processes of the soak (`node --import heap-probe.mjs ...`):
// once a second it writes process.memoryUsage() to the file named by SOAK_HEAP_FILE, so the soak can
// report the V8 heap beside the RSS it reads from /proc. It only reads; Promote's code is unchanged.
import { renameSync, writeFileSync } from 'node:fs';

const file = process.env.SOAK_HEAP_FILE;
// the controller's app instances inherit its environment: they must not overwrite the controller's figures
delete process.env.SOAK_HEAP_FILE;

if (file) {
  const write = () => {
    try {
      // through a rename, so the soak never reads half a file
      writeFileSync(`${file}.tmp`, JSON.stringify({ at: Date.now(), ...process.memoryUsage() }));
      renameSync(`${file}.tmp`, file);
    } catch {
      // the scratch folder is gone: the soak is over
    }
  };
  write();
  setInterval(write, 1000).unref();
}
