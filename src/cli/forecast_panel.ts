/**
 * `recur forecast FILE --id-column ID` (long format) or `recur forecast FILE --wide`: many series in one command. Each
 * series runs the single-series pipeline (backtest choice, conformal intervals, hold-out scores) in a worker thread,
 * by default with one global network trained across all the series first (its own progress bar over epochs);
 * a progress bar counts series; the output file holds every series' forecast in long format; the report gives each
 * series' scores and the aggregate over series (the M3 bench's table). A series that cannot be forecast is reported
 * with its reason and the run goes on: exit 0 if any series was forecast, 1 if none; bad input stops it with exit 2.
 */
import { availableParallelism, constants } from 'node:os';
import { progressBar } from '../node/callbacks.js';
import type { TerminalBar } from '../node/terminal_bar.js';
import { COMBINATION } from '../forecast/auto.js';
import { BASELINES, type BaselineName } from '../forecast/baselines.js';
import { FORECAST_DEFAULTS } from '../forecast/network.js';
import {
  DEFAULT_ROW,
  isFailure,
  needsGlobal,
  PANEL_CANDIDATES,
  PANEL_DEFAULT_BASELINES,
  PANEL_DEFAULT_CANDIDATES,
  PANEL_DEFAULT_METHOD,
  PANEL_MEANS,
  PANEL_METHODS,
  type PanelCandidate,
  parsePanelCsv,
  summarizePanel,
  type Panel,
  type PanelSettings,
  type PanelSummary,
  type SeriesFailure,
  type SeriesForecast,
  type SeriesOutcome,
} from '../forecast/panel.js';
import { escapeText, quote, SeriesInputError } from '../forecast/series.js';
import type { Differencing, Scaling } from '../forecast/transforms.js';
import { GLOBAL_DEFAULTS, globalOptions, type GlobalProgress } from '../forecast/global.js';
import { forecastPanel, type GlobalStage } from '../node/forecast_panel.js';
import {
  assertNetworkFits,
  checkBaselinesHoldout,
  checkCandidates,
  claimSaveDir,
  layoutOf,
  parseLevels,
  readCsvText,
  regressorNames,
  regressorsJson,
  savedDirOf,
  seedsOf,
  writeForecast,
  type ForecastCliOptions,
} from './forecast.js';
import {
  globalKey,
  commitForecaster,
  discardStaging,
  saveNetworkMembers,
  stagingDirOf,
  type SavedGlobal,
} from '../node/forecaster_io.js';
import type { GlobalForecaster } from '../forecast/global.js';
import { panelFallback } from '../forecast/saved.js';
import { join } from 'node:path';
import { UsageError, type Output } from './output.js';

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!allowed.includes(v as T))
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got ${quote(v)}`);
  return v as T;
}

/** The run's settings from the flags, checked the way the single-series command checks them. */
export function panelSettings(o: ForecastCliOptions): PanelSettings {
  if (o.chart !== undefined)
    throw new UsageError('--chart works on one series; it cannot be used with --id-column or --wide');
  if (o.holdout !== undefined && o.horizon !== undefined && o.holdout !== 0 && o.holdout !== o.horizon)
    throw new UsageError(`--holdout must be 0 (forecast the future) or equal to --horizon (${o.horizon})`);
  if (o.holdout !== undefined && o.horizon === undefined && o.holdout !== 0)
    throw new UsageError('--holdout other than 0 needs --horizon (the same number) with many series');
  const candidates: PanelCandidate[] =
    o.candidates === undefined
      ? PANEL_DEFAULT_CANDIDATES
      : o.candidates === 'all'
        ? PANEL_CANDIDATES
        : o.candidates.split(',').map((c) => oneOf('--candidates', c.trim(), PANEL_CANDIDATES));
  // Without --method: the default mean when its members are candidates, else the choice by backtest among them.
  const method = oneOf(
    '--method',
    o.method ??
      (o.regressors === undefined &&
      ['ets', 'theta', 'global'].every((c) => candidates.includes(c as PanelCandidate))
        ? PANEL_DEFAULT_METHOD
        : 'auto'),
    PANEL_METHODS,
  );
  checkCandidates(method, candidates, o.candidates !== undefined, o.method !== undefined);
  checkBaselinesHoldout(o.baselines, o.holdout);
  const baselineList = o.baselines ?? PANEL_DEFAULT_BASELINES.join(',');
  const baselines = (
    baselineList === 'none'
      ? []
      : baselineList === 'all'
        ? BASELINES
        : baselineList.split(',').map((b) => oneOf('--baselines', b.trim(), BASELINES))
  ) as BaselineName[];
  return {
    ...(o.season !== undefined ? { season: o.season[0], seasons: o.season } : {}),
    ...(o.horizon !== undefined ? { horizon: o.horizon } : {}),
    ...(o.holdout !== undefined ? { holdout: o.holdout } : {}),
    ...(o.lookback !== undefined ? { lookback: o.lookback } : {}),
    method,
    candidates,
    folds: o.folds,
    ...(o.step !== undefined ? { step: o.step } : {}),
    levels: parseLevels(o.level),
    transform: oneOf('--transform', o.transform, ['none', 'log', 'box-cox', 'auto'] as const),
    network: {
      method: 'network',
      cell: oneOf('--cell', o.cell, ['lstm', 'gru', 'simple-rnn'] as const),
      units: o.units,
      layers: o.layers,
      dropout: o.dropout,
      strategy: oneOf('--strategy', o.strategy, ['direct', 'recursive'] as const),
      epochs: o.epochs ?? FORECAST_DEFAULTS.epochs,
      batchSize: FORECAST_DEFAULTS.batchSize,
      learningRate: FORECAST_DEFAULTS.learningRate,
      seeds: seedsOf(o),
      log: o.log,
      differencing: oneOf('--differencing', o.differencing, ['none', 'first', 'seasonal'] as Differencing[]),
      scaling: oneOf('--scaling', o.scaling, ['standard', 'minmax'] as Scaling[]),
    },
    baselines,
    // The global network: an ensemble of --seeds members (default 3) from --seed (default 1), so one --seed gives one
    // reproducible run; --epochs and --units apply to it only when given (its own defaults otherwise: global.ts), also
    // when they equal the per-series networks' defaults.
    global: {
      seeds: Array.from({ length: o.seeds ?? GLOBAL_DEFAULTS.seedCount }, (_, i) => (o.seed ?? 1) + i),
      ...(o.epochs !== undefined ? { epochs: o.epochs } : {}),
      ...(o.units !== FORECAST_DEFAULTS.units ? { units: o.units } : {}),
    },
    ...(savedDirOf(o) !== undefined ? { keep: true } : {}),
  };
}

export function readPanel(
  file: string | undefined,
  o: Pick<ForecastCliOptions, 'idColumn' | 'wide' | 'dateColumn' | 'valueColumn' | 'regressors'> & {
    interpolate?: boolean;
  },
): Panel {
  if (!file) throw new UsageError('--id-column and --wide need a CSV file of many series');
  const text = readCsvText(file);
  try {
    return parsePanelCsv(text, {
      idColumn: o.idColumn,
      wide: o.wide,
      dateColumn: o.dateColumn,
      valueColumn: o.valueColumn,
      interpolate: o.interpolate,
      source: escapeText(file),
      ...(o.regressors !== undefined ? { regressors: regressorNames(o.regressors) } : {}),
    });
  } catch (e) {
    if (e instanceof SeriesInputError) throw new UsageError(e.message);
    throw e;
  }
}

const pct = (level: number): string => String(Math.round(level * 10) / 10);

/** Long-format forecast rows: id, date, forecast, lower_L/upper_L per level, and the actual when held out. */
export function panelRows(
  panel: Panel,
  results: readonly SeriesForecast[],
  levels: readonly number[],
): Record<string, string | number>[] {
  const dateName = panel.dateName ?? 't';
  const rows: Record<string, string | number>[] = [];
  for (const r of results)
    r.dates.forEach((d, i) => {
      const row: Record<string, string | number> = {
        [panel.idName]: r.id,
        [dateName]: d,
        forecast: r.forecast[i],
      };
      for (const level of levels) {
        const iv = r.intervals.find((x) => Math.abs(x.level - level * 100) < 1e-9);
        row[`lower_${pct(level * 100)}`] = iv ? iv.lower[i] : '';
        row[`upper_${pct(level * 100)}`] = iv ? iv.upper[i] : '';
      }
      if (r.actual) row.actual = r.actual[i];
      rows.push(row);
    });
  return rows;
}

export function writeRows(path: string, rows: Record<string, string | number>[], header: string[]): void {
  writeForecast(path, rows, header);
}

function textTable(head: string[], body: string[][]): string {
  const w = head.map((h, j) => Math.max(h.length, ...body.map((r) => r[j].length)));
  // A row's last cells may be empty (the default's own row has no "default on the same series" or "chosen"): no
  // spaces are left at its end.
  const line = (r: string[]): string =>
    r
      .map((c, j) => (j === 0 ? c.padEnd(w[j]) : c.padStart(w[j])))
      .join('  ')
      .trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...body.map(line)].join('\n');
}

const fixed = (v: number | undefined, d: number): string =>
  v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d);

/** Per-series table: method chosen, hold-out MASE / sMAPE / RMSE, interval coverage per level. */
export function seriesTable(results: readonly SeriesForecast[], levels: readonly number[]): string {
  const held = results.some((r) => r.metrics);
  const head = held
    ? ['series', 'points', 'method', 'MASE', 'sMAPE %', 'RMSE', ...levels.map((l) => `${pct(l * 100)}% cov`)]
    : ['series', 'points', 'method', 'forecast from', 'to'];
  const body = results.map((r) => {
    if (!held) return [r.id, String(r.points), r.method, r.dates[0], r.dates[r.dates.length - 1]];
    const m = r.metrics?.[r.method];
    return [
      r.id,
      String(r.points),
      r.method,
      fixed(m?.mase, 3),
      fixed(m?.smape, 2),
      fixed(m?.rmse, 2),
      ...levels.map((l) => {
        const iv = r.heldOutIntervals?.find((x) => Math.abs(x.level - l * 100) < 1e-9);
        return iv ? `${(100 * iv.coverage).toFixed(0)}%` : '—';
      }),
    ];
  });
  return textTable(head, body);
}

/** The aggregate table: the default and every method on the same series, and how often each was chosen. */
export function aggregateTable(s: PanelSummary): string {
  const head = [
    'method',
    'series',
    'mean sMAPE %',
    'mean MASE',
    'default on the same series (sMAPE / MASE)',
    'chosen',
  ];
  const body = s.rows.map((r) => [
    r.method === DEFAULT_ROW ? 'default (chosen per series)' : r.method,
    String(r.series),
    fixed(r.smape, 2),
    fixed(r.mase, 3),
    r.defaultSmape === undefined ? '' : `${fixed(r.defaultSmape, 2)} / ${fixed(r.defaultMase, 3)}`,
    r.method === DEFAULT_ROW ? '' : String(r.chosen),
  ]);
  return textTable(head, body);
}

/** A series' failure as one line (its id and reason escaped: a newline in either would split it). */
export function failureLine(f: SeriesFailure): string {
  return escapeText(`${f.id}: failed: ${f.error}`);
}

/** The series notes printed after a run of many series (all of them are in --json). */
const MAX_NOTES = 20;

/**
 * A progress bar over series on a terminal (done / total, ETA, series per minute); a line per series otherwise. `t0`
 * is when the series started (made at the first result, the bar would time the first series at zero seconds).
 */
function seriesProgress(
  out: Output,
  total: number,
  t0: number,
): { tick(r: SeriesOutcome, failed: number): void; stop(): void } {
  if (!out.progress) return { tick: () => undefined, stop: () => undefined };
  const rate = (done: number): string => ((60 * done) / Math.max(1e-3, (Date.now() - t0) / 1000)).toFixed(1);
  if (process.stderr.isTTY !== true) {
    let done = 0;
    return {
      tick: (r) => {
        done++;
        out.info(
          `${done}/${total} ${isFailure(r) ? failureLine(r) : `${escapeText(r.id)}: ${r.method}${r.metrics?.[r.method] ? `, MASE ${fixed(r.metrics[r.method].mase, 3)}` : ''}`} (${rate(done)} series/min)`,
        );
      },
      stop: () => undefined,
    };
  }
  const bar = progressBar(
    ' {value}/{total} series [{bar}] ETA {eta_formatted} - {rate} series/min, {failed} failed',
    process.stderr,
    { etaBuffer: 50 },
  );
  bar.start(total, 0, { rate: '0.0', failed: 0 });
  let done = 0;
  return {
    tick: (_r, failed) => {
      done++;
      bar.increment(1, { rate: rate(done), failed });
    },
    stop: () => bar.stop(),
  };
}

/** Progress of the global network's training: a bar over its epochs on a terminal, a line every 5 epochs otherwise. */
function globalProgress(out: Output): { tick(p: Parameters<GlobalProgress>[0]): void; stop(): void } {
  if (!out.progress) return { tick: () => undefined, stop: () => undefined };
  const t0 = Date.now();
  let bar: TerminalBar | undefined;
  let stopped = false;
  // Epochs finished over both models' members (with several threads they train at once, so ticks interleave); each
  // (season, horizon) group of series adds its own two models.
  let done = 0;
  let total = 0;
  return {
    tick: (p) => {
      if (stopped) return;
      if (++done > total) {
        total += 2 * p.members * p.epochs;
        bar?.setTotal(total);
      }
      if (process.stderr.isTTY !== true) {
        if (p.epoch % 5 === 0 || p.epoch === p.epochs)
          out.info(
            `global network, ${p.stage} fit${p.members > 1 ? ` ${p.member + 1}/${p.members}` : ''}: epoch ${p.epoch}/${p.epochs}, loss ${p.loss.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
          );
        return;
      }
      if (!bar) {
        // The name, the counts and the loss before the bar's end, and the speed last: a line too wide for the
        // terminal is cut at its end (after its bar is drawn shorter), and on 80 columns it cut the loss.
        bar = progressBar(
          ' global network ({stage}) {value}/{total} [{bar}] ETA {eta_formatted} - loss {loss} - {speed} epochs/s',
        );
        bar.start(total, 0, { stage: p.stage, loss: '—' });
      }
      bar.update(done, { stage: p.stage, loss: p.loss.toFixed(4) });
    },
    stop: () => {
      stopped = true;
      bar?.stop();
    },
  };
}

