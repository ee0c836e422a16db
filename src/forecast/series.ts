/**
 * Time series from CSV text: header detection, choice of date and value columns, strict ISO dates (YYYY, YYYY-Qn,
 * YYYY-MM, YYYY-MM-DD, YYYY-MM-DD HH:MM, the time with an optional UTC offset), the order (oldest- or newest-first)
 * and the frequency (hourly … yearly) detected from the dates and reported, and every problem reported with its line number — bad dates (all of them),
 * non-numeric cells, duplicate or unordered dates, gaps (an error unless interpolation is asked for).
 */
import { parse } from 'csv-parse/sync';
import { CsvLineMap } from '../core/csv_lines.js';

export type Frequency = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'quarterly' | 'yearly';

/** The season each frequency implies when none is given. */
export const SEASON_OF_FREQUENCY: Record<Frequency, number> = {
  hourly: 24,
  daily: 7,
  weekly: 52,
  monthly: 12,
  quarterly: 4,
  yearly: 1,
};

/** Further seasons a frequency implies: ETS's MSTL uses each where the training part supports it (baselines.ts). */
export const EXTRA_SEASONS_OF_FREQUENCY: Readonly<Partial<Record<Frequency, readonly number[]>>> = {
  hourly: [168],
  daily: [365],
};

/** Every season a frequency implies, the primary one first. */
export function seasonsOfFrequency(f: Frequency): number[] {
  return [SEASON_OF_FREQUENCY[f], ...(EXTRA_SEASONS_OF_FREQUENCY[f] ?? [])];
}

export interface TimeSeries {
  /** One label per point at the series' frequency (2000, 2000-Q1, 2000-01, 2000-01-31, 2000-01-31 13:00), or t1, t2… */
  dates: string[];
  values: number[];
  /** Column the values came from. */
  name: string;
  /** Detected from the dates; absent for a series without dates. */
  frequency?: Frequency;
  /** Whether the file listed the newest point first (the series is then reversed to oldest-first). */
  newestFirst?: boolean;
  /** Source line of each point (0 for an interpolated point). */
  lines?: number[];
  /** Points filled in by interpolation. */
  interpolated?: number;
  /**
   * Source lines of missing values before the first value or after the last one, left out with interpolation: no
   * value lies beyond them to interpolate from.
   */
  leftOut?: number[];
  /**
   * How dates with UTC offsets were read: 'wall clock' (as written, the offsets dropped) or 'utc' (at their UTC
   * instants: the offsets change within an hourly series, alignOffsets). Absent when no date has an offset.
   */
  offsets?: 'wall clock' | 'utc';
  /** Other numeric columns of the file, when the value column was chosen by default (the last numeric one). */
  otherColumns?: string[];
  /** Regressor columns (CsvOptions.regressors): their values over the history and the rows after it. */
  covariates?: Covariates;
}

/** Covariates read beside a series: one row per point of the history, then one per row after its last value. */
export interface Covariates {
  names: string[];
  /** x[t][j]: covariate j at point t (history, then future); NaN where a future row leaves the cell empty. */
  x: number[][];
  /** Labels and source lines of the rows after the last value (the known future), in time order. */
  futureDates: string[];
  futureLines: number[];
}
/** The former name, kept for existing callers. */
export type MonthlySeries = TimeSeries;

export interface CsvOptions {
  /** Value column: header name or 0-based index. Default: the last numeric column. */
  valueColumn?: string | number;
  /** Date column: header name or 0-based index. Default: a column named like a date, else the first text column. */
  dateColumn?: string | number;
  /** Fill missing points by linear interpolation instead of failing. */
  interpolate?: boolean;
  /** Name used in messages (the file path). */
  source?: string;
  /**
   * Covariate columns (header names): read beside the values; rows after the last value may leave the value cell
   * empty to give the covariates' known future.
   */
  regressors?: readonly string[];
}

