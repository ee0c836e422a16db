/**
 * `recur forecast predict DIR CSV` (and `recur forecast CSV --model DIR`): forecasts the saved horizon from the end of
 * new history with a forecaster saved by `recur forecast … --out DIR`, without retraining any network. The new file is
 * read with the layout the forecaster was trained on (id/date/value columns, long or wide) unless flags say otherwise,
 * and checked: the frequency must be the saved one and the history long enough for the lookback. Statistical members
 * are re-estimated on the new history (they are fit-as-you-forecast); networks run as trained. In a panel, an id not
 * seen in training is forecast with the panel's fallback (the global network is global) and its intervals are scaled
 * from the seen series'. A forecaster saved with --regressors reads the same covariate columns, with their known
 * future after each history (the saved horizon's rows); its networks apply the regressions they were trained with. The outputs are `recur forecast`'s: the forecast CSV/JSON with intervals, --json, --chart.
 */
import { writeFileAtomic } from '../node/atomic.js';
import { CountProgress } from '../node/callbacks.js';
import { yieldToSignals } from '../node/terminal_bar.js';
import { formatLike, forecastSvg, terminalChart, type ChartData } from '../forecast/chart.js';
import type { GlobalForecaster } from '../forecast/global.js';
import { labelsAfter, seasonPhase, type SeriesForecast } from '../forecast/panel.js';
import {
  regressionIfFits,
  regressionLag,
  regressionResidual,
  withRegressionPart,
  type RegressionFit,
} from '../forecast/regressors.js';
import {
  forecastSaved,
  minHistory,
  savedIntervals,
  scaledWidths,
  usesCovariates,
  type SavedInterval,
  type SavedSeries,
} from '../forecast/saved.js';
import { datesAfter, SeriesInputError, type TimeSeries } from '../forecast/series.js';
import {
  globalKey,
  loadForecasterDir,
  type ForecasterManifest,
  type LoadedForecasterDir,
} from '../node/forecaster_io.js';
import {
  asUsage,
  checkOutputFiles,
  filledNote,
  forecastRows,
  futureCovariates,
  parseLevels,
  pct,
  readSeries,
  regressorNames,
  usage,
  writeForecast,
  type ForecastCliOptions,
} from './forecast.js';
import { failureLine, panelRows, readPanel, seriesTable, writeRows } from './forecast_panel.js';
import { UsageError, type Output } from './output.js';

export interface PredictCliOptions extends Pick<
  ForecastCliOptions,
  | 'idColumn'
  | 'wide'
  | 'valueColumn'
  | 'dateColumn'
  | 'output'
  | 'chart'
  | 'json'
  | 'regressors'
  | 'overwrite'
> {
  interpolate?: boolean;
  /** A subset of the saved levels ('80,95'); default: every saved level. */
  level?: string;
}

/** The requested levels (0…1), each one the forecaster was saved with; undefined: all of them. */
function pickLevels(text: string | undefined, saved: readonly number[]): number[] | undefined {
  if (text === undefined) return undefined;
  const levels = parseLevels(text);
  const missing = levels.filter((l) => !saved.some((s) => Math.abs(s - l) < 1e-9));
  if (missing.length > 0)
    throw new UsageError(
      `--level ${missing.map((l) => pct(l)).join(',')}: the forecaster was saved with intervals at ${saved.length ? saved.map((l) => pct(l)).join(', ') : 'no level'} only`,
    );
  return levels;
}

/** A message naming the frequency, or its absence. */
const freq = (f: string | undefined): string => (f ? `${f} dates` : 'no dates');

/** How to give a series the forecaster can take: of its frequency, or (trained on no dates) without dates. */
const sameFrequency = (saved: string | undefined): string =>
  saved
    ? 'forecast series of the same frequency'
    : 'give the series without its date column, as it was trained';

