/** Plain-text tables for the bench report. */

export type Align = 'left' | 'right';

export interface Column {
  readonly header: string;
  readonly align: Align;
}

export interface Table {
  readonly columns: readonly Column[];
  readonly rows: readonly (readonly string[])[];
}

export function renderTable(table: Table): string {
  const widths = table.columns.map((c, i) =>
    Math.max(c.header.length, ...table.rows.map((r) => (r[i] ?? '').length)),
  );
  const cell = (text: string, i: number): string => {
    const col = table.columns[i];
    const w = widths[i] ?? 0;
    return col?.align === 'right' ? text.padStart(w) : text.padEnd(w);
  };
  const line = (cells: readonly string[]): string =>
    table.columns.map((_, i) => cell(cells[i] ?? '', i)).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(table.columns.map((c) => c.header)), rule, ...table.rows.map(line)].join('\n');
}

/** Fixed decimals, or a dash for a figure that could not be measured. */
export function fmt(value: number | undefined, decimals: number): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(decimals);
}