/**
 * Refuses (exit 2), before anything trains, networks too big for memory: the per-series networks of `workers` series
 * at once, and the global network's members (trained at once, on windows of up to the longest series).
 */
function refuseNetworksTooBig(
  settings: PanelSettings,
  ready: readonly { series?: { values: readonly number[] } }[],
  workers: number,
): void {
  const longest = ready.reduce((m, s) => Math.max(m, s.series?.values.length ?? 0), 1);
  const isNetwork = (c: string): boolean => c === 'network' || c === 'hybrid';
  const choosing = settings.method === 'auto' || settings.method === COMBINATION;
  if (isNetwork(settings.method) || (choosing && settings.candidates.some(isNetwork)))
    assertNetworkFits(
      { ...settings.network, lookback: settings.lookback, horizon: settings.horizon },
      longest,
      1,
      workers,
    );
  if (needsGlobal(settings)) {
    const g = globalOptions(1, settings.horizon ?? 12, settings.global);
    assertNetworkFits(
      { ...g, layers: 1, dropout: 0, strategy: 'direct', lookback: settings.lookback, horizon: g.horizon },
      longest,
      1,
      1,
    );
  }
}

export async function forecastPanelCommand(
  file: string | undefined,
  o: ForecastCliOptions,
  out: Output,
): Promise<number> {
  const settings = panelSettings(o);
  const saveDir = savedDirOf(o);
  // Ctrl-C or SIGTERM: the workers stop, the finished series are kept, and the run exits 130 or 143. Listening before
  // the lock is taken: a signal while the file is read (which only queues it) must not end the process with the
  // lock left behind.
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals = 'SIGINT';
  const onStop = (signal: NodeJS.Signals): void => {
    stoppedBy = signal;
    out.info(`\nstopping (${signal === 'SIGINT' ? 'Ctrl-C' : signal}): the finished series are kept`);
    controller.abort();
  };
  process.once('SIGINT', onStop);
  process.once('SIGTERM', onStop);
  claimSaveDir(saveDir, o);
  const panel = readPanel(file, o);
  const ready = panel.series.filter((s) => s.series !== undefined);
  const unreadable = panel.series.filter((s) => s.error !== undefined);
  const workers = Math.max(1, Math.min(o.threads ?? availableParallelism(), ready.length));
  if (settings.season === undefined && ready.some((s) => !s.series!.frequency))
    throw new UsageError(
      `${file}: the series have no dates (${panel.indexed ? `${quote(panel.dateName ?? '')} holds positions, not dates` : 'no date column was found'}), so their season is unknown; give --season N (1 for none) or a date column`,
    );
  out.info(
    `${file}: ${panel.format} format, ${panel.series.length} series (${panel.format === 'long' ? `id column '${panel.idName}', ` : ''}${panel.dateName ? `${panel.indexed ? 'index' : 'date'} column '${panel.dateName}'` : 'no date column: in file order'}); method ${settings.method}${settings.method === 'auto' || settings.method === COMBINATION ? ` of ${settings.candidates.join(', ')}` : settings.method in PANEL_MEANS ? ` (the mean of ${PANEL_MEANS[settings.method].join(', ')})` : ''}; ${workers} worker thread(s)`,
  );
  refuseNetworksTooBig(settings, ready, workers);
  const unread: SeriesFailure[] = unreadable.map((s) => ({ id: s.id, error: s.error! }));
  const outcomes: SeriesOutcome[] = [...unread];
  let failed = outcomes.length;
  for (const f of unread) {
    out.error(failureLine(f));
    out.json({ id: f.id, error: f.error });
  }
  const globalBar = globalProgress(out);
  let progress: ReturnType<typeof seriesProgress> | undefined;
  // The series start now, or after the global network's stage when there is one.
  let seriesStart = Date.now();
  let run;
  // The series' networks are saved aside as they finish, and put in place of the old forecaster only at the end.
  const staging = saveDir !== undefined ? stagingDirOf(saveDir) : undefined;
  try {
    run = await forecastPanel(
      ready.map((s) => ({ id: s.id, series: s.series! })),
      settings,
      {
        workers,
        signal: controller.signal,
        ...(staging !== undefined ? { saveDir: staging } : {}),
        onGlobalEpoch: (p) => globalBar.tick(p),
        onGlobalStage: (stages) => {
          globalBar.stop();
          for (const g of stages) {
            out.info(
              g.error
                ? `global network (season ${g.season}, horizon ${g.horizon}, ${g.series} series): failed: ${g.error}`
                : `global network (season ${g.season}, horizon ${g.horizon}, ${g.series} series): trained on ${g.backtestWindows} windows for the backtest and ${g.finalWindows} for the forecasts in ${g.seconds.toFixed(1)} s (${g.cpuSeconds.toFixed(1)} CPU s)`,
            );
            out.json({ global: globalStageJson(g) });
          }
          seriesStart = Date.now();
          progress = seriesProgress(out, ready.length, seriesStart);
        },
        onResult: (r) => {
          progress ??= seriesProgress(out, ready.length, seriesStart);
          if (isFailure(r)) failed++;
          progress.tick(r, failed);
          out.json(isFailure(r) ? { ...r } : seriesForecastJson(r));
        },
      },
    );
  } catch (e) {
    if (staging !== undefined) discardStaging(staging);
    throw e;
  } finally {
    globalBar.stop();
    progress?.stop();
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
  }
  // In input order: the unreadable ones first were reported already; the rest as the file listed them.
  const finished = run.outcomes.filter((r): r is SeriesOutcome => r !== undefined);
  outcomes.push(...finished);
  const results = finished.filter((r): r is SeriesForecast => !isFailure(r));
  const failures = outcomes.filter(isFailure);
  // Failures the progress did not print as they came (a bar on a terminal, or nothing with --quiet), one line each.
  if (!out.progress || process.stderr.isTTY === true)
    for (const f of finished.filter(isFailure)) out.error(failureLine(f));
  // Each series' notes (why the default mean fell back, why there are no intervals, a skipped candidate): the first
  // few, so that many series do not bury the tables; --json gives every one (and each series' line carries its own).
  const notes = results.flatMap((r) => r.notes.map((n) => `${escapeText(r.id)}: ${n}`));
  const shown = o.json ? notes.length : MAX_NOTES;
  for (const n of notes.slice(0, shown)) out.note(n);
  if (notes.length > shown)
    out.note(`… and ${notes.length - shown} more notes (--json gives each series' notes)`);
  if (o.output && results.length > 0) {
    const rows = panelRows(panel, results, settings.levels);
    const header = Object.keys(rows[0]);
    writeRows(o.output, rows, header);
    out.info(`wrote ${rows.length} forecast rows of ${results.length} series to ${o.output}`);
  }
  const summary = summarizePanel(outcomes);
  if (!o.json) {
    if (results.length > 0) process.stdout.write(seriesTable(results, settings.levels) + '\n\n');
    if (summary.rows.length > 0 && summary.scored > 0) {
      process.stdout.write(
        `Held-out scores over ${summary.scored} series (each method fitted on the same training parts):\n` +
          aggregateTable(summary) +
          '\n',
      );
      for (const c of summary.coverage)
        process.stdout.write(
          `${pct(c.level)}% intervals of the default: held-out coverage ${(100 * c.coverage).toFixed(1)}% (${c.series} series), mean Winkler score ${c.winkler.toFixed(2)}\n`,
        );
    }
  }
  const notDone = ready.length - finished.length;
  out.info(
    `${results.length} of ${panel.series.length} series forecast, ${failures.length} failed${run.stopped ? `, ${notDone} not run (stopped)` : ''}; mean ${summary.meanSeconds.toFixed(2)} s per series in its worker`,
  );
  if (saveDir && staging && !run.stopped && results.length > 0)
    savePanel(saveDir, staging, o, settings, results, run.globalModels, out);
  else if (staging !== undefined) discardStaging(staging);
  out.json({ summary: { ...panelSummaryJson(summary), stopped: run.stopped, not_run: notDone } });
  if (run.stopped) return 128 + constants.signals[stoppedBy];
  return results.length > 0 ? 0 : 1;
}

