/**
 * Many series at once ("a panel"): reading them from a long-format CSV (one row per series and date: an id column, a
 * date or index column, a value column) or a wide CSV (a date column and one value column per series); forecasting
 * each one with the same pipeline as a single series (backtest choice, conformal intervals, hold-out scores) — with,
 * by default, the panel's global network (global.ts, trained across the series beforehand) as a candidate and the mean
 * of ETS, Theta and that network as the method; and the
 * aggregate over series (mean MASE / sMAPE / coverage of the default and of each other method on the same series, and
 * how often each method was chosen). Browser-safe: the fan-out over processes is src/node/forecast_panel.ts.
 *
 * What stops the whole file (SeriesInputError, exit 2 in the CLI): a missing id/date/value column, a value that is not
 * a number, a bad date, duplicate (id, date) rows — each named by line and column. What fails one series only (reported
 * with the reason, the others go on): missing values (empty, NA, NaN) unless --interpolate, non-finite values (inf),
 * gaps in its dates, too few points, a constant series, and anything its forecast fails on.
 */
import {
  autoForecast,
  CANDIDATES,
  COMBINATION,
  defaultFoldStep,
  minTrainLengths,
  planFolds,
  type CandidateName,
  type ForecastFn,
  type MethodChoice,
} from './auto.js';
import type { GlobalOptions, GlobalSeriesForecasts, GlobalSeriesInput } from './global.js';
import { baselineForecasts, type BaselineName } from './baselines.js';
import { winkler } from './conformal.js';
import { metrics, type Metrics } from './metrics.js';
import type { NetworkOptions, RNNForecaster } from './network.js';
import { savedSeriesOf, type SavedNetworkRef, type SavedSeries } from './saved.js';
import {
  checkSeries,
  FIRST_CHECK_WHY,
  columnRange,
  csvRecords,
  dateFormat,
  escapeText,
  datesAfter,
  INDEX_HEADER,
  isIntegerCell as isInteger,
  isNumber,
  MISSING_CELL,
  nameList,
  DATE_FORMATS,
  instantMs,
  otherDateFormat,
  parseDate,
  parseDecimal,
  valueRangeProblem,
  quote,
  SEASON_OF_FREQUENCY,
  seasonsOfFrequency,
  SeriesInputError,
  regressorColumns,
  seriesFromCells,
  splitKnownFuture,
  valuesAmongRegressors,
  type TimeSeries,
} from './series.js';
import type { Differencing } from './transforms.js';
import type { TransformKind } from './boxcox.js';
import {
  knownFutureRows,
  regressionIfFits,
  regressionLag,
  regressionPart,
  regressionSummary,
  withRegressorsName,
  type RegressionFit,
  type RegressionSummary,
} from './regressors.js';

export interface PanelCsvOptions {
  /** Long format: the column naming each row's series (header name or 0-based index). */
  idColumn?: string;
  /** Wide format: every column but the date column is a series. */
  wide?: boolean;
  /** Date (or integer index) column; default: a date-like header, else a column named t/index/step, else the first
   * remaining column holding dates or integers. */
  dateColumn?: string;
  /** Long format: the value column (default: the last numeric column that is neither the id nor the date). */
  valueColumn?: string;
  interpolate?: boolean;
  /** Name used in messages (the file path). */
  source?: string;
  /**
   * Long format: covariate columns (regressors.ts), one value per row; each series' rows after its last value, with
   * the value cell empty, give the covariates' known future.
   */
  regressors?: readonly string[];
}

/** One series of a panel: its points, or why it cannot be forecast (the rest of the panel goes on). */
export interface PanelSeries {
  id: string;
  series?: TimeSeries;
  error?: string;
}

export interface Panel {
  format: 'long' | 'wide';
  /** The id column's header (long) or 'id' (wide); the output file's first column. */
  idName: string;
  /** The date/index column's header, if there is one. */
  dateName?: string;
  /** Whether the date column holds integer positions (t = 1, 2, …) instead of dates. */
  indexed: boolean;
  series: PanelSeries[];
}

const DATE_HEADER = /date|time|month|period|year|week|day|quarter|hour|^ds$/i;
const NON_FINITE = /^[+-]?(inf|infinity)$/i;

/** A value cell: a number, a missing value, a non-finite value (fails its series), or bad input (null). */
function valueOf(cell: string): number | 'missing' | 'non-finite' | null {
  const v = parseDecimal(cell);
  if (v !== null) return v;
  // A missing value fails its series (or is interpolated with --interpolate); it is not bad input.
  if (MISSING_CELL.test(cell.trim())) return 'missing';
  if (NON_FINITE.test(cell.trim())) return 'non-finite';
  return null;
}

interface Cell {
  value: number | 'missing' | 'non-finite';
  date: string;
  line: number;
  /** The covariates' values (NaN: missing). */
  x: number[];
}

/**
 * Reads a panel from CSV text. Long format needs `idColumn`; wide format needs `wide`. Both need a header row.
 */