/** What a message must not print raw: control characters (a newline would split it) and line separators. */
const UNPRINTABLE = /[\p{Cc}\u2028\u2029]/gu;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** A user's text (a column name, a path) for a one-line message: the unprintable escaped as in JSON (\n, \u0000). */
export function escapeText(text: string): string {
  return text.replace(
    UNPRINTABLE,
    (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A name in single quotes, escaped (escapeText), so it cannot split a message over lines. */
export function quote(name: string | number): string {
  return `'${escapeText(String(name))}'`;
}

/** Names for a message's list (columns: a, b): each escaped. */
export function nameList(names: readonly string[]): string {
  return names.map(escapeText).join(', ');
}

/** What a column index may be, for the message when it is out of range (indexes count from 0, as in --help). */
export function columnRange(cols: number): string {
  return cols === 1
    ? 'the file has 1 column; its index is 0'
    : `the file has ${cols} columns; an index counts from 0, so give 0 to ${cols - 1}`;
}

/** A CLI flag that would fix a series error: the page, which has other controls, words the fix its own way. */
export type SeriesRemedyFlag = '--value-column' | '--interpolate';

/**
 * Bad input in a series (a CSV problem, too few points…): the CLI turns it into exit 2. `message` is the CLI's;
 * `remedy`, when a flag would fix it, holds the problem alone and that flag, for interfaces without the flag.
 */
export class SeriesInputError extends Error {
  constructor(
    message: string,
    readonly remedy?: { problem: string; flag: SeriesRemedyFlag },
  ) {
    super(message);
  }
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const DATE_RE =
  /^(\d{4})(?:([-/])(\d{1,2})(?:\2(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$/i;
/** A time followed by its UTC offset (Z, +02:00, +0200, -05): the offset split off for dateFormat. */
const OFFSET_RE = /^(.*\d:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)$/i;
const QUARTER_RE = /^(\d{4})[- ]?Q([1-4])$/i;
/** The date formats parseDate reads, for messages. */
export const DATE_FORMATS =
  'YYYY, YYYY-Qn, YYYY-MM, YYYY-MM-DD or YYYY-MM-DD HH:MM (a UTC offset such as Z or +02:00 after the time allowed)';

/** A date cell read by parseDate: the calendar fields as written (the wall clock), and its UTC offset if it has one. */
export interface ParsedDate {
  year: number;
  /** 1…12 */
  month: number;
  /** The wall-clock fields as if they were UTC, in milliseconds (the offset is not applied). */
  ms: number;
  minute: number;
  /** The UTC offset written after the time, in minutes (Z: 0); absent when the cell has none. */
  offsetMinutes?: number;
}

/** The instant a parsed date stands for, in UTC milliseconds: its wall clock less its offset (none: as written). */
export function instantMs(d: ParsedDate): number {
  return d.ms - (d.offsetMinutes ?? 0) * 60_000;
}

/** The date at its UTC instant (offset 0): what a series whose offsets change (daylight saving time) is read at. */
function atUtc(d: ParsedDate): ParsedDate {
  const t = new Date(instantMs(d));
  return {
    year: t.getUTCFullYear(),
    month: t.getUTCMonth() + 1,
    ms: t.getTime(),
    minute: t.getUTCMinutes(),
    offsetMinutes: 0,
  };
}

/**
 * Dates with UTC offsets (`2024-03-31T03:00:00+02:00`, exported timestamps) are read at their wall clock — the date
 * and time written, which is what a daily or monthly export at local midnight means (in UTC, 2024-01-01T00:00+02:00
 * is still December) — unless the offsets change within the series (daylight saving time) and its times of day
 * differ: an hourly series' clock then skips an hour in spring and repeats one in autumn, so it is read at its UTC
 * instants instead, which are evenly spaced.
 */
export function alignOffsets(ds: readonly ParsedDate[]): ParsedDate[] {
  const offsets = new Set(ds.map((d) => d.offsetMinutes ?? 0));
  const timesOfDay = new Set(ds.map((d) => ((d.ms % DAY_MS) + DAY_MS) % DAY_MS));
  return offsets.size > 1 && timesOfDay.size > 1 ? ds.map(atUtc) : [...ds];
}

/** A strictly parsed ISO-style date, or null (US-style 01/31/1962, text, impossible days like 2001-02-30). */
export function parseDate(cell: string): ParsedDate | null {
  const text = cell.trim();
  const q = QUARTER_RE.exec(text);
  if (q) {
    const month = (Number(q[2]) - 1) * 3 + 1;
    return { year: Number(q[1]), month, ms: Date.UTC(Number(q[1]), month - 1, 1), minute: 0 };
  }
  const m = DATE_RE.exec(text);
  if (!m) return null;
  const year = Number(m[1]);
  const month = m[3] === undefined ? 1 : Number(m[3]);
  const day = m[4] === undefined ? 1 : Number(m[4]);
  const hour = m[5] === undefined ? 0 : Number(m[5]);
  const minute = m[6] === undefined ? 0 : Number(m[6]);
  const second = m[7] === undefined ? 0 : Number(m[7]);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return null;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  if (m[8] === undefined) return { year, month, ms, minute };
  const offset = /^([+-])(\d{2}):?(\d{2})?$/.exec(m[8]);
  if (!offset) return { year, month, ms, minute, offsetMinutes: 0 }; // Z
  const oh = Number(offset[2]);
  const om = offset[3] === undefined ? 0 : Number(offset[3]);
  // Real offsets run from −12:00 to +14:00.
  if (oh > 14 || om > 59) return null;
  return { year, month, ms, minute, offsetMinutes: (offset[1] === '-' ? -1 : 1) * (oh * 60 + om) };
}

const FIELDS = ['YYYY', 'MM', 'DD', 'HH', 'MM', 'SS', 'fff'];

/** A date's format split in two: its fields and separators (YYYY-MM-DDTHH:MM), and its offset's form (Z, ±HH:MM, or ''). */
function formatParts(cell: string): { fields: string; zone: string } {
  let text = cell.trim().toUpperCase();
  let k = 0;
  if (text.includes('Q')) return { fields: text.replace(/\d+/g, () => (k++ === 0 ? 'YYYY' : 'n')), zone: '' };
  const o = OFFSET_RE.exec(text);
  let zone = '';
  if (o) {
    text = o[1];
    zone = o[2] === 'Z' ? 'Z' : o[2].slice(1).replace(/\d\d/, '±HH').replace(/\d\d/, 'MM');
  }
  return { fields: text.replace(/\d+/g, () => FIELDS[k++] ?? '?'), zone };
}

/**
 * The format of a date parseDate accepts, as a pattern like YYYY-MM or YYYY-MM-DD HH:MM (YYYY-Qn for quarters): its
 * separators and fields, not their widths (1962-1 and 1962-01 are both YYYY-MM), and its offset's form (Z, ±HH:MM).
 */
export function dateFormat(cell: string): string {
  const { fields, zone } = formatParts(cell);
  return fields + zone;
}

/**
 * The first of `cells` (valid dates) whose format is not the first one's, or -1. One file, one format: a stray 1963 or
 * 1963-01-31 23:00 among monthly 1962-01 dates would otherwise parse (as January, as the month) and pass unseen. An
 * offset may be written in any ISO 8601 form (Z, +00:00, +0000, +00) and change its value (daylight saving time):
 * concatenated exports mix `Z` and `+00:00` for the same instant. A date with an offset among dates without one is
 * another format (a local time beside an instant).
 */
export function otherDateFormat(cells: readonly string[]): number {
  const key = (cell: string): string => {
    const { fields, zone } = formatParts(cell);
    return zone === '' ? fields : `${fields}±`;
  };
  const first = cells.length > 0 ? key(cells[0]) : '';
  return cells.findIndex((c) => key(c) !== first);
}

/**
 * The point's index at a frequency (consecutive points differ by 1); weekly and hourly count from `origin` (ms), so
 * hours stamped at a fixed minute past (00:30, 01:30, …) are hourly too.
 */
function indexAt(d: ParsedDate, f: Frequency, origin: number): number | null {
  switch (f) {
    case 'yearly':
      return d.year;
    case 'quarterly':
      return d.year * 4 + Math.floor((d.month - 1) / 3);
    case 'monthly':
      return d.year * 12 + d.month - 1;
    case 'weekly': {
      const days = (d.ms - origin) / DAY_MS;
      return Number.isInteger(days) && days % 7 === 0 ? days / 7 : null;
    }
    case 'daily':
      return Math.floor(d.ms / DAY_MS);
    case 'hourly': {
      const hours = (d.ms - origin) / HOUR_MS;
      return Number.isInteger(hours) ? Math.floor(origin / HOUR_MS) + hours : null;
    }
  }
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** The label of the point `k` steps after `d` at frequency `f`. */
function labelAt(d: ParsedDate, f: Frequency, k: number): string {
  switch (f) {
    case 'yearly':
      return String(d.year + k);
    case 'quarterly': {
      const q = d.year * 4 + Math.floor((d.month - 1) / 3) + k;
      return `${Math.floor(q / 4)}-Q${(q % 4) + 1}`;
    }
    case 'monthly': {
      const m = d.year * 12 + d.month - 1 + k;
      return `${Math.floor(m / 12)}-${pad((m % 12) + 1)}`;
    }
    case 'weekly':
    case 'daily':
    case 'hourly': {
      const t = new Date(d.ms + k * (f === 'weekly' ? 7 * DAY_MS : f === 'daily' ? DAY_MS : HOUR_MS));
      const day = `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
      if (f !== 'hourly') return day;
      // The minute (and second) past the hour the series is stamped at.
      const time = `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}`;
      return `${day} ${time}${t.getUTCSeconds() > 0 ? `:${pad(t.getUTCSeconds())}` : ''}`;
    }
  }
}

const FREQUENCIES: Frequency[] = ['yearly', 'quarterly', 'monthly', 'weekly', 'daily', 'hourly'];

/** The coarsest frequency at which every point has its own index (oldest-first dates); null if none. */
function detectFrequency(ds: readonly ParsedDate[]): { f: Frequency; idx: number[] } | null {
  for (const f of FREQUENCIES) {
    const idx = ds.map((d) => indexAt(d, f, ds[0].ms));
    if (idx.every((v, i): v is number => v !== null && (i === 0 || v > idx[i - 1]!))) return { f, idx };
  }
  return null;
}

/** The frequency of oldest-first date labels (as detected when a file is read); undefined when not all are dates. */
export function frequencyOfDates(dates: readonly string[]): Frequency | undefined {
  const ds = dates.map((d) => parseDate(d));
  if (ds.length < 2 || ds.some((d) => d === null)) return undefined;
  return detectFrequency(ds as ParsedDate[])?.f;
}

/** Labels of the `n` points after a series' last date, at its frequency (t-labels for a series without dates). */
export function datesAfter(dates: readonly string[], n: number, frequency?: Frequency): string[] {
  const lastLabel = dates[dates.length - 1] ?? '';
  const last = parseDate(lastLabel);
  let f = frequency;
  if (last && !f) f = detectFrequency(dates.slice(-3).map((d) => parseDate(d)!))?.f ?? 'monthly';
  // Undated: after the last position (an index column's labels need not start at t1).
  const position = /^t(-?\d+)$/.exec(lastLabel);
  const after = position ? Number(position[1]) : dates.length;
  if (!last || !f) return Array.from({ length: n }, (_, i) => `t${after + i + 1}`);
  return Array.from({ length: n }, (_, i) => labelAt(last, f, i + 1));
}

/**
 * A plain decimal: optional sign, digits with an optional fraction (or a fraction alone, `.5`), optional exponent.
 * Number() alone would also take 0x10, 0b1111 and 0o17 (read as 16, 15, 15) — never what a data file means.
 */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A cell's number, or null: a plain finite decimal; spaces around it are allowed (the CSV reader trims them). */
export function parseDecimal(cell: string): number | null {
  const text = cell.trim();
  if (!DECIMAL.test(text)) return null;
  const v = Number(text);
  return Number.isFinite(v) ? v : null;
}

/**
 * The largest magnitude a forecast value may have. ETS's fit (augurs) finds no model for a series in the 1e40s, the
 * squared errors of the fits, metrics and intervals overflow past 1e154, and a sum of values past 1e308: refused up
 * front, naming the value, rather than failing inside a method. 1e30 leaves every method its range.
 */
export const MAX_FORECAST_VALUE = 1e30;

/** Why a value beyond ±MAX_FORECAST_VALUE is refused (for a message `<value> is <this>`), or null when it is in range. */
export function valueRangeProblem(v: number): string | null {
  return Math.abs(v) > MAX_FORECAST_VALUE
    ? `beyond ±1e30, the range of values recur forecasts (the methods' arithmetic overflows past it); rescale it (in thousands, millions, …)`
    : null;
}

/** Whether a cell is a number (parseDecimal): for telling headers, dates and value columns apart. */
export function isNumber(cell: string): boolean {
  return parseDecimal(cell) !== null;
}

const DATE_HEADER = /date|time|month|period|year|week|day|quarter|hour|^ds$/i;
/** A column of integer positions (an undated series' order): by these names, or given as the date column. */
export const INDEX_HEADER = /^(t|index|idx|step|time_?step|position)$/i;
/** An integer cell (an index column's). */
export const isIntegerCell = (cell: string): boolean => /^[+-]?\d+$/.test(cell.trim());

/** A CSV's rows, each with its line number in the file (one series or many); empty, binary or malformed text fails. */
export function csvRecords(text: string, src: string): { record: string[]; info: { lines: number } }[] {
  const fail = (msg: string): never => {
    throw new SeriesInputError(msg);
  };
  // A BOM (Excel's "CSV UTF-8") is no part of the first header name; the CLI's reader drops it too (readCsvText).
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') fail(`${src} is empty`);
  if (text.includes('\u0000')) fail(`${src} is not a text CSV file (it contains NUL bytes)`);
  // csv-parse gives the line a row ends on, and over-counts CRLF breaks in cells: each row is given the line it starts on.
  const lineMap = new CsvLineMap();
  try {
    return parse(text, {
      delimiter: delimiterOf(text),
      skip_empty_lines: true,
      // A row of empty cells (`,,` — what spreadsheets leave below the data) is a blank line, not a missing value.
      skip_records_with_empty_values: true,
      trim: true,
      relax_column_count: false,
      info: true,
      on_record: (row: { record: string[]; info: { lines: number } }) => {
        return { ...row, info: { ...row.info, lines: lineMap.row(row.info.lines, row.record).start } };
      },
    }) as {
      record: string[];
      info: { lines: number };
    }[];
  } catch (e) {
    // csv-parse names the end of the file, where it gave up, not the line the unclosed quote opened on.
    if ((e as { code?: string }).code === 'CSV_QUOTE_NOT_CLOSED')
      return fail(
        `${src}, line ${unclosedQuoteLine(text)}: a quoted cell is never closed (its closing " is missing)`,
      );
    // csv-parse's "Invalid Record Length: expect 2, got 3 on line 6", in the words of the other messages.
    const ragged = /^Invalid Record Length: expect (\d+), got (\d+) on line (\d+)$/.exec(
      (e as Error).message,
    );
    if ((e as { code?: string }).code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH' && ragged) {
      // The row as csv-parse read it: a quote opened by mistake makes it run on over the lines after.
      const { record } = e as { record?: unknown };
      const { start, end } = Array.isArray(record)
        ? lineMap.span(Number(ragged[3]), record.map(String))
        : { start: Number(ragged[3]), end: Number(ragged[3]) };
      const spans = end > start ? ` (a quoted cell runs from it to line ${end}: is a quote misplaced?)` : '';
      return fail(
        `${src}, line ${start}: ${ragged[2]} cells, but the first line has ${ragged[1]}${spans}; every row needs one cell per column (quote a cell that holds the separator)`,
      );
    }
    return fail(`${src}: ${escapeText((e as Error).message)}`);
  }
}

/**
 * The cell separator of a CSV: of comma, semicolon and tab, the one its first non-empty line uses most outside quotes
 * — among those the second line uses as often, when any is (a header `date,sales;EUR` over `1962-01,589` is a comma
 * file). Semicolons are what spreadsheets write where the decimal separator is a comma, tabs what they copy; a tie goes
 * to them over the comma (`1962-01;589,5` is a semicolon file whose decimal comma is then reported as not a number).
 */
export function delimiterOf(text: string): ',' | ';' | '\t' {
  // The first two lines are all it reads: a bounded start of the text, not a split of the whole file.
  const [first = '', second] = text
    .slice(0, 1 << 16)
    .split(/\r?\n|\r/)
    .filter((l) => l.trim() !== '')
    .slice(0, 2)
    .map((l) => l.replace(/"(?:[^"]|"")*"?/g, ''));
  const count = (line: string, c: string): number => line.split(c).length - 1;
  const used = (['\t', ';', ','] as const).filter((c) => count(first, c) > 0);
  const steady = used.filter((c) => second === undefined || count(second, c) === count(first, c));
  const pool = steady.length > 0 ? steady : used;
  // Ordered tab, semicolon, comma: the first of the most used wins a tie.
  return (
    pool.reduce<',' | ';' | '\t' | undefined>(
      (best, c) => (best === undefined || count(first, c) > count(first, best) ? c : best),
      undefined,
    ) ?? ','
  );
}

/** The line on which the last quote left open in `text` was opened (a doubled "" opens and closes). */
function unclosedQuoteLine(text: string): number {
  let line = 1;
  let opened = 1;
  let inside = false;
  for (const c of text) {
    if (c === '"') {
      inside = !inside;
      if (inside) opened = line;
    } else if (c === '\n') line++;
  }
  return opened;
}

export function parseSeriesCsv(text: string, opts: CsvOptions = {}): TimeSeries {
  const src = opts.source ?? 'CSV';
  const fail = (msg: string): never => {
    throw new SeriesInputError(msg);
  };
  const parsed = csvRecords(text, src);
  if (parsed.length === 0) fail(`${src} has no rows`);
  const rows = parsed.map((p) => p.record);
  // A header alone is no data (as in a panel), not "no numeric column".
  if (rows.length === 1 && rows[0].every((c) => !isNumber(c) && parseDate(c) === null))
    fail(`${src} has no data rows under a header`);
  // A header row is one whose cells are neither numbers nor dates while the next row has some.
  const first = rows[0];
  const header = first.every((c) => !isNumber(c) && parseDate(c) === null) && rows.length > 1 ? first : null;
  const body = header ? rows.slice(1) : rows;
  const bodyLines = (header ? parsed.slice(1) : parsed).map((p) => p.info.lines);
  const cols = first.length;
  const pick = (spec: string | number | undefined, what: string): number | undefined => {
    if (spec === undefined) return undefined;
    if (typeof spec === 'number' || /^\d+$/.test(String(spec))) {
      const i = Number(spec);
      if (i < 0 || i >= cols) fail(`${src}: ${what} column ${i} does not exist: ${columnRange(cols)}`);
      return i;
    }
    const i = header ? header.indexOf(spec) : -1;
    if (i < 0)
      fail(
        `${src}: no ${what} column named ${quote(spec)}${header ? ` (columns: ${nameList(header)})` : ' (the file has no header row)'}`,
      );
    return i;
  };
  let dateCol = pick(opts.dateColumn, 'date');
  let valueCol = pick(opts.valueColumn, 'value');
  const regressorCols = regressorColumns(opts.regressors, header, src, [
    [dateCol, 'date'],
    [valueCol, 'value'],
  ]);
  const sample = body.slice(0, 20);
  // An index column orders the points and shows gaps, as dates do; left unread, a newest-first or gapped file would be
  // forecast in file order. A column named like one holds positions; a date column given, years (1962, …) if they can be.
  const integers = (c: number): boolean => body.every((r) => isIntegerCell(r[c]));
  const indexCol =
    dateCol !== undefined
      ? integers(dateCol) && !body.every((r) => parseDate(r[dateCol!]) !== null)
        ? dateCol
        : undefined
      : [...Array(cols).keys()].find(
          (c) =>
            c !== valueCol &&
            !regressorCols.includes(c) &&
            header !== null &&
            INDEX_HEADER.test(header[c]) &&
            integers(c),
        );
  if (indexCol !== undefined) dateCol = indexCol;
  if (dateCol === undefined && cols > 1) {
    // A column named like a date, else the first column holding text or dates: either way it is then parsed strictly,
    // so bad dates are reported rather than the column (or its rows) being passed over.
    const candidates = [...Array(cols).keys()].filter((c) => c !== valueCol && !regressorCols.includes(c));
    dateCol =
      candidates.find((c) => header !== null && DATE_HEADER.test(header[c])) ??
      candidates.find((c) => sample.some((r) => !isNumber(r[c])));
  }
  const chosenByDefault = valueCol === undefined;
  if (valueCol === undefined) {
    for (let c = cols - 1; c >= 0; c--) {
      if (c !== dateCol && !regressorCols.includes(c) && sample.some((r) => isNumber(r[c]))) {
        valueCol = c;
        break;
      }
    }
  }
  if (valueCol === undefined) {
    // A decimal comma (a semicolon file from a spreadsheet) would otherwise leave "give --value-column" unexplained.
    const decimalComma = sample.flat().find((c) => /^[+-]?\d*,\d+$/.test(c));
    if (decimalComma !== undefined)
      fail(
        `${src}: found no numeric column: ${JSON.stringify(decimalComma)} has a decimal comma; write numbers with a point (589.5)`,
      );
    const columns = `(columns: ${nameList(header ?? first)})`;
    const amongRegressors = valuesAmongRegressors(src, regressorCols, header, sample);
    if (amongRegressors !== null) fail(`${amongRegressors} ${columns}`);
    throw new SeriesInputError(`${src}: found no numeric column; give --value-column ${columns}`, {
      problem: `${src}: found no numeric column ${columns}`,
      flag: '--value-column',
    });
  }
  const vc = valueCol;
  const colName = (c: number): string => quote(header?.[c] ?? c);
  if (dateCol !== undefined && regressorCols.includes(dateCol))
    fail(`${src}: the date column ${colName(dateCol)} cannot be a regressor`);
  const values: number[] = [];
  // Rows whose value is missing (empty, NA, …): without regressors, a gap that --interpolate fills, as in a panel.
  const missingRows: number[] = [];
  body.forEach((r, i) => {
    const cell = r[vc];
    // With regressors, an empty value is a row of the known future (checked to be after the last value below).
    if (regressorCols.length > 0 && cell === '') return void values.push(NaN);
    const v = parseDecimal(cell);
    if (v === null && regressorCols.length === 0 && MISSING_CELL.test(cell)) {
      missingRows.push(i);
      return void values.push(NaN);
    }
    if (v === null)
      return fail(
        `${src}, line ${bodyLines[i]}: value ${JSON.stringify(cell)} in column ${colName(vc)} is not a number`,
      );
    const outside = valueRangeProblem(v);
    if (outside)
      fail(`${src}, line ${bodyLines[i]}: value ${cell.trim()} in column ${colName(vc)} is ${outside}`);
    values.push(v);
  });
  if (missingRows.length > 0 && (opts.interpolate !== true || dateCol === undefined)) {
    const problem = `${src}: ${missingRows.length} missing value(s) in column ${colName(vc)} (line ${missingRows
      .slice(0, 5)
      .map((i) => bodyLines[i])
      .join(', ')}${missingRows.length > 5 ? ', …' : ''})`;
    if (dateCol === undefined) fail(`${problem}; without a date column they cannot be interpolated`);
    throw new SeriesInputError(`${problem}; fix the data or pass --interpolate to fill them`, {
      problem,
      flag: '--interpolate',
    });
  }
  const name = header?.[vc] ?? `column ${vc}`;
  const regressorCells = regressorCols.map((c) =>
    body.map((r, i) => {
      const cell = r[c];
      const v = parseDecimal(cell);
      const outside = v === null ? null : valueRangeProblem(v);
      if (outside)
        fail(`${src}, line ${bodyLines[i]}: regressor ${colName(c)} has ${cell.trim()}, ${outside}`);
      if (v !== null) return v;
      if (MISSING_CELL.test(cell)) return NaN;
      return fail(
        `${src}, line ${bodyLines[i]}: regressor ${colName(c)} has ${JSON.stringify(cell)}, not a number`,
      );
    }),
  );
  const withCovariates = (s: TimeSeries, columns: number[][]): TimeSeries =>
    regressorCols.length === 0
      ? s
      : splitKnownFuture(
          s,
          regressorCols.map((c) => header![c]),
          columns,
          src,
        );
  if (dateCol === undefined) {
    // No dates: consecutive points, labelled by position.
    return withCovariates(
      { dates: values.map((_, i) => `t${i + 1}`), values, name, lines: bodyLines },
      regressorCells,
    );
  }
  const dc = dateCol;
  const others = chosenByDefault
    ? [...Array(cols).keys()].filter(
        (c) => c !== vc && c !== dc && !regressorCols.includes(c) && sample.every((r) => isNumber(r[c])),
      )
    : [];
  // With --interpolate, a row without a value is left out: its date becomes a gap, filled like a missing date — or,
  // before the first value or after the last one (the file's first or last rows, in either order), is no gap at all.
  const dropped = new Set(missingRows);
  let firstKept = 0;
  while (firstKept < body.length && dropped.has(firstKept)) firstKept++;
  let lastKept = body.length - 1;
  while (lastKept >= firstKept && dropped.has(lastKept)) lastKept--;
  const atEnds = missingRows.filter((i) => i < firstKept || i > lastKept);
  const kept = body.flatMap((_, i) => (dropped.has(i) ? [] : [i]));
  const cellsOf = (vs: readonly number[], column: string): TimeSeries =>
    (indexCol !== undefined ? seriesFromPositions : seriesFromCells)(
      kept.map((i) => body[i][dc]),
      kept.map((i) => vs[i]),
      kept.map((i) => bodyLines[i]),
      name,
      { source: src, interpolate: opts.interpolate, column },
    );
  // Each regressor through the same ordering and gap filling as the values, so the points stay aligned.
  const s = withCovariates(
    cellsOf(values, colName(dc)),
    regressorCells.map((vs) => cellsOf(vs, colName(dc)).values),
  );
  const reported = atEnds.length > 0 ? { ...s, leftOut: atEnds.map((i) => bodyLines[i]) } : s;
  return others.length > 0
    ? { ...reported, otherColumns: others.map((c) => header?.[c] ?? `column ${c}`) }
    : reported;
}

/** A cell that is empty or says it is missing (a covariate's here; a value's in a panel). */
export const MISSING_CELL = /^(|na|n\/a|nan|null|none|-)$/i;

/**
 * The columns of `names` (header names): each must exist, once, and not be a column already used as `used`.
 */
export function regressorColumns(
  names: readonly string[] | undefined,
  header: readonly string[] | null,
  src: string,
  used: readonly (readonly [number | undefined, string])[],
): number[] {
  if (!names || names.length === 0) return [];
  if (!header)
    throw new SeriesInputError(`${src}: regressors are named by the header row, and the file has none`);
  const cols: number[] = [];
  for (const name of names) {
    const c = header.indexOf(name);
    if (c < 0)
      throw new SeriesInputError(
        `${src}: no regressor column named ${quote(name)} (columns: ${nameList(header)})`,
      );
    if (cols.includes(c)) throw new SeriesInputError(`${src}: regressor ${quote(name)} is named twice`);
    for (const [u, what] of used)
      if (u === c)
        throw new SeriesInputError(`${src}: ${quote(name)} is the ${what} column; it cannot be a regressor`);
    cols.push(c);
  }
  return cols;
}

/**
 * Why no value column was found when every numeric column left is one of `--regressors` (the values' own column given as
 * a regressor, say), or null: "found no numeric column" alone would not say that the column is there.
 */
export function valuesAmongRegressors(
  src: string,
  regressorCols: readonly number[],
  header: readonly string[] | null,
  sample: readonly (readonly string[])[],
): string | null {
  const numeric = regressorCols.filter((c) => sample.some((r) => isNumber(r[c])));
  if (numeric.length === 0) return null;
  return `${src}: found no numeric column to forecast besides the regressors (${numeric.map((c) => quote(header?.[c] ?? c)).join(', ')}); the column to forecast cannot be one of --regressors`;
}

/**
 * Splits a series read with NaN for empty value cells into its history (up to the last value) and the rows after it,
 * whose covariates are the known future. An empty value inside the history, or a missing covariate there, is an error
 * naming the lines. `columns[j]` holds covariate j at every point of `s` (aligned, in time order).
 */
export function splitKnownFuture(
  s: TimeSeries,
  names: readonly string[],
  columns: readonly (readonly number[])[],
  src: string,
): TimeSeries {
  const lineOf = (t: number): string =>
    s.lines?.[t] ? `line ${s.lines[t]}` : `${s.dates[t]} (between lines, interpolated)`;
  let end = s.values.length;
  while (end > 0 && Number.isNaN(s.values[end - 1])) end--;
  const inner = s.values.slice(0, end).flatMap((v, t) => (Number.isNaN(v) ? [t] : []));
  if (inner.length > 0)
    throw new SeriesInputError(
      `${src}: ${inner.length} empty value(s) before the last value (${inner
        .slice(0, 5)
        .map(lineOf)
        .join(
          ', ',
        )}); only the rows after the last value may leave it empty (they give the regressors' known future)`,
    );
  for (const [j, col] of columns.entries()) {
    const gaps = col.slice(0, end).flatMap((v, t) => (Number.isNaN(v) ? [t] : []));
    if (gaps.length > 0)
      throw new SeriesInputError(
        `${src}: regressor ${quote(names[j])} is missing on ${gaps.length} row(s) of the history: ${gaps
          .slice(0, 5)
          .map(lineOf)
          .join(', ')}${gaps.length > 5 ? ', …' : ''}`,
      );
  }
  const lines = s.lines ?? s.values.map(() => 0);
  return {
    ...s,
    dates: s.dates.slice(0, end),
    values: s.values.slice(0, end),
    lines: lines.slice(0, end),
    covariates: {
      names: [...names],
      x: s.values.map((_, t) => columns.map((c) => c[t])),
      futureDates: s.dates.slice(end),
      futureLines: lines.slice(end),
    },
  };
}

/**
 * An undated series ordered by an index column of integer positions (cells in file order): ascending or descending
 * throughout, no position twice, gaps an error unless interpolated (filled linearly). Labelled t<position>.
 */
export function seriesFromPositions(
  cells: readonly string[],
  values: readonly number[],
  bodyLines: readonly number[],
  name: string,
  opts: { source: string; interpolate?: boolean; column: string },
): TimeSeries {
  const src = opts.source;
  const fail = (msg: string): never => {
    throw new SeriesInputError(msg);
  };
  const pos = cells.map((c) => Number(c.trim()));
  const descending = pos.length > 1 && pos[1] < pos[0];
  for (let i = 1; i < pos.length; i++) {
    if (pos[i] === pos[i - 1])
      fail(
        `${src}: position ${pos[i]} in column ${opts.column} twice, on lines ${bodyLines[i - 1]} and ${bodyLines[i]}`,
      );
    if (pos[i] < pos[i - 1] !== descending)
      fail(
        `${src}, line ${bodyLines[i]}: position ${pos[i]} in column ${opts.column} is out of order (the file is ${descending ? 'de' : 'a'}scending up to line ${bodyLines[i - 1]})`,
      );
  }
  const order = pos.map((_, i) => (descending ? pos.length - 1 - i : i));
  // Sorted indexes i whose position is more than one after the one before.
  const gaps = order.flatMap((k, i) => (i > 0 && pos[k] - pos[order[i - 1]] > 1 ? [i] : []));
  if (gaps.length > 0 && opts.interpolate !== true) {
    const shown = gaps
      .slice(0, 3)
      .map((i) => `${pos[order[i - 1]]} … ${pos[order[i]]} (line ${bodyLines[order[i]]})`)
      .join(', ');
    const problem = `${src}: the positions in column ${opts.column} have ${gaps.length} gap(s): ${shown}${gaps.length > 3 ? ', …' : ''}`;
    throw new SeriesInputError(`${problem}; fix the data or pass --interpolate`, {
      problem,
      flag: '--interpolate',
    });
  }
  const dates: string[] = [];
  const out: number[] = [];
  const lines: number[] = [];
  let interpolated = 0;
  order.forEach((k, i) => {
    const prev = order[i - 1];
    const gap = i > 0 ? pos[k] - pos[prev] - 1 : 0;
    for (let g = 1; g <= gap; g++) {
      dates.push(`t${pos[prev] + g}`);
      out.push(values[prev] + ((values[k] - values[prev]) * g) / (gap + 1));
      lines.push(0);
      interpolated++;
    }
    dates.push(`t${pos[k]}`);
    out.push(values[k]);
    lines.push(bodyLines[k]);
  });
  return { dates, values: out, name, newestFirst: descending, lines, interpolated };
}

/**
 * A dated series from its cells: date texts, values and source lines of the points in file order. The dates are parsed
 * strictly; the order (oldest- or newest-first), duplicates, frequency and gaps are checked (gaps filled by linear
 * interpolation when asked). Shared by the one-series CSV reader and the many-series reader (panel.ts).
 */
export function seriesFromCells(
  dateCells: readonly string[],
  values: readonly number[],
  bodyLines: readonly number[],
  name: string,
  opts: { source: string; interpolate?: boolean; column: string },
): TimeSeries {
  const src = opts.source;
  const fail = (msg: string): never => {
    throw new SeriesInputError(msg);
  };
  const parsedDates = dateCells.map((c) => parseDate(c));
  const bad = parsedDates.flatMap((d, i) => (d === null ? [i] : []));
  if (bad.length > 0) {
    const shown = bad
      .slice(0, 5)
      .map((i) => `line ${bodyLines[i]} ${JSON.stringify(dateCells[i])}`)
      .join(', ');
    fail(
      `${src}: ${bad.length} date(s) in column ${opts.column} are not dates like ${DATE_FORMATS}: ${shown}${bad.length > 5 ? `, and ${bad.length - 5} more` : ''}`,
    );
  }
  const other = otherDateFormat(dateCells);
  if (other >= 0)
    fail(
      `${src}, line ${bodyLines[other]}: date ${JSON.stringify(dateCells[other])} in column ${opts.column} is not in the format of the first date, ${dateFormat(dateCells[0])} (line ${bodyLines[0]}); every date must have the same format`,
    );
  let ds = alignOffsets(parsedDates as ParsedDate[]);
  const offsets: TimeSeries['offsets'] = parsedDates.some((d) => d?.offsetMinutes !== undefined)
    ? ds.some((d, i) => d.ms !== parsedDates[i]!.ms)
      ? 'utc'
      : 'wall clock'
    : undefined;
  let lines = [...bodyLines];
  let vals = [...values];
  let cells = [...dateCells];
  // Order: oldest-first or newest-first throughout; anything else names the first line out of order.
  const newestFirst = ds.length > 1 && ds[1].ms < ds[0].ms;
  for (let i = 1; i < ds.length; i++) {
    const dt = ds[i].ms - ds[i - 1].ms;
    if (dt === 0) {
      // A local clock without offsets repeats an hour when daylight saving time ends: say what tells them apart.
      const clock =
        ds[i].offsetMinutes === undefined && dateFormat(dateCells[i]).includes('HH')
          ? `; if the times are a local clock's, it repeats an hour when daylight saving time ends: write the times with their UTC offsets (${dateCells[i].trim()}+02:00, then +01:00) or in UTC`
          : '';
      fail(
        `${src}: duplicate date ${escapeText(dateCells[i])} on lines ${bodyLines[i - 1]} and ${bodyLines[i]}${clock}`,
      );
    }
    if (dt < 0 !== newestFirst)
      fail(
        `${src}, line ${bodyLines[i]}: date ${escapeText(dateCells[i])} is out of order (the file is ${newestFirst ? 'newest' : 'oldest'}-first up to line ${bodyLines[i - 1]})`,
      );
  }
  if (newestFirst) {
    ds = [...ds].reverse();
    lines = [...lines].reverse();
    vals = [...vals].reverse();
    cells = cells.reverse();
  }
  const freq = detectFrequency(ds);
  if (!freq) {
    const i = ds.findIndex(
      (d, k) => k > 0 && Math.floor(d.ms / HOUR_MS) <= Math.floor(ds[k - 1].ms / HOUR_MS),
    );
    return fail(
      `${src}: the dates are finer than hourly or irregular (line ${lines[Math.max(i, 1)]}); hourly, daily, weekly, monthly, quarterly and yearly series are supported`,
    );
  }
  const { f, idx } = freq;
  const unit = UNITS[f];
  // Dates mostly k > 1 units apart are no frequency recur knows (weekly dates with one a day off read as daily, every
  // other month…): gaps between them would be most of the series, and --interpolate would invent it.
  const spacing = typicalSpacing(idx);
  if (spacing > 1) {
    // Most often a coarser series with two dates in one period (2002-06-15 and 2002-06-16 among monthly dates).
    for (const g of FREQUENCIES.slice(0, FREQUENCIES.indexOf(f))) {
      const gi = ds.map((d) => indexAt(d, g, ds[0].ms));
      const steps = gi.slice(1).map((v, k) => (v === null || gi[k] === null ? -1 : v - gi[k]!));
      const same = steps.indexOf(0);
      const repeats = steps.filter((d) => d === 0).length;
      if (
        same >= 0 &&
        repeats <= Math.max(1, steps.length / 20) &&
        steps.every((d) => d >= 0) &&
        typicalSpacing(gi as number[]) === 1
      )
        fail(
          `${src}: ${g} dates, but line ${lines[same + 1]} (${escapeText(cells[same + 1])}) is in the same ${UNITS[g]} as line ${lines[same]} (${escapeText(cells[same])})`,
        );
    }
    const i = idx.findIndex((v, k) => k > 0 && (v - idx[k - 1]) % spacing !== 0);
    // Weekly dates with one off read as daily (or hourly): weekly is supported, so what breaks it is said instead.
    const weekly = (f === 'daily' && spacing === 7) || (f === 'hourly' && spacing === 7 * 24);
    if (weekly && i > 0) {
      const step = idx[i] - idx[i - 1];
      fail(
        `${src}: weekly dates (mostly 7 days apart), but line ${lines[i]} (${escapeText(labelAt(ds[i], f, 0))}) is ${step} ${unit}${step === 1 ? '' : 's'} after the date before it; every date of a weekly series must be a whole number of weeks (7 days) after the one before`,
      );
    }
    fail(
      `${src}: the dates are mostly ${spacing} ${unit}s apart, which is no supported frequency${
        i > 0
          ? `; line ${lines[i]} (${escapeText(labelAt(ds[i], f, 0))}) is ${idx[i] - idx[i - 1]} ${unit}(s) after the date before it`
          : ''
      } (hourly, daily, weekly, monthly, quarterly and yearly series are supported, each date one step after the last)`,
    );
  }
  const gaps = idx.flatMap((v, i) => (i > 0 && v - idx[i - 1] > 1 ? [i] : []));
  if (gaps.length > 0 && opts.interpolate !== true) {
    const missing = gaps.reduce((s, i) => s + idx[i] - idx[i - 1] - 1, 0);
    const shown = gaps
      .slice(0, 3)
      .map((i) => `${labelAt(ds[i - 1], f, 0)} … ${labelAt(ds[i], f, 0)} (line ${lines[i]})`)
      .join(', ');
    // Business days (stock prices, office data): no frequency of recur's, and "fix the data" would not say how.
    const weekend = (day: number): boolean => [0, 6].includes((((day + 4) % 7) + 7) % 7); // day 0 was a Thursday
    const businessDays =
      f === 'daily' &&
      !idx.some(weekend) &&
      gaps.every((i) =>
        Array.from({ length: idx[i] - idx[i - 1] - 1 }, (_, k) => idx[i - 1] + k + 1).every(weekend),
      );
    const problem = `${src}: ${f} series with ${missing} missing ${unit}(s) in ${gaps.length} gap(s): ${shown}${gaps.length > 3 ? ', …' : ''}${businessDays ? ' — every missing day a Saturday or Sunday: business days' : ''}`;
    const remedy = businessDays
      ? 'pass --interpolate to fill in the weekends, or, to forecast the business days alone, leave out the dates (an undated series) and give --season 5'
      : 'fix the data or pass --interpolate';
    throw new SeriesInputError(`${problem}; ${remedy}`, {
      problem,
      flag: '--interpolate',
    });
  }
  const dates: string[] = [];
  const out: number[] = [];
  const outLines: number[] = [];
  let interpolated = 0;
  for (let i = 0; i < ds.length; i++) {
    const gap = i > 0 ? idx[i] - idx[i - 1] - 1 : 0;
    for (let g = 1; g <= gap; g++) {
      dates.push(labelAt(ds[i - 1], f, g));
      out.push(vals[i - 1] + ((vals[i] - vals[i - 1]) * g) / (gap + 1));
      outLines.push(0);
      interpolated++;
    }
    dates.push(labelAt(ds[i], f, 0));
    out.push(vals[i]);
    outLines.push(lines[i]);
  }
  return {
    dates,
    values: out,
    name,
    frequency: f,
    newestFirst,
    lines: outLines,
    interpolated,
    ...(offsets ? { offsets } : {}),
  };
}

const UNITS: Record<Frequency, string> = {
  hourly: 'hour',
  daily: 'day',
  weekly: 'week',
  monthly: 'month',
  quarterly: 'quarter',
  yearly: 'year',
};

/** The median step between consecutive indexes (1 for a regular series, even with a few gaps). */
function typicalSpacing(idx: readonly number[]): number {
  if (idx.length < 3) return 1;
  const steps = idx.slice(1).map((v, i) => v - idx[i]);
  steps.sort((a, b) => a - b);
  return steps[Math.floor((steps.length - 1) / 2)];
}

/** The former name, kept for existing callers: any frequency is accepted now. */
export const parseMonthlyCsv = parseSeriesCsv;

/**
 * Throws unless the series can be forecast: enough points, not constant, finite. `why`: the rule `needed` comes from
 * (the default: the forecast's own; an early check before the season is known says so).
 */
export function checkSeries(
  s: TimeSeries,
  needed: number,
  src: string,
  why = 'two seasons plus the horizon, or more for the held-out part',
): void {
  const v = s.values;
  if (v.length > 1 && v.every((x) => x === v[0]))
    throw new SeriesInputError(`${src}: the series is constant (${v[0]}); there is nothing to forecast`);
  if (v.length < needed) {
    throw new SeriesInputError(`${src} has ${v.length} points; at least ${needed} are needed (${why})`);
  }
}

/** What the early check (before the season is known) says of its minimum. */
export const FIRST_CHECK_WHY = 'to read a series at all; a forecast then needs two seasons plus the horizon';