// The library's types are camelCase, as TypeScript's are; what --json prints is snake_case (README, "Machine-readable
// output"). Keys that are the data's names (methods, labels, regressors) stay as they are.

/** The global network's stage as its --json line prints it. */
function globalStageJson(g: GlobalStage): Record<string, unknown> {
  const { backtestWindows, finalWindows, cpuSeconds, error, ...rest } = g;
  return {
    ...rest,
    backtest_windows: backtestWindows,
    final_windows: finalWindows,
    cpu_seconds: cpuSeconds,
    ...(error !== undefined ? { error } : {}),
  };
}

/** A series' forecast as its --json line prints it. */
function seriesForecastJson(r: SeriesForecast): Record<string, unknown> {
  const { heldOutIntervals, regressors, ...rest } = r;
  const json: Record<string, unknown> = {
    ...rest,
    ...(heldOutIntervals ? { held_out_intervals: heldOutIntervals } : {}),
    ...(regressors ? { regressors: regressorsJson(regressors) } : {}),
  };
  // What --out writes into forecaster.json for the series, in that file's own format (levels as fractions):
  // not a result.
  delete json.saved;
  return json;
}

/** The panel's summary as the last --json line prints it. */
function panelSummaryJson(s: PanelSummary): Record<string, unknown> {
  const { rows, meanSeconds, ...rest } = s;
  return {
    ...rest,
    rows: rows.map(({ defaultSmape, defaultMase, ...row }) => ({
      ...row,
      ...(defaultSmape !== undefined ? { default_smape: defaultSmape } : {}),
      ...(defaultMase !== undefined ? { default_mase: defaultMase } : {}),
    })),
    mean_seconds: meanSeconds,
  };
}

