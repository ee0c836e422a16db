/**
 * A chosen forecaster as data, to forecast again later from new history without retraining (`recur forecast … --out
 * DIR`, then `recur forecast predict DIR CSV`): the single methods whose mean is its point forecast (one method, or
 * the members of the combination or of a panel's fixed mean), each with its transform; the conformal half-widths
 * calibrated on its backtest; and, for a network member, the fitted network (its weights are saved beside it by
 * src/node/forecaster_io.ts). Forecasting from new history re-estimates the statistical methods on it — ETS, Theta,
 * SARIMA and seasonal naive are fit-as-you-forecast methods — and runs the networks as they were trained. With
 * covariates ('ets + x'), a statistical member re-estimates its regression too; a network member keeps the regression it
 * was trained with (saved with it) and forecasts what it leaves of the new history. Browser-safe.
 */
import { InvalidInputError } from '../core/errors.js';
import { averageForecasts, candidateFns, CANDIDATES, type AutoResult, type CandidateName } from './auto.js';
import { boxCox, invBoxCox, lambdaFor, withTransform, type TransformKind } from './boxcox.js';
import { intervalAround, type Interval } from './conformal.js';
import { maseScale } from './metrics.js';
import { FORECAST_DEFAULTS, type RNNForecaster, type NetworkOptions } from './network.js';
import {
  regressionLag,
  regressionResidual,
  withRegressionPart,
  withRegressors,
  type RegressionFit,
} from './regressors.js';
import { valueRangeProblem, type Frequency } from './series.js';
import { lag, type FittedTransform } from './transforms.js';

/** A single method a saved forecast is made of: a per-series candidate or the panel's global network. */
export type SavedMethod = CandidateName | 'global';
export const SAVED_METHODS: readonly SavedMethod[] = [...CANDIDATES, 'global'];

export interface SavedMember {
  /** The variant's name as the backtest table shows it: 'ets', 'network (box-cox)', 'global'. */
  name: string;
  method: SavedMethod;
  transform: TransformKind;
  /** A network on a transform: λ fitted on its training part (a statistical member fits λ on each new history). */
  lambda?: number;
  /** A member with the covariates ('ets + x', 'network (box-cox) + x', 'global + x'; regressors.ts). */
  covariates?: boolean;
  /**
   * A network member with the covariates: the regression it was trained with (on the transformed scale), applied
   * again as trained — the network forecasts what it leaves. Absent for statistical members (re-estimated on each new
   * history) and for 'global + x' of a series whose training part was too short for a regression (the network saw
   * the series itself).
   */
  regression?: RegressionFit;
}

/** A conformal interval of a saved forecaster: level (0…1) and the half-width at each horizon step. */
export interface SavedInterval {
  level: number;
  halfWidths: number[];
}

/** A saved network (one or several seed members) of a series' point forecast. */
export interface SavedNetworkRef {
  /** The member of the point forecast it is ('network', 'hybrid (box-cox)'). */
  member: string;
  /** Its directory, relative to the forecaster's: member-<i>/ under it. */
  dir: string;
  options: NetworkOptions;
  scaling: FittedTransform;
}

/** One series' chosen forecaster. */
export interface SavedSeries {
  /** The series' id in a panel, its name for one series. */
  id: string;
  frequency?: Frequency;
  season: number;
  /** Every season ETS's MSTL may use (first = `season`), when there are several (daily: 7, 365). */
  seasons?: number[];
  horizon: number;
  /** The chosen method's name ('ets', 'combination', 'ets+theta+global', …). */
  method: string;
  /** The single methods whose mean is the point forecast, in the order the training run averaged them. */
  members: SavedMember[];
  intervals: SavedInterval[];
  /** MASE's scale of the training part (its in-sample seasonal-naive MAE): unseen panel series' intervals scale by it. */
  scale: number;
  /** Training points it was fitted on. */
  points: number;
}

const VARIANT = /^(.+) \((log|box-cox)\)$/;
const WITH_COVARIATES = / \+ x$/;

/**
 * The member of a candidate variant's name ('ets', 'hybrid (box-cox)', 'ets (box-cox) + x', 'global + x'), with the λ
 * a network on a transform was fitted with (withTransform fits it on the training part, so it is recomputed here from
 * the same part) and, for a network with the covariates, the regression it was trained with (`regressions`, by name).
 */
