/** Plain text tables for the terminal: left-aligned columns, the last one allowed to run long. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[],
  decorate?: (padded: string, column: number, row: number) => string): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[], rowIndex: number): string =>
    cells.map((c, i) => {
      const padded = i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0);
      return rowIndex >= 0 && decorate ? decorate(padded, i, rowIndex) : padded;
    }).join('  ').trimEnd();
  return [line(headers, -1), ...rows.map((r, i) => line(r, i))].join('\n') + '\n';
}

/** First line of a message, cut to fit a table cell. */
export function cell(text: string | null | undefined, max = 60): string {
  const first = (text ?? '').split('\n', 1)[0] ?? '';
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}
