/**
 * Monthly time series from CSV text: header detection, choice of date and value columns, dates like 1962-01 or
 * 1962-01-31, and every problem reported with its line number — non-numeric cells, unparsable or duplicate dates,
 * gaps (an error unless interpolation is asked for), too few points, a constant series.
 */
import { parse } from 'csv-parse/sync';

export interface MonthlySeries {
  /** 'YYYY-MM' per point, consecutive months. */
  dates: string[];
  values: number[];
  /** Column the values came from. */
  name: string;
}

export interface CsvOptions {
  /** Value column: header name or 0-based index. Default: the last numeric column. */
  valueColumn?: string | number;
  /** Date column: header name or 0-based index. Default: the first column whose cells parse as dates. */
  dateColumn?: string | number;
  /** Fill missing months by linear interpolation instead of failing. */
  interpolate?: boolean;
  /** Name used in messages (the file path). */
  source?: string;
}

const DATE_RE = /^(\d{4})[-/](\d{1,2})(?:[-/](\d{1,2}))?(?:[ T].*)?$/;

/** Month index (year·12 + month−1) of a date cell, or null. */
export function monthOf(cell: string): number | null {
  const m = DATE_RE.exec(cell.trim());
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = m[3] === undefined ? 1 : Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > 31) return null;
  return year * 12 + month - 1;
}

export function monthLabel(index: number): string {
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`;
}

function isNumber(cell: string): boolean {
  return cell.trim() !== '' && Number.isFinite(Number(cell));
}

export function parseMonthlyCsv(text: string, opts: CsvOptions = {}): MonthlySeries {
  const src = opts.source ?? 'CSV';
  if (text.trim() === '') throw new Error(`${src} is empty`);
  let rows: string[][];
  try {
    rows = parse(text, { skip_empty_lines: true, trim: true, relax_column_count: false }) as string[][];
  } catch (e) {
    throw new Error(`${src}: ${(e as Error).message}`);
  }
  if (rows.length === 0) throw new Error(`${src} has no rows`);
  // A header row is one whose cells are neither numbers nor dates while the next row has some.
  const first = rows[0];
  const header = first.every((c) => !isNumber(c) && monthOf(c) === null) && rows.length > 1 ? first : null;
  const body = header ? rows.slice(1) : rows;
  const lineOf = (i: number): number => i + (header ? 2 : 1);
  const cols = first.length;
  const pick = (spec: string | number | undefined, what: string): number | undefined => {
    if (spec === undefined) return undefined;
    if (typeof spec === 'number' || /^\d+$/.test(String(spec))) {
      const i = Number(spec);
      if (i < 0 || i >= cols)
        throw new Error(`${src}: ${what} column ${i} does not exist (the file has ${cols} columns)`);
      return i;
    }
    const i = header ? header.indexOf(spec) : -1;
    if (i < 0)
      throw new Error(
        `${src}: no ${what} column named '${spec}'${header ? ` (columns: ${header.join(', ')})` : ' (the file has no header row)'}`,
      );
    return i;
  };
  let dateCol = pick(opts.dateColumn, 'date');
  let valueCol = pick(opts.valueColumn, 'value');
  if (dateCol === undefined) {
    for (let c = 0; c < cols; c++) {
      if (c !== valueCol && body.slice(0, 5).every((r) => monthOf(r[c]) !== null)) {
        dateCol = c;
        break;
      }
    }
  }
  if (valueCol === undefined) {
    for (let c = cols - 1; c >= 0; c--) {
      if (c !== dateCol && body.slice(0, 5).some((r) => isNumber(r[c]))) {
        valueCol = c;
        break;
      }
    }
  }
  if (valueCol === undefined) {
    throw new Error(
      `${src}: found no numeric column; give --value-column (columns: ${(header ?? first).join(', ')})`,
    );
  }
  const values: number[] = [];
  const months: number[] = [];
  body.forEach((r, i) => {
    const cell = r[valueCol!];
    if (!isNumber(cell)) {
      throw new Error(
        `${src}, line ${lineOf(i)}: value ${JSON.stringify(cell)} in column '${header?.[valueCol!] ?? valueCol}' is not a number`,
      );
    }
    values.push(Number(cell));
    if (dateCol !== undefined) {
      const m = monthOf(r[dateCol]);
      if (m === null)
        throw new Error(
          `${src}, line ${lineOf(i)}: ${JSON.stringify(r[dateCol])} is not a date like 1962-01 or 1962-01-31`,
        );
      months.push(m);
    }
  });
  const name = header?.[valueCol] ?? `column ${valueCol}`;
  if (dateCol === undefined) {
    // No dates: consecutive points, labelled by position.
    return { dates: values.map((_, i) => `t${i + 1}`), values, name };
  }
  // Order, duplicates, gaps.
  const order = months.map((m, i) => [m, i] as const).sort((a, b) => a[0] - b[0]);
  for (let k = 1; k < order.length; k++) {
    if (order[k][0] === order[k - 1][0]) {
      throw new Error(
        `${src}: duplicate month ${monthLabel(order[k][0])} on lines ${lineOf(order[k - 1][1])} and ${lineOf(order[k][1])}`,
      );
    }
  }
  const dates: string[] = [];
  const out: number[] = [];
  for (let k = 0; k < order.length; k++) {
    const [m, i] = order[k];
    if (k > 0) {
      const prev = order[k - 1][0];
      const gap = m - prev - 1;
      if (gap > 0) {
        if (!opts.interpolate) {
          throw new Error(
            `${src}: ${gap} missing month(s) between ${monthLabel(prev)} and ${monthLabel(m)} (line ${lineOf(i)}); fix the data or pass --interpolate`,
          );
        }
        const a = out[out.length - 1];
        for (let g = 1; g <= gap; g++) {
          dates.push(monthLabel(prev + g));
          out.push(a + ((values[i] - a) * g) / (gap + 1));
        }
      }
    }
    dates.push(monthLabel(m));
    out.push(values[i]);
  }
  return { dates, values: out, name };
}

/** Throws unless the series can be forecast: enough points, not constant, finite. */
export function checkSeries(s: MonthlySeries, needed: number, src: string): void {
  const v = s.values;
  if (v.length > 1 && v.every((x) => x === v[0]))
    throw new Error(`${src}: the series is constant (${v[0]}); there is nothing to forecast`);
  if (v.length < needed) {
    throw new Error(
      `${src} has ${v.length} points; lookback + horizon (and the held-out part) need at least ${needed}`,
    );
  }
}