export async function forecastPredict(
  dir: string,
  file: string | undefined,
  o: PredictCliOptions,
  out: Output,
): Promise<number> {
  checkOutputFiles(o, file, [dir]);
  const loaded = usage(() => loadForecasterDir(dir));
  for (const n of loaded.notes) out.note(n);
  const m = loaded.manifest;
  // The training file's layout, unless the flags give one (--id-column or --wide: then the columns are the flags').
  const own = o.idColumn !== undefined || o.wide === true;
  const layout = {
    idColumn: own ? o.idColumn : m.layout.idColumn,
    wide: own ? o.wide === true : m.layout.wide === true,
    valueColumn: own ? o.valueColumn : (o.valueColumn ?? m.layout.valueColumn),
    dateColumn: own ? o.dateColumn : (o.dateColumn ?? m.layout.dateColumn),
    interpolate: o.interpolate === true || m.layout.interpolate,
    // The covariate columns are the training file's: a new file carries them (`--model DIR --regressors` must agree).
    regressors: m.layout.regressors?.join(','),
  };
  if (
    o.regressors !== undefined &&
    regressorNames(o.regressors).join(',') !== (m.layout.regressors ?? []).join(',')
  )
    throw new UsageError(
      `--regressors ${o.regressors}: the forecaster was saved ${m.layout.regressors ? `with regressors ${m.layout.regressors.join(',')}` : 'without regressors'}; leave --regressors out (the saved ones are read)`,
    );
  if (m.kind === 'panel') {
    if (o.chart) throw new UsageError('--chart draws one series; it cannot be used with a panel forecaster');
    if (!file)
      throw new UsageError(`${dir} holds a panel forecaster: give the CSV of the series to forecast`);
    return predictPanel(loaded, file, { ...o, ...layout }, out);
  }
  if (layout.idColumn !== undefined || layout.wide)
    throw new UsageError(
      `${dir} holds a single-series forecaster; --id-column and --wide read many series (save a panel forecaster with them)`,
    );
  const s = m.series[0];
  const networks = loaded.networks.get(s.id) ?? new Map();
  let series: TimeSeries;
  let label: string;
  if (file) {
    ({ series, label } = readSeries(file, layout));
    if (series.otherColumns)
      out.note(
        `${label} has other numeric columns (${series.otherColumns.join(', ')}); forecasting '${series.name}', the last — give --value-column to pick one`,
      );
  } else {
    if (usesCovariates(s))
      throw new UsageError(
        `${dir} forecasts with regressors ${m.layout.regressors!.join(', ')}: give a CSV with the history, its regressors and their values on the ${s.horizon} row(s) after the last value`,
      );
    series = { ...m.history!, name: s.id, ...(s.frequency ? { frequency: s.frequency } : {}) };
    label = `${dir} (the history it was fitted on)`;
  }
  // A version-1 directory records no frequency: loadForecasterDir takes it from the dates of its saved history, as the
  // training run took it from the file's, so it is checked as version 2 is (none for a history labelled t1, t2, …).
  if ((series.frequency ?? undefined) !== (s.frequency ?? undefined))
    throw new UsageError(
      `${label}: has ${freq(series.frequency)}, but the forecaster was trained on ${freq(s.frequency)}; ${sameFrequency(s.frequency)}`,
    );
  const need = minHistory(s, networks);
  asUsage(() => {
    if (series.values.length < need)
      throw new SeriesInputError(
        `${label}: ${series.values.length} points are too few for this forecaster: it needs at least ${need} (two seasons of ${s.season}${need > Math.max(2 * s.season, 8) ? ' and the networks’ lookback' : ''})`,
      );
  });
  const levels = pickLevels(
    o.level,
    s.intervals.map((w) => w.level),
  );
  const covariates = usesCovariates(s) ? futureCovariates(series, s.horizon, label, true) : undefined;
  out.info(
    `${label}: ${series.values.length} ${series.frequency ?? 'undated'} points (${series.dates[0]} … ${series.dates[series.dates.length - 1]}${filledNote(series)}); saved ${s.method} forecaster of ${dir}${loaded.version === 1 ? ' (version 1)' : ''}, horizon ${s.horizon}: networks as trained${covariates ? ' (with their regressions)' : ''}, statistical methods re-estimated on this history${covariates ? `; regressors ${m.layout.regressors!.join(', ')}` : ''}`,
  );
  // A failure here is the input's: exit 2.
  const { point } = await usage(() => forecastSaved(s, series.values, networks, undefined, covariates));
  const intervals = savedIntervals(s.intervals, point, levels);
  if (s.intervals.length === 0) out.note('this forecaster was saved without calibrated intervals');
  const dates = datesAfter(series.dates, s.horizon, series.frequency);
  const rows = forecastRows(dates, point, intervals, null);
  if (o.output) writeForecast(o.output, rows);
  const band = intervals[intervals.length - 1];
  const chart: ChartData = {
    title: `${series.name}: saved ${s.method} forecast${band ? ` with its ${pct(band.level)}% interval` : ''}`,
    dates: series.dates,
    values: series.values,
    start: series.values.length,
    forecast: point,
    lower: band?.lower ?? point,
    upper: band?.upper ?? point,
    frequency: series.frequency,
    label: `${s.method} forecast`,
  };
  if (o.chart) writeFileAtomic(o.chart, await forecastSvg(chart));
  if (o.json)
    out.json({
      series: label,
      ...(series.frequency ? { frequency: series.frequency } : {}),
      method: s.method,
      members: s.members.map((x) => x.name),
      ...(covariates ? { regressors: m.layout.regressors } : {}),
      season: s.season,
      horizon: s.horizon,
      dates,
      forecast: point,
      intervals: intervals.map((iv) => ({ level: iv.level * 100, lower: iv.lower, upper: iv.upper })),
    });
  else {
    out.info('\n' + terminalChart(chart, 36, process.stderr.isTTY === true));
    // Decimals for the forecast's size: two printed a series of rates as 0.04 … 0.04.
    const f = formatLike([...point, ...intervals.flatMap((iv) => [...iv.lower, ...iv.upper])]);
    rows.forEach((_, i) =>
      process.stdout.write(
        `${dates[i]}  ${f(point[i])}${intervals.map((iv) => `  ${pct(iv.level)}%: ${f(iv.lower[i])} … ${f(iv.upper[i])}`).join('')}\n`,
      ),
    );
  }
  return 0;
}

