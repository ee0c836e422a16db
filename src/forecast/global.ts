/**
 * One recurrent network for a whole panel ("global" model, as ES-RNN and N-BEATS): trained on windows pooled from
 * every series, so that short series borrow what the long ones teach. Each series is brought to a common scale first:
 * seasonally adjusted by the classical multiplicative decomposition Theta uses (fitted on the data the model may see),
 * logged when positive, and every window is expressed relative to its last value (ES-RNN/N-BEATS' level scaling), so
 * a window of any series looks like a window of any other. The network reads the lookback window (left-padded, with a
 * 0/1 "present" feature, when the history is shorter: a short series is never refused) plus the position in the season
 * of each step, and outputs all `horizon` steps at once (direct). Mean absolute error in log space ≈ relative error,
 * the quantity sMAPE and MASE reward.
 *
 * Honest validation (panelGlobalForecasts): the model that scores a series' backtest folds is trained on every series
 * cut at its first fold origin, so it never sees a fold's targets; a second model, trained on the whole training
 * parts, makes the final forecasts. Neither ever sees what follows a training part. Browser-safe; deterministic for a
 * seed.
 */
import { Tensor } from '../core/tensor.js';
import { Dense } from '../layers/index.js';
import { recurrentLayer, type CellType } from '../layers/recurrent_factory.js';
import { Adam } from '../models/optimizers.js';
import { Sequential } from '../models/sequential.js';
import { GLOBAL_DEFAULTS } from './defaults.js';
import { fitStoppingOnNaN } from './network.js';
import { adjust, fitSeasonalAdjustment, reseasonalize, type SeasonalAdjustment } from './seasonality.js';

export { GLOBAL_DEFAULTS };

export interface GlobalOptions {
  season: number;
  horizon: number;
  /** Input window (points); shorter histories are left-padded. */
  lookback: number;
  cell: CellType;
  units: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Ensemble members (each a full model); their forecasts are averaged (median-free: the mean in log space). */
  seeds: number[];
  /** The most recent training windows taken from each series (default: all of them). */
  windowsPerSeries: number;
  /** The fewest points a window's history may have. */
  minHistory: number;
}

/** The defaults for a season and horizon: two seasons (or the horizon, if longer) of lookback. */
export function globalOptions(
  season: number,
  horizon: number,
  o: Partial<GlobalOptions> = {},
): GlobalOptions {
  return {
    season,
    horizon,
    lookback: o.lookback ?? Math.max(2 * Math.max(1, season), horizon, 8),
    cell: o.cell ?? GLOBAL_DEFAULTS.cell,
    units: o.units ?? GLOBAL_DEFAULTS.units,
    epochs: o.epochs ?? GLOBAL_DEFAULTS.epochs,
    batchSize: o.batchSize ?? GLOBAL_DEFAULTS.batchSize,
    learningRate: o.learningRate ?? GLOBAL_DEFAULTS.learningRate,
    seeds: o.seeds ?? Array.from({ length: GLOBAL_DEFAULTS.seedCount }, (_, i) => i + 1),
    windowsPerSeries: o.windowsPerSeries ?? GLOBAL_DEFAULTS.windowsPerSeries,
    minHistory: o.minHistory ?? Math.max(3, Math.min(Math.max(1, season), 12)),
  };
}

/** Per step of a window: the scaled value, present (1) or padding (0), and the position in the season (sin, cos). */
export const GLOBAL_FEATURES = 4;

/** How a series is put on the common scale: its seasonal adjustment, whether it is logged, and its scale. */
interface SeriesScale {
  adjustment: SeasonalAdjustment;
  log: boolean;
  /** Divisor of the adjusted values when they are not logged (their mean absolute value). */
  scale: number;
}

function fitScale(values: readonly number[], season: number): { s: SeriesScale; z: number[] } {
  const adjustment = fitSeasonalAdjustment(values, season);
  const a = adjust(adjustment, values);
  const log = a.every((v) => v > 0);
  const scale = log ? 1 : a.reduce((t, v) => t + Math.abs(v), 0) / a.length || 1;
  const z = a.map((v) => (log ? Math.log(v) : v / scale));
  return { s: { adjustment, log, scale }, z };
}