export function parsePanelCsv(text: string, opts: PanelCsvOptions): Panel {
  const src = opts.source ?? 'CSV';
  const fail = (msg: string): never => {
    throw new SeriesInputError(msg);
  };
  if (opts.wide && opts.idColumn !== undefined)
    fail(
      `${src}: --wide and --id-column contradict each other: a wide file has one column per series, a long one an id column`,
    );
  if (opts.wide && (opts.regressors?.length ?? 0) > 0)
    fail(
      `${src}: --regressors needs one row per series and date (long format, --id-column): a wide file's columns are series`,
    );
  if (opts.wide && opts.valueColumn !== undefined)
    fail(
      `${src}: --value-column does not apply to a wide file (every column but the date column is a series)`,
    );
  if (!opts.wide && opts.idColumn === undefined)
    fail(`${src}: give --id-column (long format) or --wide to read many series`);
  const parsed = csvRecords(text, src);
  if (parsed.length < 2) fail(`${src} has no data rows under a header`);
  const header = parsed[0].record;
  if (header.some((c) => isNumber(c) || c === ''))
    fail(
      `${src}, line ${parsed[0].info.lines}: the first row must be a header naming the columns (got ${header.map((c) => JSON.stringify(c)).join(', ')})`,
    );
  const body = parsed.slice(1);
  const cols = header.length;
  const colName = (c: number): string => quote(header[c]);
  const pick = (spec: string | undefined, what: string): number | undefined => {
    if (spec === undefined) return undefined;
    const named = header.indexOf(spec);
    if (named >= 0) return named;
    if (/^\d+$/.test(spec)) {
      const i = Number(spec);
      if (i >= cols) fail(`${src}: ${what} column ${i} does not exist: ${columnRange(cols)}`);
      return i;
    }
    return fail(`${src}: no ${what} column named ${quote(spec)} (columns: ${nameList(header)})`);
  };
  const idCol = pick(opts.idColumn, 'id');
  const valueColGiven = pick(opts.valueColumn, 'value');
  let dateCol = pick(opts.dateColumn, 'date');
  if (idCol !== undefined && dateCol === idCol)
    fail(`${src}: the id and date columns are the same column (${colName(idCol)})`);
  if (idCol !== undefined && valueColGiven === idCol)
    fail(`${src}: the id and value columns are the same column (${colName(idCol)})`);
  const sample = body.slice(0, 50).map((p) => p.record);
  const free = [...Array(cols).keys()].filter((c) => c !== idCol && c !== valueColGiven);
  const datesOrIntegers = (c: number): boolean =>
    sample.every((r) => parseDate(r[c]) !== null) || sample.every((r) => isInteger(r[c]));
  if (dateCol === undefined) {
    dateCol =
      free.find((c) => DATE_HEADER.test(header[c]) && !INDEX_HEADER.test(header[c])) ??
      free.find((c) => INDEX_HEADER.test(header[c])) ??
      // Wide: the first column of dates or integers; long: a remaining column of dates (an integer one is ambiguous
      // with a value column, so it must be named or given).
      (opts.wide
        ? free.find((c) => datesOrIntegers(c))
        : free.find(
            (c) => sample.every((r) => parseDate(r[c]) !== null) && !sample.every((r) => isNumber(r[c])),
          ));
  }
  if (opts.wide && dateCol === undefined)
    fail(
      `${src}: a wide file needs a date (or integer index) column beside its series columns; give --date-column (columns: ${nameList(header)})`,
    );
  if (dateCol !== undefined && valueColGiven === dateCol)
    fail(`${src}: the date and value columns are the same column (${colName(dateCol)})`);
  const regressorCols = regressorColumns(opts.regressors, header, src, [
    [idCol, 'id'],
    [dateCol, 'date'],
    [valueColGiven, 'value'],
  ]);
  /** A row's covariates: numbers, NaN where missing; anything else stops the file. */
  const covariatesOf = (record: readonly string[], line: number): number[] =>
    regressorCols.map((c) => {
      const v = valueOf(record[c]);
      const outside = typeof v === 'number' ? valueRangeProblem(v) : null;
      if (outside)
        fail(`${src}, line ${line}, column ${colName(c)}: regressor value ${record[c].trim()} is ${outside}`);
      if (typeof v === 'number') return v;
      if (v === 'missing') return NaN;
      return fail(
        `${src}, line ${line}, column ${colName(c)}: regressor value ${JSON.stringify(record[c])} is not a number`,
      );
    });

  // The date column: every cell a date, or every cell an integer position.
  let indexed = false;
  if (dateCol !== undefined) {
    const dc = dateCol;
    const allDates = body.every((p) => parseDate(p.record[dc]) !== null);
    indexed = !allDates && body.every((p) => isInteger(p.record[dc]));
    if (!allDates && !indexed) {
      const dated = body.some((p) => parseDate(p.record[dc]) !== null && !isInteger(p.record[dc]));
      const bad = body.find((p) => (dated ? parseDate(p.record[dc]) === null : !isInteger(p.record[dc])))!;
      fail(
        `${src}, line ${bad.info.lines}, column ${colName(dc)}: ${JSON.stringify(bad.record[dc])} is not ${dated ? `a date like ${DATE_FORMATS}` : 'an integer position'}`,
      );
    }
    // One format for the whole file (not per series), so a stray format stops the file like any bad date.
    const other = allDates ? otherDateFormat(body.map((p) => p.record[dc])) : -1;
    if (other >= 0)
      fail(
        `${src}, line ${body[other].info.lines}, column ${colName(dc)}: date ${JSON.stringify(body[other].record[dc])} is not in the format of the first date, ${dateFormat(body[0].record[dc])} (line ${body[0].info.lines}); every date must have the same format`,
      );
  }
  const badValue = (line: number, c: number, cell: string): never =>
    fail(`${src}, line ${line}, column ${colName(c)}: value ${JSON.stringify(cell)} is not a number`);

  const groups = new Map<string, Cell[]>();
  let valueCol: number | undefined;
  if (!opts.wide) {
    const ic = idCol!;
    valueCol =
      valueColGiven ??
      [...free]
        .reverse()
        .find((c) => c !== dateCol && !regressorCols.includes(c) && sample.some((r) => isNumber(r[c])));
    if (valueCol === undefined) {
      const why =
        valuesAmongRegressors(src, regressorCols, header, sample) ??
        `${src}: found no numeric value column beside the id${dateCol !== undefined ? ' and date' : ''} column; give --value-column`;
      return fail(`${why} (columns: ${nameList(header)})`);
    }
    const vc = valueCol;
    for (const p of body) {
      const id = p.record[ic];
      if (id === '') fail(`${src}, line ${p.info.lines}, column ${colName(ic)}: the series id is empty`);
      const v = valueOf(p.record[vc]);
      if (v === null) badValue(p.info.lines, vc, p.record[vc]);
      const g = groups.get(id) ?? groups.set(id, []).get(id)!;
      g.push({
        value: v!,
        date: dateCol === undefined ? '' : p.record[dateCol],
        line: p.info.lines,
        x: covariatesOf(p.record, p.info.lines),
      });
    }
  } else {
    const dc = dateCol!;
    const seriesCols = [...Array(cols).keys()].filter((c) => c !== dc);
    if (seriesCols.length === 0)
      fail(`${src}: a wide file needs at least one series column beside the date column`);
    for (const c of seriesCols) {
      if (groups.has(header[c]))
        fail(
          `${src}: two series columns are named ${colName(c)} (columns ${header.indexOf(header[c])} and ${c})`,
        );
      const cells: Cell[] = [];
      for (const p of body) {
        const v = valueOf(p.record[c]);
        if (v === null) badValue(p.info.lines, c, p.record[c]);
        cells.push({ value: v!, date: p.record[dc], line: p.info.lines, x: [] });
      }
      groups.set(header[c], cells);
    }
  }

  const series: PanelSeries[] = [];
  for (const [id, raw] of groups) {
    const label = opts.wide ? `series ${quote(id)}` : `series ${JSON.stringify(id)}`;
    let cells = raw;
    // Order: by date or position (long-format rows may come in any order); duplicates are bad input.
    if (dateCol !== undefined) {
      // By instant: an hourly series' autumn hour, repeated on the wall clock, comes twice with two offsets.
      const key = (c: Cell): number => (indexed ? Number(c.date) : instantMs(parseDate(c.date)!));
      cells = [...raw].sort((a, b) => key(a) - key(b));
      for (let i = 1; i < cells.length; i++)
        if (key(cells[i]) === key(cells[i - 1]))
          fail(
            `${src}: duplicate rows for ${label} at ${colName(dateCol)} ${escapeText(cells[i].date)}: lines ${Math.min(cells[i - 1].line, cells[i].line)} and ${Math.max(cells[i - 1].line, cells[i].line)}`,
          );
    }
    // Wide files pad shorter series with empty cells before their start and after their end.
    if (opts.wide) {
      let a = 0;
      let b = cells.length;
      while (a < b && cells[a].value === 'missing') a++;
      while (b > a && cells[b - 1].value === 'missing') b--;
      cells = cells.slice(a, b);
    }
    series.push(seriesOfCells(id, label, cells, indexed, dateCol, header, opts, src, opts.regressors));
  }
  return {
    format: opts.wide ? 'wide' : 'long',
    idName: idCol !== undefined ? header[idCol] : 'id',
    ...(dateCol !== undefined ? { dateName: header[dateCol] } : {}),
    indexed,
    series,
  };
}