export function savedMember(
  name: string,
  train: readonly number[],
  season: number,
  regressions: ReadonlyMap<string, RegressionFit> = new Map(),
): SavedMember {
  const covariates = WITH_COVARIATES.test(name);
  const variant = name.replace(WITH_COVARIATES, '');
  const m = VARIANT.exec(variant);
  const method = (m ? m[1] : variant) as SavedMethod;
  const transform = (m ? m[2] : 'none') as TransformKind;
  if (!SAVED_METHODS.includes(method)) throw new Error(`cannot save a forecaster of method '${name}'`);
  const network = method === 'network' || method === 'hybrid';
  const regression = regressions.get(name);
  if (covariates && network && !regression) throw new Error(`no regression of ${name} to save`);
  return {
    name,
    method,
    transform,
    ...(network && transform !== 'none' ? { lambda: lambdaFor(transform, train, season) } : {}),
    ...(covariates ? { covariates: true } : {}),
    ...(covariates && (network || method === 'global') && regression ? { regression } : {}),
  };
}

/**
 * What a run of autoForecast chose, as a saved series: its members (with λ for networks on a transform, the regression
 * of networks with the covariates), intervals and scale; `networks` are the fitted networks among the members, by
 * member name (their weights are saved beside). `globalRegression`: the regression the global network's input was the
 * residual of (globalInput), for a 'global + x' member.
 */
export function savedSeriesOf(
  id: string,
  res: AutoResult,
  train: readonly number[],
  o: {
    season: number;
    seasons?: readonly number[];
    horizon: number;
    frequency?: Frequency;
    globalRegression?: { name: string; fit: RegressionFit };
  },
): { series: SavedSeries; networks: Map<string, RNNForecaster> } {
  const regressions = new Map(res.regressions);
  if (o.globalRegression) regressions.set(o.globalRegression.name, o.globalRegression.fit);
  const members = res.members.map((n) => savedMember(n, train, o.season, regressions));
  const networks = new Map<string, RNNForecaster>();
  for (const m of members)
    if (isNetworkMember(m)) {
      const f = res.fitted.get(m.name);
      if (!f) throw new Error(`no fitted ${m.name} network to save`);
      networks.set(m.name, f);
    }
  return {
    series: {
      id,
      ...(o.frequency ? { frequency: o.frequency } : {}),
      season: o.season,
      ...(o.seasons && o.seasons.length > 1 ? { seasons: [...o.seasons] } : {}),
      horizon: o.horizon,
      method: res.chosen,
      members,
      intervals: res.widths.map((w) => ({ level: w.level, halfWidths: [...w.halfWidths] })),
      scale: maseScale(train, o.season),
      points: train.length,
    },
    networks,
  };
}

export const isNetworkMember = (m: SavedMember): boolean => m.method === 'network' || m.method === 'hybrid';

/** The fewest points of history the saved forecaster can forecast from. */
export function minHistory(s: SavedSeries, networks: ReadonlyMap<string, RNNForecaster>): number {
  // What the seasonal methods work with (as `recur forecast` asks of the training part)…
  let n = Math.max(2 * s.season, 8);
  for (const m of s.members) {
    const f = networks.get(m.name);
    if (f) n = Math.max(n, networkMinHistory(f, s.season));
  }
  return n;
}

/**
 * The fewest points a network (or hybrid) forecaster of this season forecasts from: two seasons, and its lookback
 * window after its differencing (the hybrid's residuals are not differenced).
 */
export function networkMinHistory(f: RNNForecaster, season: number): number {
  return Math.max(2 * season, 8, f.opts.lookback + (f.opts.method === 'hybrid' ? 0 : lag(f.opts)));
}

/** Options for the statistical candidates' functions (candidateFns needs network options it will not use). */
function unusedNetwork(season: number, horizon: number): NetworkOptions {
  return { ...FORECAST_DEFAULTS, method: 'network', lookback: 1, horizon, season, seeds: [1] };
}

/**
 * The saved forecaster's point forecast of the `horizon` points after `values`: each member's forecast — a
 * statistical method re-estimated on `values`, a network run as trained (`networks`, by member name), the global
 * network's forecast `global` (its regression already added back) — and their mean. `covariates`: the covariate rows
 * of the history and then of the horizon, for members with the covariates (a statistical one re-estimates its
 * regression with the method; a network's is applied as it was trained). `signal` stops it (rejecting with its reason):
 * a SARIMA fit at once, anything else before the next member.
 */
