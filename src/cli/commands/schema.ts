import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { wrapError } from '../../errors.js';
import { specJsonSchema, specReferenceMarkdown } from '../../spec/index.js';
import type { CliContext } from '../io.js';
import { printLine } from '../output.js';

export function registerSchema(program: Command, context: () => CliContext): void {
  program
    .command('schema')
    .description('print the JSON Schema of promote.yaml (for editors) or its reference page')
    .addOption(new Option('--format <format>', 'json (JSON Schema) or markdown (reference page)').choices(['json', 'markdown']).default('json'))
    .option('--out <file>', 'write to a file instead of stdout')
    .addHelpText('after', '\nExamples:\n  $ promote schema --out promote.schema.json\n  $ promote schema --format markdown > docs/spec-reference.md\n\nEditors: put `# yaml-language-server: $schema=./promote.schema.json` at the top of promote.yaml.\n')
    .action(async (options: { format: 'json' | 'markdown'; out?: string }) => {
      const { io } = context();
      const text = options.format === 'json' ? `${JSON.stringify(specJsonSchema(), null, 2)}\n` : specReferenceMarkdown();
      if (!options.out) {
        io.stdout(text);
        return;
      }
      const path = resolve(io.cwd, options.out);
      try {
        await writeFile(path, text);
      } catch (error) {
        throw wrapError(`writing the schema to ${path}`, error);
      }
      printLine(io, `wrote ${path}`);
    });
}