/** The network input for the forecast from `origin` of a scaled series z (points before it; left-padded). */
function fillWindow(
  x: Float32Array,
  offset: number,
  z: readonly number[],
  origin: number,
  o: GlobalOptions,
  phase: number | undefined,
): void {
  const L = o.lookback;
  const last = z[origin - 1];
  const m = Math.max(1, o.season);
  for (let k = 0; k < L; k++) {
    const t = origin - L + k;
    const at = offset + k * GLOBAL_FEATURES;
    if (t >= 0) {
      x[at] = z[t] - last;
      x[at + 1] = 1;
    }
    // Position in the season of the step (the calendar's, e.g. the month), when the series' dates give it; series
    // without dates get zeros (a position counted from their own start would mean different months in each).
    if (phase !== undefined && m > 1) {
      const p = ((((t + phase) % m) + m) % m) / m;
      x[at + 2] = Math.sin(2 * Math.PI * p);
      x[at + 3] = Math.cos(2 * Math.PI * p);
    }
  }
}

/** A member's network; `weightsFollow`: its weights are about to be set, so none are drawn. */
export function globalMemberModel(o: GlobalOptions, seed: number, weightsFollow = false): Sequential {
  const model = new Sequential({ seed, name: 'global_forecaster', weightsFollow });
  model.add(recurrentLayer(o.cell, { units: o.units, inputShape: [o.lookback, GLOBAL_FEATURES] }));
  model.add(new Dense({ units: o.horizon }));
  model.compile({ optimizer: new Adam({ learningRate: o.learningRate }), loss: 'meanAbsoluteError' });
  return model;
}

/** A stretch of one series the global model sees: its values and, if its dates give it, the season position of the
 * first value (0 = the season's first period, e.g. January). */
export interface GlobalPart {
  values: readonly number[];
  phase?: number;
}

/**
 * The training windows of a panel: from each series, its `windowsPerSeries` most recent forecast origins. `alloc`
 * makes the arrays (shared memory, when worker threads train on them).
 */
export function globalWindows(
  parts: readonly GlobalPart[],
  o: GlobalOptions,
  alloc: (length: number) => Float32Array = (length) => new Float32Array(length),
): { x: Tensor; y: Tensor; count: number } {
  const H = o.horizon;
  const F = o.lookback * GLOBAL_FEATURES;
  const picked: { z: number[]; origin: number; phase?: number }[] = [];
  for (const { values, phase } of parts) {
    if (values.length < o.minHistory + H) continue;
    const { z } = fitScale(values, o.season);
    const first = Math.max(o.minHistory, z.length - H - o.windowsPerSeries + 1);
    for (let origin = first; origin <= z.length - H; origin++) picked.push({ z, origin, phase });
  }
  const n = picked.length;
  const x = alloc(n * F);
  const y = alloc(n * H);
  picked.forEach(({ z, origin, phase }, i) => {
    fillWindow(x, i * F, z, origin, o, phase);
    for (let h = 0; h < H; h++) y[i * H + h] = z[origin + h] - z[origin - 1];
  });
  return { x: new Tensor(x, [n, o.lookback, GLOBAL_FEATURES]), y: new Tensor(y, [n, H]), count: n };
}

/** Progress of a global fit: member (0-based) of `members`, epoch (1-based) of `epochs`, the epoch's loss. */
export type GlobalProgress = (p: {
  stage: string;
  member: number;
  members: number;
  epoch: number;
  epochs: number;
  loss: number;
}) => void;

/** One ensemble member's training: plain data, so that it can be sent to a worker thread. */
export interface GlobalMemberJob {
  options: GlobalOptions;
  seed: number;
  /** The windows of globalWindows: `count` × lookback × GLOBAL_FEATURES inputs, `count` × horizon targets. */
  x: Float32Array;
  y: Float32Array;
  count: number;
}

/** Trains a member; `onEpoch` hears each epoch's loss (1-based epoch). */
export type GlobalMemberTrainer = (
  job: GlobalMemberJob,
  onEpoch: (epoch: number, loss: number) => void,
) => Promise<Sequential>;