/** One series from its sorted cells, or the reason it cannot be forecast. */
function seriesOfCells(
  id: string,
  label: string,
  cells: Cell[],
  indexed: boolean,
  dateCol: number | undefined,
  header: readonly string[],
  opts: PanelCsvOptions,
  src: string,
  regressors: readonly string[] = [],
): PanelSeries {
  if (cells.length === 0) return { id, error: `${label} has no values` };
  const inf = cells.find((c) => c.value === 'non-finite');
  if (inf) return { id, error: `${label}: a non-finite value on line ${inf.line}` };
  for (const c of cells) {
    const outside = typeof c.value === 'number' ? valueRangeProblem(c.value) : null;
    if (outside) return { id, error: `${label}: value ${c.value} on line ${c.line} is ${outside}` };
  }
  // With covariates, the rows after the last value are the known future: kept aside from the missing-value checks.
  let end = cells.length;
  if (regressors.length > 0) while (end > 0 && cells[end - 1].value === 'missing') end--;
  const future = cells.slice(end);
  const missing = cells.slice(0, end).filter((c) => c.value === 'missing');
  if (missing.length > 0 && (opts.interpolate !== true || dateCol === undefined))
    return {
      id,
      error: `${label}: ${missing.length} missing value(s) (line ${missing
        .slice(0, 3)
        .map((c) => c.line)
        .join(
          ', ',
        )}${missing.length > 3 ? ', …' : ''})${dateCol !== undefined ? '; pass --interpolate to fill them' : ''}`,
    };
  // The future rows' values are NaN: the covariates' split (splitKnownFuture) takes them off again.
  const kept = [...cells.slice(0, end).filter((c) => c.value !== 'missing'), ...future];
  const values = kept.map((c) => (c.value === 'missing' ? NaN : (c.value as number)));
  const columns = regressors.map((_, j) => kept.map((c) => c.x[j]));
  const lines = kept.map((c) => c.line);
  const name = id;
  const split = (s: TimeSeries, cols: readonly (readonly number[])[]): PanelSeries => {
    if (regressors.length === 0) return { id, series: s };
    try {
      return { id, series: splitKnownFuture(s, regressors, cols, `${src}, ${label}`) };
    } catch (e) {
      if (e instanceof SeriesInputError) return { id, error: e.message };
      throw e;
    }
  };
  if (dateCol === undefined)
    return split({ dates: values.map((_, i) => `t${i + 1}`), values, name, lines }, columns);
  if (indexed) {
    // Integer positions: consecutive (gaps filled linearly with --interpolate), labelled by their number.
    const ts = kept.map((c) => Number(c.date));
    const dates: string[] = [];
    const outLines: number[] = [];
    // The values and each covariate, filled in alike.
    const tracks = [values, ...columns];
    const outs: number[][] = tracks.map(() => []);
    let interpolated = 0;
    for (let i = 0; i < ts.length; i++) {
      const gap = i > 0 ? ts[i] - ts[i - 1] - 1 : 0;
      if (gap > 0 && opts.interpolate !== true)
        return {
          id,
          error: `${label}: ${quote(header[dateCol])} jumps from ${ts[i - 1]} to ${ts[i]} (line ${lines[i]}); fix the data or pass --interpolate`,
        };
      for (let g = 1; g <= gap; g++) {
        dates.push(String(ts[i - 1] + g));
        tracks.forEach((v, k) => outs[k].push(v[i - 1] + ((v[i] - v[i - 1]) * g) / (gap + 1)));
        outLines.push(0);
        interpolated++;
      }
      dates.push(String(ts[i]));
      tracks.forEach((v, k) => outs[k].push(v[i]));
      outLines.push(lines[i]);
    }
    return split(
      { dates, values: outs[0], name, lines: outLines, ...(interpolated ? { interpolated } : {}) },
      outs.slice(1),
    );
  }
  try {
    const fromCells = (vs: readonly number[]): TimeSeries =>
      seriesFromCells(
        kept.map((c) => c.date),
        vs,
        lines,
        name,
        { source: `${src}, ${label}`, interpolate: opts.interpolate, column: quote(header[dateCol]) },
      );
    return split(
      fromCells(values),
      columns.map((c) => fromCells(c).values),
    );
  } catch (e) {
    if (e instanceof SeriesInputError) return { id, error: e.message };
    throw e;
  }
}