export async function forecastSaved(
  s: SavedSeries,
  values: readonly number[],
  networks: ReadonlyMap<string, RNNForecaster>,
  global?: readonly number[],
  covariates?: readonly (readonly number[])[],
  signal?: AbortSignal,
): Promise<{ point: number[]; members: Map<string, number[]> }> {
  const members = new Map<string, number[]>();
  const n = values.length;
  const far = values.findIndex((v) => valueRangeProblem(v) !== null);
  if (far >= 0)
    throw new InvalidInputError(`value ${far + 1}, ${values[far]}, is ${valueRangeProblem(values[far])}`);
  for (const m of s.members) {
    signal?.throwIfAborted();
    const x = m.covariates ? covariates : undefined;
    if (m.covariates && (!x || x.length < n + s.horizon))
      throw new Error(
        `${m.name} needs the regressors' values of the history and the ${s.horizon} points after it`,
      );
    let f: number[];
    if (m.method === 'global') {
      if (!global) throw new Error(`no global network forecast for series ${s.id}`);
      f = [...global];
    } else if (isNetworkMember(m)) {
      const net = networks.get(m.name);
      if (!net) throw new Error(`the ${m.name} network of series ${s.id} is missing`);
      if (m.transform !== 'none') {
        const i = values.findIndex((v) => !(v > 0));
        if (i >= 0)
          throw new Error(`the ${m.transform} transform needs values > 0; value ${i + 1} is ${values[i]}`);
      }
      const scaled = m.transform === 'none' ? values : boxCox(values, m.lambda!);
      // With the covariates the network forecasts what its regression leaves (withRegressors, inside the transform).
      const reg = x ? m.regression : undefined;
      if (x && !reg) throw new Error(`the ${m.name} network of series ${s.id} has no saved regression`);
      const out = (await net.predict(reg ? regressionResidual(reg, scaled, x!) : scaled)).mean;
      const z = reg ? withRegressionPart(reg, out, x!, n) : out;
      f = m.transform === 'none' ? z : invBoxCox(z, m.lambda!);
    } else {
      const fn = candidateFns(
        s.season,
        unusedNetwork(s.season, s.horizon),
        1,
        undefined,
        s.seasons ?? [s.season],
        signal,
      )[m.method];
      const withX = x ? withRegressors(fn, x, regressionLag(s.season)) : fn;
      f = await withTransform(withX, m.transform, s.season)(values, s.horizon);
    }
    if (f.length !== s.horizon || f.some((v) => !Number.isFinite(v)))
      throw new Error(`${m.name} made a non-finite or short forecast`);
    members.set(m.name, f);
  }
  const point =
    s.members.length === 1 ? members.get(s.members[0].name)! : averageForecasts([...members.values()]);
  return { point, members };
}

/** Whether any member of a saved series forecasts with the covariates. */
export const usesCovariates = (s: Pick<SavedSeries, 'members'>): boolean =>
  s.members.some((m) => m.covariates);

/**
 * What a panel forecasts a series it never saw with: the method most of its series chose among those without a
 * per-series network (a new series has none), with that method's members; Theta when there is none.
 */
export function panelFallback(series: readonly SavedSeries[]): { method: string; members: SavedMember[] } {
  const usable = series.filter((s) => !s.members.some(isNetworkMember));
  const counts = new Map<string, number>();
  for (const s of usable) counts.set(s.method, (counts.get(s.method) ?? 0) + 1);
  let best: string | undefined;
  for (const [m, c] of counts) if (best === undefined || c > counts.get(best)!) best = m;
  if (best === undefined)
    return { method: 'theta', members: [{ name: 'theta', method: 'theta', transform: 'none' }] };
  // Without a seen series' own regression: an unseen series' 'global + x' fits one on its history.
  const members = usable.find((s) => s.method === best)!.members.map(({ regression: _, ...m }) => m);
  return { method: best, members };
}

/** The saved intervals around a point forecast, at `levels` (0…1) or every saved level. */
export function savedIntervals(
  widths: readonly SavedInterval[],
  point: readonly number[],
  levels?: readonly number[],
): Interval[] {
  return widths
    .filter((w) => !levels || levels.some((l) => Math.abs(l - w.level) < 1e-9))
    .map((w) => intervalAround(point, w.halfWidths, w.level));
}

/**
 * Half-widths for a series the forecaster never saw (a new id in a panel): per level and step, the median over the
 * seen series of their half-width in units of their MASE scale, times the new history's scale.
 */
export function scaledWidths(
  seen: readonly SavedSeries[],
  values: readonly number[],
  season: number,
  horizon: number,
): SavedInterval[] {
  const scale = maseScale(values, season);
  const levels = [...new Set(seen.flatMap((s) => s.intervals.map((w) => w.level)))].sort((a, b) => a - b);
  const out: SavedInterval[] = [];
  for (const level of levels) {
    const rel = seen
      .filter((s) => s.horizon === horizon && s.scale > 0)
      .map((s) => ({ s, w: s.intervals.find((w) => w.level === level) }))
      .filter((x) => x.w !== undefined)
      .map(({ s, w }) => w!.halfWidths.map((v) => v / s.scale));
    if (rel.length === 0) continue;
    out.push({
      level,
      halfWidths: Array.from({ length: horizon }, (_, h) => median(rel.map((r) => r[h])) * scale),
    });
  }
  return out;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 ? s[k] : (s[k - 1] + s[k]) / 2;
}