/** Trains a member in this thread (single-threaded, so its weights are the same wherever it runs). */
export async function trainGlobalMember(
  job: GlobalMemberJob,
  onEpoch: (epoch: number, loss: number) => void,
): Promise<Sequential> {
  const o = job.options;
  const m = globalMemberModel(o, job.seed);
  await fitStoppingOnNaN(
    m,
    new Tensor(job.x, [job.count, o.lookback, GLOBAL_FEATURES]),
    new Tensor(job.y, [job.count, o.horizon]),
    { epochs: o.epochs, batchSize: o.batchSize, threads: 1 },
    { onEpochEnd: (epoch, logs) => onEpoch(epoch + 1, Number(logs.loss)) },
    'the global network',
  );
  return m;
}

/** A global network fitted on a panel's training parts. */
export class GlobalForecaster {
  readonly models: Sequential[] = [];
  windows = 0;

  constructor(readonly opts: GlobalOptions) {
    if (!(opts.lookback >= 1)) throw new Error(`lookback must be ≥ 1, got ${opts.lookback}`);
    if (!(opts.horizon >= 1)) throw new Error(`horizon must be ≥ 1, got ${opts.horizon}`);
    if (opts.seeds.length === 0) throw new Error('the global network needs at least one seed');
  }

  /**
   * Fits every ensemble member on windows of `parts` (each series' data the model may see, nothing after it): one
   * after another in this thread, or all at once through `train` (src/node/global_pool.ts: worker threads).
   */
  async fit(
    parts: readonly GlobalPart[],
    onEpoch?: GlobalProgress,
    stage = 'fit',
    train?: GlobalMemberTrainer,
  ): Promise<void> {
    // Members trained elsewhere read the windows from shared memory rather than each getting a copy.
    const shared =
      train && typeof SharedArrayBuffer === 'function'
        ? (length: number) => new Float32Array(new SharedArrayBuffer(4 * length))
        : undefined;
    const { x, y, count } = globalWindows(parts, this.opts, shared);
    if (count === 0)
      throw new Error(
        `no series is long enough for a training window (each needs ${this.opts.minHistory + this.opts.horizon} points)`,
      );
    this.windows = count;
    this.models.length = 0;
    const o = this.opts;
    const job = (seed: number): GlobalMemberJob => ({ options: o, seed, x: x.data, y: y.data, count });
    const progress =
      (member: number) =>
      (epoch: number, loss: number): void =>
        onEpoch?.({ stage, member, members: o.seeds.length, epoch, epochs: o.epochs, loss });
    if (train) {
      this.models.push(...(await Promise.all(o.seeds.map((seed, k) => train(job(seed), progress(k))))));
      return;
    }
    for (const [member, seed] of o.seeds.entries())
      this.models.push(await trainGlobalMember(job(seed), progress(member)));
  }

  /**
   * Forecasts the `horizon` points after each history (one row per history; the histories may be cut from longer
   * series: only the points given are seen). Each history's adjustment and scale are fitted on that history.
   */
  predict(histories: readonly GlobalPart[]): number[][] {
    if (this.models.length === 0) throw new Error('the global network is not fitted');
    const o = this.opts;
    const H = o.horizon;
    const F = o.lookback * GLOBAL_FEATURES;
    const scaled = histories.map(({ values }) => {
      if (values.length < 2)
        throw new Error(`a history of ${values.length} point(s) is too short for the global network`);
      return fitScale(values, o.season);
    });
    const x = new Float32Array(histories.length * F);
    scaled.forEach(({ z }, i) => fillWindow(x, i * F, z, z.length, o, histories[i].phase));
    const input = new Tensor(x, [histories.length, o.lookback, GLOBAL_FEATURES]);
    const sums = histories.map(() => new Array<number>(H).fill(0));
    for (const m of this.models) {
      const out = m.predict(input, { batchSize: 256 }).data;
      for (let i = 0; i < histories.length; i++)
        for (let h = 0; h < H; h++) sums[i][h] += out[i * H + h] / this.models.length;
    }
    return scaled.map(({ s, z }, i) => {
      const last = z[z.length - 1];
      const f = sums[i].map((d) => (s.log ? Math.exp(last + d) : (last + d) * s.scale));
      const out = reseasonalize(s.adjustment, z.length, f);
      if (out.some((v) => !Number.isFinite(v)))
        throw new Error('the global network produced a non-finite forecast');
      return out;
    });
  }
}