/**
 * Saves the panel's forecaster: the global networks of the final forecasts (one per season and horizon), every
 * forecast series' chosen forecaster (its networks were saved by its worker), the fallback for unseen ids, and the
 * manifest last. Series that failed are not saved; predicting them later uses the fallback.
 */
function savePanel(
  dir: string,
  staging: string,
  o: ForecastCliOptions,
  settings: PanelSettings,
  results: readonly SeriesForecast[],
  globalModels: ReadonlyMap<string, GlobalForecaster> | undefined,
  out: Output,
): void {
  const series = results.map((r) => r.saved!);
  const used = new Set(
    series
      .filter((s) => s.members.some((m) => m.method === 'global'))
      .map((s) => globalKey(s.season, s.horizon)),
  );
  const global: SavedGlobal[] = [];
  for (const [key, g] of globalModels ?? []) {
    if (!used.has(key)) continue;
    const rel = `global-${key}`;
    saveNetworkMembers(g.models, join(staging, rel));
    const opts = g.opts;
    global.push({
      dir: rel,
      options: {
        ...opts,
        windowsPerSeries: Number.isFinite(opts.windowsPerSeries) ? opts.windowsPerSeries : null,
      },
    });
  }
  const fallback = panelFallback(series);
  commitForecaster(dir, staging, {
    format: 'recur-forecaster',
    version: 2,
    kind: 'panel',
    saved: new Date().toISOString(),
    layout: layoutOf(o),
    settings: { ...settings, network: undefined, global: undefined, keep: undefined },
    series,
    panel: { method: settings.method, fallback, global },
  });
  out.info(
    `saved the panel's forecaster (${series.length} series${global.length ? `, ${global.length} global network(s)` : ''}; unseen ids: ${fallback.method}) to ${dir}; forecast from new data with 'recur forecast predict ${dir} CSV'`,
  );
}
