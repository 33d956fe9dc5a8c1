#!/usr/bin/env node
import { processIo } from './io.js';
import { runCli } from './program.js';

// `promote … | head` closes the pipe early: the reader has what it wanted, so stop quietly
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

process.exitCode = await runCli(process.argv.slice(2), processIo());