/** The global network: one model trained across every series of the panel (global.ts), a candidate like the others. */
export const GLOBAL = 'global';
/** The fixed mean of ETS, Theta and the global network's forecasts. */
export const STAT_GLOBAL_MEAN = 'ets+theta+global';
/** The fixed mean of Theta and the global network's forecasts. */
export const THETA_GLOBAL_MEAN = 'theta+global';
/** The fixed means a panel can use, by name: their members. */
export const PANEL_MEANS: Readonly<Record<string, readonly PanelCandidate[]>> = {
  [STAT_GLOBAL_MEAN]: ['ets', 'theta', 'global'],
  [THETA_GLOBAL_MEAN]: ['theta', 'global'],
};
export type PanelCandidate = CandidateName | typeof GLOBAL;
export const PANEL_CANDIDATES: PanelCandidate[] = [...CANDIDATES, GLOBAL];
/**
 * A panel's default candidates: the cheap statistical methods and the global network (the per-series networks cost a
 * minute a series; they remain `--candidates` options). SARIMA is left out: its search costs more than the rest of a
 * series together and it was the worst statistical method on M3 (BENCHMARKS.md).
 */
export const PANEL_DEFAULT_CANDIDATES: PanelCandidate[] = ['ets', 'theta', 'seasonal naive', GLOBAL];
export type PanelMethod = MethodChoice | typeof GLOBAL | typeof STAT_GLOBAL_MEAN | typeof THETA_GLOBAL_MEAN;
export const PANEL_METHODS: PanelMethod[] = [
  'auto',
  ...CANDIDATES,
  COMBINATION,
  GLOBAL,
  STAT_GLOBAL_MEAN,
  THETA_GLOBAL_MEAN,
];
/** A panel's default method: the fixed mean (BENCHMARKS.md, M3: it won the sample's backtest). */
export const PANEL_DEFAULT_METHOD: PanelMethod = STAT_GLOBAL_MEAN;
/** A panel's default extra hold-out baselines: the cheap ones (SARIMA would cost more than the default itself). */
export const PANEL_DEFAULT_BASELINES: BaselineName[] = ['naive', 'drift'];