/**
 * The regression of a series' 'global + x' member: the one saved with it (a series seen in training; none when its
 * training part was too short for one), or for an unseen series one fitted on its history, as training fitted the
 * seen series' on theirs (globalInput). Null: the network sees the series itself.
 */
function globalRegression(j: {
  saved: SavedSeries;
  seen: boolean;
  series: TimeSeries;
  x?: number[][];
}): RegressionFit | null {
  const m = j.saved.members.find((x) => x.method === 'global');
  if (!m?.covariates || !j.x) return null;
  if (j.seen) return m.regression ?? null;
  return regressionIfFits(j.series.values, j.x, regressionLag(j.saved.season));
}

/** What an unseen series is forecast with: the panel's fallback, season and horizon of the seen series like it. */
function fallbackFor(m: ForecasterManifest, s: TimeSeries): SavedSeries | undefined {
  const like = m.series.find((x) => (x.frequency ?? undefined) === (s.frequency ?? undefined));
  if (!like) return undefined;
  return {
    id: s.name,
    ...(like.frequency ? { frequency: like.frequency } : {}),
    season: like.season,
    horizon: like.horizon,
    method: m.panel!.fallback.method,
    members: m.panel!.fallback.members,
    intervals: [],
    scale: 0,
    points: 0,
  };
}