/** One series of a panel for the global model: its training part and the origins of its backtest folds. */
export interface GlobalSeriesInput {
  train: readonly number[];
  /** Season position of train[0], when the dates give it. */
  phase?: number;
  /** Fold origins (indices into train), ascending; empty when the series has no backtest. */
  origins: readonly number[];
  /**
   * What the backtest model is trained on and forecasts the folds from, when it differs from `train` (a series with
   * covariates: the residual of a regression fitted before the first origin; panel.ts).
   */
  backtestTrain?: readonly number[];
}

/** The global model's forecasts for one series: per fold origin (the backtest) and after the training part. */
export interface GlobalSeriesForecasts {
  origins: number[];
  /** One forecast per origin; empty when the backtest model could not be trained (see `noBacktest`). */
  folds: number[][];
  final: number[];
  /** Why there are no fold forecasts, if there are none. */
  noBacktest?: string;
}

/**
 * The global network's backtest and final forecasts for a panel, honestly: the backtest model is fitted on each
 * series cut at its first fold origin (no fold's target is seen), then forecasts every fold from the history before
 * that fold's origin; the final model is fitted on the whole training parts.
 */
export async function panelGlobalForecasts(
  items: readonly GlobalSeriesInput[],
  o: GlobalOptions,
  onEpoch?: GlobalProgress,
  train?: GlobalMemberTrainer,
): Promise<{
  forecasts: GlobalSeriesForecasts[];
  backtestWindows: number;
  finalWindows: number;
  /** The model of the final forecasts (to save it). */
  model: GlobalForecaster;
}> {
  const withFolds = items.filter((s) => s.origins.length > 0);
  const folds: number[][][] = items.map(() => []);
  let backtestWindows = 0;
  const cut = items.map((s) => ({
    values: (s.backtestTrain ?? s.train).slice(0, s.origins.length > 0 ? s.origins[0] : 0),
    phase: s.phase,
  }));
  // The backtest model needs a window whose target ends before some series' first fold origin; a panel of short
  // series may have none: then the global network has no backtest (it is not scored, never scored dishonestly).
  const need = o.minHistory + o.horizon;
  const noBacktest =
    withFolds.length === 0
      ? 'no series has a backtest'
      : cut.some((c) => c.values.length >= need)
        ? undefined
        : `no series has ${need} points before its first backtest origin to train the backtest model on`;
  const bt = noBacktest === undefined ? new GlobalForecaster(o) : undefined;
  const final = new GlobalForecaster(o);
  const whole = items.map((s) => ({ values: s.train, phase: s.phase }));
  // With a trainer, the two models' members all train at once; in this thread, one after the other.
  const fits = [
    (): Promise<void> => bt?.fit(cut, onEpoch, 'backtest', train) ?? Promise.resolve(),
    (): Promise<void> => final.fit(whole, onEpoch, 'final', train),
  ];
  if (train) await Promise.all(fits.map((f) => f()));
  else for (const f of fits) await f();
  if (bt) {
    backtestWindows = bt.windows;
    const jobs: { i: number; history: GlobalPart }[] = [];
    items.forEach((s, i) => {
      for (const origin of s.origins)
        jobs.push({ i, history: { values: (s.backtestTrain ?? s.train).slice(0, origin), phase: s.phase } });
    });
    const fs = bt.predict(jobs.map((j) => j.history));
    jobs.forEach((j, k) => folds[j.i].push(fs[k]));
  }
  const finals = final.predict(whole);
  return {
    forecasts: items.map((s, i) => ({
      origins: [...s.origins],
      folds: folds[i],
      final: finals[i],
      ...(noBacktest !== undefined ? { noBacktest } : {}),
    })),
    backtestWindows,
    finalWindows: final.windows,
    model: final,
  };
}