/** What every series of a run is forecast with (plain data: it travels to worker threads). */
export interface PanelSettings {
  /** Season for every series; default: from each series' dates (undated series then need it). */
  season?: number;
  /** Every season (first = `season`) ETS's MSTL may use; default: `season` given, else each series' frequency's. */
  seasons?: number[];
  /** Default: one season (12 without one). */
  horizon?: number;
  /** 0 = forecast the future; default: the horizon. */
  holdout?: number;
  /** Network input window; default two seasons. */
  lookback?: number;
  method: PanelMethod;
  candidates: PanelCandidate[];
  folds: number;
  step?: number;
  /** Interval levels in (0, 1). */
  levels: number[];
  transform: TransformKind | 'auto';
  /** The network options that do not depend on the series (season, horizon, lookback are set per series). */
  network: Omit<NetworkOptions, 'season' | 'horizon' | 'lookback'>;
  /** More methods scored on the hold-out beside the candidates. */
  baselines: BaselineName[];
  /** The global network's options (season, horizon: each series'; the rest default to global.ts's). */
  global?: Partial<Omit<GlobalOptions, 'season' | 'horizon'>>;
  /** Keep each series' chosen forecaster (SeriesForecast.saved), to save the panel's forecaster. */
  keep?: boolean;
}

/** Whether a run needs the global network (trained on the whole panel before the series are forecast). */
export function needsGlobal(o: PanelSettings): boolean {
  if (o.method === GLOBAL || o.method in PANEL_MEANS) return true;
  return (o.method === 'auto' || o.method === COMBINATION) && o.candidates.includes(GLOBAL);
}

export interface HeldOutInterval {
  /** Percent. */
  level: number;
  /** Share of the held-out points inside. */
  coverage: number;
  winkler: number;
}

/** One series' forecast: the chosen method's point forecast and intervals, and its hold-out scores. */
export interface SeriesForecast {
  id: string;
  points: number;
  frequency?: string;
  season: number;
  horizon: number;
  method: string;
  /** The methods the combination averages, when it was chosen. */
  combination?: string[];
  dates: string[];
  forecast: number[];
  intervals: { level: number; lower: number[]; upper: number[] }[];
  actual?: number[];
  /** Hold-out metrics of every method forecast (the chosen one and the others on the same split). */
  metrics?: Record<string, Metrics>;
  heldOutIntervals?: HeldOutInterval[];
  notes: string[];
  /** With covariates: which methods used them and their β (regressors.ts). */
  regressors?: RegressionSummary;
  /** Backtest scores of every method that ran on every fold (what the choice was made on): means and per fold. */
  backtest?: Record<string, { mase: number; smape: number; folds: { mase: number; smape: number }[] }>;
  /** Wall seconds of this series' fit and forecast (the global network's training, shared, not included). */
  seconds: number;
  /** With `keep`: the chosen forecaster, and where its networks were saved. */
  saved?: SavedSeries & { networks: SavedNetworkRef[] };
}

export interface SeriesFailure {
  id: string;
  error: string;
}

export type SeriesOutcome = SeriesForecast | SeriesFailure;

export const isFailure = (r: SeriesOutcome): r is SeriesFailure => 'error' in r;

/** The season a series is forecast with: the given one, else its frequency's; an undated series needs it given. */
export function seasonOf(s: TimeSeries, season?: number): number {
  if (season !== undefined) return season;
  if (!s.frequency)
    throw new SeriesInputError(
      'the series has no dates, so its season is unknown; give --season N (1 for none) or a date column',
    );
  return SEASON_OF_FREQUENCY[s.frequency];
}

/** The labels of the n points after an undated series: the next integer positions, else t-labels. */
export function labelsAfter(s: TimeSeries, n: number): string[] {
  const last = s.dates[s.dates.length - 1];
  if (!s.frequency && last !== undefined && /^-?\d+$/.test(last))
    return Array.from({ length: n }, (_, i) => String(Number(last) + i + 1));
  return datesAfter(s.dates, n, s.frequency);
}

/** A series' split as the panel forecasts it: season, horizon, its training part and its backtest fold origins. */
export interface PanelSeriesPlan {
  season: number;
  horizon: number;
  holdout: number;
  train: number[];
  /** Backtest fold origins (indices into train); empty when the training part is too short for a backtest. */
  origins: number[];
  /** Season position of the first point (0 = January / Q1), from its dates; absent for other frequencies. */
  phase?: number;
}

/** The split and fold plan of one series, exactly as forecastPanelSeries (autoForecast) makes them. */
export function panelSeriesPlan(id: string, series: TimeSeries, o: PanelSettings): PanelSeriesPlan {
  checkSeries(series, 4, `series ${JSON.stringify(id)}`, FIRST_CHECK_WHY);
  const season = seasonOf(series, o.season);
  // With covariates, the rows after the last value give the horizon and, unless --holdout says, are forecast.
  const future = series.covariates?.futureDates.length ?? 0;
  const horizon = o.horizon ?? (future > 0 ? future : season > 1 ? season : 12);
  const holdout = o.holdout ?? (future > 0 ? 0 : horizon);
  checkSeries(series, Math.max(2 * season, 8) + horizon, `series ${JSON.stringify(id)}`);
  if (series.covariates && holdout === 0) knownFutureRows(series, horizon, labelsAfter(series, horizon));
  const train = series.values.slice(0, series.values.length - holdout);
  let origins: number[] = [];
  try {
    origins = planFolds(
      train.length,
      horizon,
      o.folds,
      o.step ?? defaultFoldStep(horizon),
      minTrainLengths(season),
    ).origins;
  } catch {
    // Too short for a backtest: the global network then only forecasts the series.
  }
  const phase = seasonPhase(series, season);
  return { season, horizon, holdout, train, origins, ...(phase !== undefined ? { phase } : {}) };
}

