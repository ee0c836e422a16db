/**
 * Many series forecast in parallel: each series is independent, so each runs the single-series pipeline
 * (src/forecast/panel.ts) in one of `workers` worker threads (one core each; the forecasters themselves are
 * single-threaded here). Results arrive as each series finishes; an abort signal (Ctrl-C) stops the workers and keeps
 * what finished.
 */
import { Worker } from 'node:worker_threads';
import {
  GlobalForecaster,
  globalOptions,
  panelGlobalForecasts,
  type GlobalProgress,
  type GlobalSeriesForecasts,
} from '../forecast/global.js';
import {
  globalInput,
  needsGlobal,
  panelSeriesPlan,
  type PanelSettings,
  type SeriesOutcome,
} from '../forecast/panel.js';
import type { TimeSeries } from '../forecast/series.js';
import { globalMemberPool } from './global_pool.js';
import type { PanelJob } from './panel_worker.js';

/** What the global network's stage did: one entry per (season, horizon) group of series. */
export interface GlobalStage {
  season: number;
  horizon: number;
  series: number;
  backtestWindows: number;
  finalWindows: number;
  /** Wall and CPU seconds of both fits and all the forecasts (this process). */
  seconds: number;
  cpuSeconds: number;
  error?: string;
}

/**
 * Trains the global network(s) of a panel — one per (season, horizon), since its input and output sizes depend on
 * them — in this thread, or with `threads` > 1 on worker threads (src/node/global_pool.ts; the same forecasts), and
 * returns each series' forecasts (or why it has none). Series whose split fails are left out
 * (their own forecast reports the reason).
 */
export async function globalStage(
  items: readonly { id: string; series: TimeSeries }[],
  settings: PanelSettings,
  onEpoch?: GlobalProgress,
  threads = 1,
  signal?: AbortSignal,
): Promise<{
  forecasts: (GlobalSeriesForecasts | undefined)[];
  errors: (string | undefined)[];
  stages: GlobalStage[];
  models: Map<string, GlobalForecaster>;
}> {
  const forecasts: (GlobalSeriesForecasts | undefined)[] = items.map(() => undefined);
  const errors: (string | undefined)[] = items.map(() => undefined);
  const groups = new Map<string, { index: number; plan: ReturnType<typeof panelSeriesPlan> }[]>();
  items.forEach((it, index) => {
    try {
      const plan = panelSeriesPlan(it.id, it.series, settings);
      const key = `${plan.season}/${plan.horizon}`;
      (groups.get(key) ?? groups.set(key, []).get(key)!).push({ index, plan });
    } catch (e) {
      errors[index] = e instanceof Error ? e.message : String(e);
    }
  });
  const stages: GlobalStage[] = [];
  const models = new Map<string, GlobalForecaster>();
  // Several threads: every member of a group's backtest and final models trains at once, one per worker.
  const pool = threads > 1 && groups.size > 0 ? globalMemberPool(threads, signal) : undefined;
  try {
    for (const group of groups.values()) await trainGroup(group);
  } finally {
    await pool?.close();
  }
  return { forecasts, errors, stages, models };

  async function trainGroup(
    group: { index: number; plan: ReturnType<typeof panelSeriesPlan> }[],
  ): Promise<void> {
    // The network sees the series in the order of their ids, not of the file: reordering rows or columns changes
    // no forecast.
    group.sort((a, b) =>
      items[a.index].id < items[b.index].id ? -1 : items[a.index].id > items[b.index].id ? 1 : 0,
    );
    const { season, horizon } = group[0].plan;
    const t0 = Date.now();
    const c0 = process.cpuUsage();
    const stage: GlobalStage = {
      season,
      horizon,
      series: group.length,
      backtestWindows: 0,
      finalWindows: 0,
      seconds: 0,
      cpuSeconds: 0,
    };
    try {
      // Series with covariates: the network forecasts a regression's residual, the regression added back after.
      const inputs = group.map((g) => globalInput(items[g.index].series, g.plan));
      const r = await panelGlobalForecasts(
        inputs.map((p) => p.input),
        globalOptions(season, horizon, settings.global),
        onEpoch,
        pool?.train,
      );
      group.forEach((g, k) => (forecasts[g.index] = inputs[k].restore(r.forecasts[k])));
      models.set(`${season}x${horizon}`, r.model);
      stage.backtestWindows = r.backtestWindows;
      stage.finalWindows = r.finalWindows;
    } catch (e) {
      stage.error = e instanceof Error ? e.message : String(e);
      for (const g of group) errors[g.index] = stage.error;
    }
    const c = process.cpuUsage(c0);
    stage.seconds = (Date.now() - t0) / 1000;
    stage.cpuSeconds = (c.user + c.system) / 1e6;
    stages.push(stage);
  }
}

