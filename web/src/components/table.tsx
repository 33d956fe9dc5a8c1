import type { ComponentChildren } from 'preact';

export interface Column<Row> {
  /** the header text */
  label: string;
  /** the cell; a string or number is shown as is */
  cell: (row: Row) => ComponentChildren;
  /** right-align numbers */
  numeric?: boolean;
}

/** A plain accessible table: a caption (visible or for screen readers), header cells with scope. */
export function Table<Row>({ caption, columns, rows, empty, rowKey, hideCaption }: { caption: string; columns: Column<Row>[]; rows: Row[]; empty?: string; rowKey?: (row: Row, index: number) => string | number; hideCaption?: boolean }) {
  if (rows.length === 0) return <p class="empty">{empty ?? `No ${caption.toLowerCase()}.`}</p>;
  return (
    <div class="table-wrap">
      <table>
        <caption class={hideCaption ? 'visually-hidden' : undefined}>{caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col" class={column.numeric ? 'num' : undefined} key={column.label}>
                {column.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) => (
            <tr key={rowKey ? rowKey(row, index) : index}>
              {columns.map((column) => (
                <td class={column.numeric ? 'num' : undefined} key={column.label}>
                  {column.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