/** Season position of a series' first point (0 = January / Q1), from its dates; undefined for other frequencies. */
export function seasonPhase(series: TimeSeries, season: number): number | undefined {
  const first = series.dates[0] ?? '';
  const month = /^\d{4}-(\d{2})/.exec(first);
  const quarter = /^\d{4}-Q([1-4])$/i.exec(first);
  return series.frequency === 'monthly' && season === 12 && month
    ? Number(month[1]) - 1
    : series.frequency === 'quarterly' && season === 4 && quarter
      ? Number(quarter[1]) - 1
      : undefined;
}

/** A series' covariate rows as its forecast uses them: the training part's and the horizon's (future or hold-out). */
function covariateRows(series: TimeSeries, plan: PanelSeriesPlan): number[][] | undefined {
  const cov = series.covariates;
  if (!cov) return undefined;
  return plan.holdout === 0
    ? knownFutureRows(series, plan.horizon, labelsAfter(series, plan.horizon))
    : cov.x.slice(0, series.values.length);
}

/**
 * The global network's input for one series and how to turn its forecasts back. Without covariates: the training
 * part as it is. With them, the network forecasts what a per-series regression leaves (regressors.ts), honestly: the
 * backtest model sees the residual of a regression fitted before the first fold origin, the final model that of one
 * fitted on the whole training part; each regression's part of the forecast rows is added back to its forecasts. A
 * part too short to fit a regression on leaves that model without it.
 */
export function globalInput(
  series: TimeSeries,
  plan: PanelSeriesPlan,
): { input: GlobalSeriesInput; restore(f: GlobalSeriesForecasts): GlobalSeriesForecasts } {
  const base = {
    train: plan.train,
    origins: plan.origins,
    ...(plan.phase !== undefined ? { phase: plan.phase } : {}),
  };
  const x = covariateRows(series, plan);
  if (!x) return { input: base, restore: (f) => f };
  const fitOn = (n: number): RegressionFit | null =>
    regressionIfFits(plan.train.slice(0, n), x, regressionLag(plan.season));
  const part = (fit: RegressionFit | null, t: number): number => (fit ? regressionPart(fit, x[t]) : 0);
  const backtestFit = plan.origins.length > 0 ? fitOn(plan.origins[0]) : null;
  const finalFit = fitOn(plan.train.length);
  const n = plan.train.length;
  return {
    input: {
      ...base,
      train: plan.train.map((v, t) => v - part(finalFit, t)),
      backtestTrain: plan.train.map((v, t) => v - part(backtestFit, t)),
    },
    restore: (f) => ({
      ...f,
      folds: f.folds.map((fold, k) => fold.map((v, h) => v + part(backtestFit, f.origins[k] + h))),
      final: f.final.map((v, h) => v + part(finalFit, n + h)),
    }),
  };
}

/** The global network's precomputed forecasts as a candidate: by the length of the history it is asked about. */
function globalCandidate(g: GlobalSeriesForecasts, trainLength: number): ForecastFn {
  return (t, h) => {
    const f = t.length === trainLength ? g.final : g.folds[g.origins.indexOf(t.length)];
    if (!f || f.length !== h)
      throw new Error(
        g.noBacktest !== undefined
          ? `no backtest for the global network: ${g.noBacktest}`
          : `the global network has no forecast from origin ${t.length}`,
      );
    return Promise.resolve([...f]);
  };
}

/**
 * One series through the single-series pipeline of `recur forecast` (the same checks, defaults and options): backtest
 * choice on the training part, final fit, conformal intervals, and with a hold-out every method's scores on it. With
 * the global network among the candidates, `global` holds its forecasts for this series (computed for the whole panel
 * beforehand, honestly: see global.ts), or `globalError` why there are none.
 */