export interface PanelRunOptions {
  /** Worker threads (default 1; never more than the series). */
  workers?: number;
  /** Called as each series finishes (in finishing order), with its position in the input. */
  onResult?: (r: SeriesOutcome, index: number) => void;
  /** Stops the run: running series are abandoned, finished ones kept. */
  signal?: AbortSignal;
  /** The global network's training progress (when the settings use it). */
  onGlobalEpoch?: GlobalProgress;
  /** Called when the global network's stage is done, before the series are forecast. */
  onGlobalStage?: (stages: GlobalStage[]) => void;
  /** With settings.keep: the forecaster directory the series' networks are saved in. */
  saveDir?: string;
}

export interface PanelRun {
  /** The outcome of each input series in input order; undefined for those not finished when the run was stopped. */
  outcomes: (SeriesOutcome | undefined)[];
  stopped: boolean;
  /** The global network's stage, when the settings use it. */
  global?: GlobalStage[];
  /** The global networks of the final forecasts, by season and horizon ('12x18'). */
  globalModels?: Map<string, GlobalForecaster>;
}

/**
 * Forecasts every series; resolves when all are done or the signal stops the run. When the settings use the global
 * network, it is trained first (in this thread), then the series fan out with their share of its forecasts.
 */
export async function forecastPanel(
  items: readonly { id: string; series: TimeSeries }[],
  settings: PanelSettings,
  o: PanelRunOptions = {},
): Promise<PanelRun> {
  if (!needsGlobal(settings) || items.length === 0) return fanOut(items, settings, o);
  const g = await globalStage(items, settings, o.onGlobalEpoch, o.workers ?? 1, o.signal);
  o.onGlobalStage?.(g.stages);
  if (o.signal?.aborted)
    return { outcomes: items.map(() => undefined), stopped: true, global: g.stages, globalModels: g.models };
  const run = await fanOut(items, settings, o, g.forecasts, g.errors);
  return { ...run, global: g.stages, globalModels: g.models };
}

function fanOut(
  items: readonly { id: string; series: TimeSeries }[],
  settings: PanelSettings,
  o: PanelRunOptions,
  global?: readonly (GlobalSeriesForecasts | undefined)[],
  globalErrors?: readonly (string | undefined)[],
): Promise<PanelRun> {
  const outcomes: (SeriesOutcome | undefined)[] = new Array<SeriesOutcome | undefined>(items.length);
  const n = Math.max(1, Math.min(o.workers ?? 1, items.length));
  let next = 0;
  let finished = 0;
  const workers = new Set<Worker>();
  return new Promise<PanelRun>((resolve) => {
    let settled = false;
    const end = (stopped: boolean): void => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      for (const w of workers) void w.terminate();
      workers.clear();
      resolve({ outcomes, stopped });
    };
    const onAbort = (): void => end(true);
    if (o.signal?.aborted) return end(true);
    o.signal?.addEventListener('abort', onAbort);
    if (items.length === 0) return end(false);
    const record = (index: number, r: SeriesOutcome): void => {
      if (settled || outcomes[index] !== undefined) return;
      outcomes[index] = r;
      finished++;
      o.onResult?.(r, index);
      if (finished === items.length) end(false);
    };
    const start = (): void => {
      const w = new Worker(new URL('./panel_worker.js', import.meta.url));
      workers.add(w);
      let current = -1;
      const feed = (): void => {
        if (settled) return;
        if (next >= items.length) {
          workers.delete(w);
          void w.terminate();
          return;
        }
        current = next++;
        const job: PanelJob = {
          index: current,
          id: items[current].id,
          series: items[current].series,
          settings,
          ...(global?.[current] ? { global: global[current] } : {}),
          ...(globalErrors?.[current] ? { globalError: globalErrors[current] } : {}),
          ...(o.saveDir !== undefined ? { saveDir: o.saveDir } : {}),
        };
        w.postMessage(job);
      };
      w.on('message', (m: { index: number; result: SeriesOutcome }) => {
        record(m.index, m.result);
        feed();
      });
      // A worker that dies (out of memory, a crash in wasm) fails its series only; a fresh worker takes the rest.
      const died = (why: string): void => {
        if (settled || !workers.has(w)) return;
        workers.delete(w);
        if (current >= 0 && outcomes[current] === undefined)
          record(current, { id: items[current].id, error: `its worker stopped: ${why}` });
        if (!settled && next < items.length) start();
      };
      w.on('error', (e) => died(e.message));
      w.on('exit', (code) => died(`exit code ${code}`));
      feed();
    };
    for (let i = 0; i < n; i++) start();
  });
}