async function predictPanel(
  loaded: LoadedForecasterDir,
  file: string,
  o: PredictCliOptions,
  out: Output,
): Promise<number> {
  const m = loaded.manifest;
  const panel = readPanel(file, o);
  const savedLevels = [...new Set(m.series.flatMap((s) => s.intervals.map((w) => w.level)))].sort(
    (a, b) => a - b,
  );
  const levels = pickLevels(o.level, savedLevels);
  const byId = new Map(m.series.map((s) => [s.id, s]));
  const fallback = m.panel!.fallback;
  out.info(
    `${file}: ${panel.format} format, ${panel.series.length} series; saved panel forecaster (${m.panel!.method}, ${m.series.length} series) — networks as trained, statistical methods re-estimated on each history; unseen ids: ${fallback.method}${m.layout.regressors ? `; regressors ${m.layout.regressors.join(', ')}` : ''}`,
  );
  // Each series' saved forecaster (its own, or the fallback for an id not seen in training), checked.
  interface Job {
    id: string;
    series: TimeSeries;
    saved: SavedSeries;
    seen: boolean;
    widths: SavedInterval[];
    /** Covariate rows of the history and the horizon, when a member uses them. */
    x?: number[][];
  }
  const jobs: Job[] = [];
  const failures: { id: string; error: string }[] = [];
  let unseen = 0;
  for (const p of panel.series) {
    if (!p.series) {
      failures.push({ id: p.id, error: p.error! });
      continue;
    }
    const own = byId.get(p.id);
    const saved = own ?? fallbackFor(m, p.series);
    if (!saved || (saved.frequency ?? undefined) !== (p.series.frequency ?? undefined))
      throw new UsageError(
        `${file}: series ${JSON.stringify(p.id)} has ${freq(p.series.frequency)}, but the forecaster was trained on ${freq(own?.frequency ?? m.series[0].frequency)}; ${sameFrequency(own?.frequency ?? m.series[0].frequency)}`,
      );
    const need = minHistory(saved, loaded.networks.get(p.id) ?? new Map());
    if (p.series.values.length < need) {
      failures.push({
        id: p.id,
        error: `${p.series.values.length} points are too few for its saved forecaster: it needs at least ${need}`,
      });
      continue;
    }
    let x: number[][] | undefined;
    if (usesCovariates(saved))
      try {
        x = futureCovariates(p.series, saved.horizon, `series ${p.id}`, true);
      } catch (e) {
        failures.push({ id: p.id, error: e instanceof Error ? e.message : String(e) });
        continue;
      }
    if (!own) unseen++;
    const widths = own
      ? own.intervals
      : scaledWidths(
          m.series.filter((x) => x.method === saved.method).length > 0
            ? m.series.filter((x) => x.method === saved.method)
            : m.series,
          p.series.values,
          saved.season,
          saved.horizon,
        );
    jobs.push({ id: p.id, series: p.series, saved, seen: own !== undefined, widths, ...(x ? { x } : {}) });
  }
  if (unseen > 0)
    out.info(
      `${unseen} series not seen in training: forecast with the panel's fallback, ${fallback.method}${fallback.members.some((x) => x.method === 'global') ? ` (the global network is global: it forecasts any series${fallback.members.some((x) => x.method === 'global' && x.covariates) ? ", with a regression fitted on each one's history" : ''})` : ''}, their intervals scaled from the seen series' (median width relative to MASE's scale)`,
    );
  // The global networks' forecasts, one batch per network (as the training run made its final forecasts).
  const globalOf = new Map<Job, number[]>();
  const groups = new Map<string, Job[]>();
  for (const j of jobs)
    if (j.saved.members.some((x) => x.method === 'global')) {
      const key = globalKey(j.saved.season, j.saved.horizon);
      (groups.get(key) ?? groups.set(key, []).get(key)!).push(j);
    }
  for (const [key, group] of groups) {
    const g: GlobalForecaster | undefined = loaded.globals.get(key);
    // forecastSaved then fails these series, each with its reason.
    if (!g) continue;
    // 'global + x': the network forecasts what the series' regression leaves, the regression's part added back.
    const fits = group.map((j) => globalRegression(j));
    const fs = g.predict(
      group.map((j, k) => ({
        values: fits[k] ? regressionResidual(fits[k], j.series.values, j.x!) : j.series.values,
        phase: seasonPhase(j.series, j.saved.season),
      })),
    );
    group.forEach((j, k) => {
      const fit = fits[k];
      globalOf.set(j, fit ? withRegressionPart(fit, fs[k], j.x!, j.series.values.length) : fs[k]);
    });
  }
  const results: SeriesForecast[] = [];
  // Re-estimating each series' statistical methods takes a while over thousands of series: a bar on a terminal.
  const progress = new CountProgress(
    jobs.length,
    'series',
    process.stderr,
    out.progress && jobs.length > 1 && process.stderr.isTTY === true,
  );
  let lastBreak = Date.now();
  for (const j of jobs) {
    const t0 = Date.now();
    try {
      const { point } = await forecastSaved(
        j.saved,
        j.series.values,
        loaded.networks.get(j.id) ?? new Map(),
        globalOf.get(j),
        j.x,
      );
      const intervals = savedIntervals(j.widths, point, levels);
      const r: SeriesForecast = {
        id: j.id,
        points: j.series.values.length,
        ...(j.series.frequency ? { frequency: j.series.frequency } : {}),
        season: j.saved.season,
        horizon: j.saved.horizon,
        method: j.saved.method,
        dates: labelsAfter(j.series, j.saved.horizon),
        forecast: point,
        intervals: intervals.map((iv) => ({ level: iv.level * 100, lower: iv.lower, upper: iv.upper })),
        notes: j.seen ? [] : [`not seen in training: forecast with ${j.saved.method}, intervals scaled`],
        seconds: (Date.now() - t0) / 1000,
      };
      results.push(r);
      out.json({ ...r, seen: j.seen });
    } catch (e) {
      failures.push({ id: j.id, error: e instanceof Error ? e.message : String(e) });
    }
    progress.add(1);
    // The work is synchronous series after series: let a Ctrl-C end it (and clear the bar) at once.
    if (progress.shown && Date.now() - lastBreak >= 100) {
      await yieldToSignals();
      lastBreak = Date.now();
    }
  }
  progress.stop();
  for (const f of failures) {
    out.error(failureLine(f));
    out.json({ id: f.id, error: f.error });
  }
  const shown = levels ?? savedLevels;
  if (o.output && results.length > 0) {
    const rows = panelRows(panel, results, shown);
    writeRows(o.output, rows, Object.keys(rows[0]));
    out.info(`wrote ${rows.length} forecast rows of ${results.length} series to ${o.output}`);
  }
  if (!o.json && results.length > 0) process.stdout.write(seriesTable(results, shown) + '\n');
  out.info(
    `${results.length} of ${panel.series.length} series forecast (${unseen} not seen in training), ${failures.length} failed`,
  );
  out.json({
    summary: { series: panel.series.length, forecast: results.length, unseen, failed: failures.length },
  });
  return results.length > 0 ? 0 : 1;
}