export async function forecastPanelSeries(
  id: string,
  series: TimeSeries,
  o: PanelSettings,
  global?: GlobalSeriesForecasts,
  globalError?: string,
  /** With `keep`, saves the chosen forecaster's networks (by member name) and says where. */
  saveNetworks?: (s: SavedSeries, networks: ReadonlyMap<string, RNNForecaster>) => SavedNetworkRef[],
): Promise<SeriesForecast> {
  const t0 = Date.now();
  const plan = panelSeriesPlan(id, series, o);
  const { season, horizon, holdout, train } = plan;
  const lookback = o.lookback ?? (season > 1 ? 2 * season : 12);
  const notes: string[] = [];
  let method: PanelMethod = o.method;
  if (method === 'hybrid' && season < 2) {
    notes.push(`the hybrid needs a season ≥ 2 (season ${season}); using --method network`);
    method = 'network';
  }
  for (const [flag, on] of [
    ['--log', o.network.log],
    [`--transform ${o.transform}`, o.transform === 'log' || o.transform === 'box-cox'],
  ] as const)
    if (on) {
      const i = series.values.findIndex((v) => !(v > 0));
      if (i >= 0)
        throw new SeriesInputError(`${flag} needs values > 0, got ${series.values[i]} at ${series.dates[i]}`);
    }
  const differencing: Differencing =
    o.network.differencing === 'seasonal' && season <= 1 ? 'first' : o.network.differencing;
  const net: NetworkOptions = { ...o.network, method: 'network', season, horizon, lookback, differencing };
  const trainEnd = series.values.length - holdout;
  const wanted: PanelCandidate[] =
    method === 'auto' || method === COMBINATION
      ? o.candidates
      : method === GLOBAL
        ? [GLOBAL]
        : method in PANEL_MEANS
          ? [...PANEL_MEANS[method]]
          : [method as CandidateName];
  const globalFns = new Map<string, ForecastFn>();
  const cov = series.covariates;
  // With covariates the global network forecast the regression's residual (globalInput): it is 'global + x'.
  const globalName = cov ? withRegressorsName(GLOBAL) : GLOBAL;
  if (wanted.includes(GLOBAL)) {
    const why = globalError ?? 'the global network was not trained';
    if (global) globalFns.set(globalName, globalCandidate(global, train.length));
    else if (method === GLOBAL) throw new Error(`the global network has no forecast for this series: ${why}`);
    else if (method in PANEL_MEANS) {
      // A mean without its network (a panel too short to train it): the choice by backtest among the rest.
      notes.push(`global: skipped: ${why}; ${method} falls back to auto over the rest`);
      method = 'auto';
    } else notes.push(`global: skipped: ${why}`);
  }
  const candidates = wanted.filter((c): c is CandidateName => c !== GLOBAL);
  // A fixed global method or mean: its version with the covariates when there are some.
  const fixed =
    method === GLOBAL || method in PANEL_MEANS ? (cov ? withRegressorsName(method) : method) : undefined;
  // Covariates: the training part's rows and, with no hold-out, the known future's (the hold-out's otherwise).
  const x = covariateRows(series, plan);
  if (cov && holdout > 0 && cov.futureDates.length > 0)
    notes.push(`the ${cov.futureDates.length} row(s) after the last value are not forecast with a hold-out`);
  // Every fixed mean whose members are candidates is scored (and can be chosen by auto); with covariates, also each
  // mean with its per-series members on them (the global network sees the series only).
  const meanMembers = Object.entries(PANEL_MEANS).filter(([, ms]) => ms.every((m) => wanted.includes(m)));
  const meansUsed: Record<string, readonly string[]> = Object.fromEntries([
    ...meanMembers,
    ...(x
      ? meanMembers.map(([name, ms]) => [withRegressorsName(name), ms.map((m) => withRegressorsName(m))])
      : []),
  ]);
  const seasons =
    o.seasons ??
    (o.season === undefined && series.frequency ? seasonsOfFrequency(series.frequency) : [season]);
  const res = await autoForecast(train, {
    horizon,
    season,
    seasons,
    method: fixed !== undefined ? 'auto' : (method as MethodChoice),
    candidates,
    extra: globalFns,
    means: meansUsed,
    ...(x ? { regressors: x } : {}),
    ...(fixed !== undefined ? { fixed } : {}),
    folds: o.folds,
    step: o.step,
    levels: o.levels,
    network: net,
    transform: o.transform,
    threads: 1,
    fitAll: holdout > 0,
  });
  if (res.noBacktest)
    notes.push(`no backtest: ${res.noBacktest}${method === 'auto' ? '; auto uses theta' : ''}`);
  if (res.backtest) for (const [name, why] of res.backtest.skipped) notes.push(`${name}: skipped: ${why}`);
  // After the reasons above, which it points to.
  if (fixed !== undefined && res.chosen !== fixed)
    notes.push(`${fixed} did not run in the backtest (see above); using the backtest's best, ${res.chosen}`);
  notes.push(...res.notes);
  for (const [name, why] of res.failed) notes.push(`${name}: failed on the training part: ${why}`);
  const forecasts = res.forecasts;
  // The global network is scored on the hold-out even when it had no backtest (so was not a candidate there).
  if (holdout > 0 && global && !forecasts.has(globalName) && wanted.includes(GLOBAL))
    forecasts.set(globalName, [...global.final]);
  const extra = holdout > 0 ? o.baselines.filter((b) => !forecasts.has(b)) : [];
  if (extra.length > 0) {
    const r = await baselineForecasts(train, horizon, season, extra);
    for (const [name, f] of r.forecasts) forecasts.set(name, f);
    for (const [name, why] of r.skipped) notes.push(`${name}: skipped: ${why}`);
  }
  const dates = holdout > 0 ? series.dates.slice(trainEnd) : labelsAfter(series, horizon);
  const out: SeriesForecast = {
    id,
    points: series.values.length,
    ...(series.frequency ? { frequency: series.frequency } : {}),
    season,
    horizon,
    method: res.chosen,
    ...(res.chosen === COMBINATION ? { combination: res.backtest!.combination } : {}),
    dates,
    forecast: res.point,
    intervals: res.intervals.map((iv) => ({ level: iv.level * 100, lower: iv.lower, upper: iv.upper })),
    notes,
    ...(cov
      ? {
          regressors: regressionSummary(
            cov.names,
            res.chosen === COMBINATION
              ? res.backtest!.combination
              : res.chosen in meansUsed
                ? [...meansUsed[res.chosen]]
                : [res.chosen],
            res.regressions,
            (m) => res.backtest?.results.get(m)?.mean.mase ?? Infinity,
          ),
        }
      : {}),
    ...(res.backtest
      ? {
          backtest: Object.fromEntries(
            [...res.backtest.results].map(([name, r]) => [
              name,
              {
                mase: r.mean.mase,
                smape: r.mean.smape,
                folds: r.folds.map((f) => ({ mase: f.mase, smape: f.smape })),
              },
            ]),
          ),
        }
      : {}),
    seconds: 0,
  };
  if (o.keep) {
    // 'global + x': the regression whose residual the final global network forecast (globalInput's, refitted alike).
    const globalFit =
      x && res.members.includes(globalName) ? regressionIfFits(train, x, regressionLag(season)) : null;
    const k = savedSeriesOf(id, res, train, {
      season,
      seasons,
      horizon,
      ...(series.frequency ? { frequency: series.frequency } : {}),
      ...(globalFit ? { globalRegression: { name: globalName, fit: globalFit } } : {}),
    });
    if (k.networks.size > 0 && !saveNetworks)
      throw new Error(`no place to save the networks of series ${JSON.stringify(id)}`);
    out.saved = { ...k.series, networks: k.networks.size > 0 ? saveNetworks!(k.series, k.networks) : [] };
  }
  if (holdout > 0) {
    const actual = series.values.slice(trainEnd);
    out.actual = actual;
    out.metrics = Object.fromEntries(
      [...forecasts].map(([name, f]) => [name, metrics(actual, f, train, season)] as const),
    );
    out.heldOutIntervals = res.intervals.map((iv) => ({
      level: iv.level * 100,
      coverage: actual.filter((a, i) => a >= iv.lower[i] && a <= iv.upper[i]).length / actual.length,
      winkler:
        actual.reduce((s, a, i) => s + winkler(iv.lower[i], iv.upper[i], a, iv.level), 0) / actual.length,
    }));
  }
  out.seconds = (Date.now() - t0) / 1000;
  return out;
}

