/**
 * How the CLI prints answers: human-readable tables and key/value blocks by default, JSON with
 * `--json` (the API's own JSON, unchanged, so scripts get exactly what `curl` would).
 */

/** Column layout of a table: header and how to read the cell from a row. */
export interface Column<A> {
  readonly header: string
  readonly cell: (row: A) => string
}

const shorten = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 3)}...`)

/** A table with a header line, columns padded to their widest cell; `(none)` when empty. */
export const table = <A>(rows: ReadonlyArray<A>, columns: ReadonlyArray<Column<A>>, maxCell = 70): string => {
  if (rows.length === 0) return "(none)"
  const cells = rows.map((row) => columns.map((c) => shorten(c.cell(row), maxCell)))
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => (r[i] ?? "").length)))
  const line = (values: ReadonlyArray<string>) => values.map((v, i) => v.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join("\n")
}

/** `key: value` lines, keys aligned. */
export const keyValues = (entries: ReadonlyArray<readonly [string, string]>): string => {
  const width = Math.max(...entries.map(([k]) => k.length))
  return entries.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join("\n")
}

/** JSON as the API sends it, indented. */
export const json = (value: unknown): string => JSON.stringify(value, null, 2)

/** A value for a cell: `-` for null/undefined. */
export const orDash = (value: string | number | boolean | null | undefined): string =>
  value === null || value === undefined ? "-" : String(value)
