import type { CliIo } from './io.js';

export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(io: CliIo, text = ''): void {
  io.stdout(`${text}\n`);
}

export interface Column<Row> {
  header: string;
  value: (row: Row) => string;
  align?: 'left' | 'right';
}

/** A plain aligned table: readable in a terminal, stable for grep, no box-drawing to trip up copy-paste. */
export function formatTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, index) => Math.max(column.header.length, ...cells.map((line) => (line[index] ?? '').length)));
  const render = (values: string[]) =>
    values
      .map((value, index) => (columns[index]?.align === 'right' ? value.padStart(widths[index] ?? 0) : value.padEnd(widths[index] ?? 0)))
      .join('  ')
      .trimEnd();
  return [render(columns.map((column) => column.header)), ...cells.map(render)].join('\n') + '\n';
}

export function printTable<Row>(io: CliIo, rows: readonly Row[], columns: readonly Column<Row>[]): void {
  io.stdout(formatTable(rows, columns));
}

export function formatTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
