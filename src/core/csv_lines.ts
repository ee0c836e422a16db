/**
 * The file lines of CSV rows read by csv-parse (forecast's and classify's readers share it). csv-parse's `info.lines`
 * is the line a row ENDS on, and it counts each CR and LF inside a quoted cell as a line (a CRLF as two): a row whose
 * quoted cell spans lines would be named by its last line, and every row after a CRLF inside a cell by a line too far.
 */

/** A row's first and last line in the file (1-based; equal unless a quoted cell holds line breaks). */
export interface CsvRowSpan {
  start: number;
  end: number;
}

/**
 * A mapper from csv-parse's line counts to the file's lines, for the rows of one parse in order: `row` maps a record
 * (and remembers how far csv-parse's count has run ahead of the file's), `span` maps one without remembering (the
 * record of a parse error).
 */
export class CsvLineMap {
  /** How many lines csv-parse's count has run ahead of the file's, after the rows mapped so far. */
  private overCount = 0;

  /** The lines of a row csv-parse says ends on `endLine`, holding `cells`. */
  span(endLine: number, cells: readonly string[]): CsvRowSpan {
    const chars = cells.reduce((n, c) => n + (c.match(/[\r\n]/g)?.length ?? 0), 0);
    const breaks = cells.reduce((n, c) => n + (c.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
    const start = endLine - this.overCount - chars;
    return { start, end: start + breaks };
  }

  /** The lines of the next row of the parse (csv-parse's `on_record`), counting its line breaks for the rows after. */
  row(endLine: number, cells: readonly string[]): CsvRowSpan {
    const lines = this.span(endLine, cells);
    this.overCount = endLine - lines.end;
    return lines;
  }
}