/** The name of the chosen method's row in the aggregate. */
export const DEFAULT_ROW = 'default';

export interface AggregateRow {
  /** DEFAULT_ROW for the chosen method of each series, else a method's name. */
  method: string;
  /** Series with a finite score for this method. */
  series: number;
  smape: number;
  mase: number;
  /** The default's means on the same series (absent on the default's own row). */
  defaultSmape?: number;
  defaultMase?: number;
  /** How many series chose this method. */
  chosen: number;
}

export interface PanelSummary {
  series: number;
  forecast: number;
  failed: number;
  /** Series with hold-out scores. */
  scored: number;
  rows: AggregateRow[];
  /** Mean held-out coverage and Winkler score of the default's intervals, per level (percent). */
  coverage: { level: number; series: number; coverage: number; winkler: number }[];
  /** Mean wall seconds per forecast series. */
  meanSeconds: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The aggregate over series, the shape of the M3 bench's table: the default (each series' chosen method) and every
 * other method scored on the hold-out, each with the default's mean on the same series; a score that is not finite
 * (the MASE of a series whose training part is constant) leaves that series out of that method's row.
 */
export function summarizePanel(outcomes: readonly SeriesOutcome[]): PanelSummary {
  const done = outcomes.filter((r): r is SeriesForecast => !isFailure(r));
  const scored = done.filter((r) => r.metrics !== undefined);
  const methods: string[] = [];
  for (const r of scored) for (const m of Object.keys(r.metrics!)) if (!methods.includes(m)) methods.push(m);
  const usable = (m: Metrics | undefined): m is Metrics =>
    m !== undefined && Number.isFinite(m.smape) && Number.isFinite(m.mase);
  const rows: AggregateRow[] = [];
  const own = scored.filter((r) => usable(r.metrics![r.method]));
  if (own.length > 0)
    rows.push({
      method: DEFAULT_ROW,
      series: own.length,
      smape: mean(own.map((r) => r.metrics![r.method].smape)),
      mase: mean(own.map((r) => r.metrics![r.method].mase)),
      chosen: own.length,
    });
  for (const m of methods) {
    const rs = scored.filter((r) => usable(r.metrics![m]) && usable(r.metrics![r.method]));
    if (rs.length === 0) continue;
    rows.push({
      method: m,
      series: rs.length,
      smape: mean(rs.map((r) => r.metrics![m].smape)),
      mase: mean(rs.map((r) => r.metrics![m].mase)),
      defaultSmape: mean(rs.map((r) => r.metrics![r.method].smape)),
      defaultMase: mean(rs.map((r) => r.metrics![r.method].mase)),
      chosen: done.filter((r) => r.method === m).length,
    });
  }
  // Chosen methods never scored on a hold-out (holdout 0) still count.
  if (scored.length === 0)
    for (const r of done) {
      const row = rows.find((x) => x.method === r.method);
      if (row) row.chosen++;
      else rows.push({ method: r.method, series: 0, smape: NaN, mase: NaN, chosen: 1 });
    }
  const levels = [...new Set(scored.flatMap((r) => (r.heldOutIntervals ?? []).map((i) => i.level)))].sort(
    (a, b) => a - b,
  );
  const coverage = levels.map((level) => {
    const iv = scored.flatMap((r) => (r.heldOutIntervals ?? []).filter((i) => i.level === level));
    return {
      level,
      series: iv.length,
      coverage: mean(iv.map((i) => i.coverage)),
      winkler: mean(iv.map((i) => i.winkler)),
    };
  });
  return {
    series: outcomes.length,
    forecast: done.length,
    failed: outcomes.length - done.length,
    scored: scored.length,
    rows,
    coverage,
    meanSeconds: done.length ? mean(done.map((r) => r.seconds)) : 0,
  };
}
