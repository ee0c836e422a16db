/**
 * Prediction intervals by conformal calibration on rolling-origin backtest residuals, normalised by each step's scale
 * so that every fold's errors at every step can be pooled:
 *
 * - the scale σ_h of step h is the RMS of the folds' errors at h and its w = H/6 neighbours on either side: errors
 *   grow with the horizon, and the neighbours steady an RMS of a few folds;
 * - each fold's error at h is scored against the scale of the OTHER folds (leave one fold out): |e_kh| / σ_h^(−k).
 *   A score against a scale the fold helped estimate is shrunk towards it, and the future's errors are measured
 *   against a scale estimated from past folds only — with 5 folds that scale is itself uncertain, and these scores
 *   carry that uncertainty into the interval;
 * - the interval at step h is the point forecast ± q·σ_h, q the conformal quantile of the K·H scores counted in
 *   blocks: the scores of one fold within a window are nearly one error, so the conformal rank r = ⌈(B+1)·level⌉
 *   among B = K·⌈H/(2w+1)⌉ blocks, whose coverage is r/(B+1), sets the share of scores below q (all of them when B is
 *   too small for the level: 5 folds of 18 steps give B = 15, and the largest of 15 blocks covers 15/16 ≈ 94%).
 *
 * The former rule, each step's ⌈(N+1)·level⌉-th smallest absolute error (neighbouring steps pooled as far as the
 * level needs), is the fallback with a single fold; on the M3 monthly sample its 95% intervals covered 90% of the test
 * points: the 25 errors it pooled for 95% are 5 folds' errors at 5 neighbouring steps, nearly the same error 5 times
 * (BENCHMARKS.md, "Honest 95% intervals").
 */
import { rootMeanSquare } from './metrics.js';

/** Too few backtest errors for a level, even pooling every step. */
export class CalibrationError extends Error {}

/** The rank (1-based) of the conformal quantile among n sorted errors, or null when n is too small. */
export function conformalRank(n: number, level: number): number | null {
  const k = Math.ceil((n + 1) * level);
  return k <= n ? k : null;
}

/**
 * Half-widths per step (length H) from residuals[k][h] = actual − forecast of fold k at step h. Non-finite residuals
 * are an error (a forecast that failed must not be calibrated on).
 */
export function conformalHalfWidths(residuals: readonly (readonly number[])[], level: number): number[] {
  checkResiduals(residuals, level);
  if (residuals.length < 2) return pooledHalfWidths(residuals, level);
  const H = residuals[0].length;
  const scores: number[] = [];
  for (let k = 0; k < residuals.length; k++) {
    const scale = stepScales(residuals.filter((_, j) => j !== k));
    residuals[k].forEach((e, h) => scores.push(e === 0 ? 0 : Math.abs(e) / scale[h]));
  }
  scores.sort((a, b) => a - b);
  // A fold's scores within a scale window share most of their error: the exchangeable units are the folds' blocks
  // of 2w+1 steps, not the scores, so the conformal rank is taken among those blocks (the largest score when they
  // are fewer than the level needs) and then read off the scores at that share.
  const blocks = residuals.length * Math.ceil(H / (2 * scaleWindow(H) + 1));
  // The r-th smallest of B exchangeable blocks covers a new one with probability r/(B+1): that share of the scores.
  const rank = Math.ceil((blocks + 1) * level);
  const share = rank <= blocks ? rank / (blocks + 1) : 1;
  const q = scores[Math.max(1, Math.ceil(share * scores.length)) - 1];
  // The other folds were exact where this one was not (a repeating season): no scale to measure it by.
  if (!Number.isFinite(q)) return pooledHalfWidths(residuals, level);
  const scale = stepScales(residuals);
  return Array.from({ length: H }, (_, h) => (scale[h] > 0 ? q * scale[h] : 0));
}

/** The neighbours on either side of a step whose errors its scale also averages: a sixth of the horizon. */
export function scaleWindow(horizon: number): number {
  return Math.max(1, Math.round(horizon / 6));
}

/** Each step's scale: the RMS of the folds' errors at it and at its scaleWindow neighbours (0 when all are exact). */
function stepScales(residuals: readonly (readonly number[])[]): number[] {
  const H = residuals[0].length;
  const w = scaleWindow(H);
  return Array.from({ length: H }, (_, h) => {
    const near: number[] = [];
    for (let j = Math.max(0, h - w); j <= Math.min(H - 1, h + w); j++)
      for (const r of residuals) near.push(r[j]);
    return rootMeanSquare(near);
  });
}

function checkResiduals(residuals: readonly (readonly number[])[], level: number): void {
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  const K = residuals.length;
  if (K === 0) throw new CalibrationError('no backtest folds to calibrate the intervals on');
  const H = residuals[0].length;
  for (const r of residuals)
    if (r.length !== H || r.some((v) => !Number.isFinite(v)))
      throw new Error('conformal calibration: every fold needs H finite residuals');
  if (conformalRank(K * H, level) === null)
    throw new CalibrationError(
      `${K * H} backtest errors are too few for a ${Math.round(level * 1000) / 10}% interval (it needs at least ${Math.ceil(level / (1 - level))}); add --folds`,
    );
}

/**
 * The former rule: each step's conformal quantile of absolute errors, neighbouring steps pooled as far as the level
 * needs (a single fold has no other folds to normalise by).
 */
export function pooledHalfWidths(residuals: readonly (readonly number[])[], level: number): number[] {
  checkResiduals(residuals, level);
  const H = residuals[0].length;
  return Array.from({ length: H }, (_, h) => {
    for (let w = 0; ; w++) {
      const errs: number[] = [];
      for (let j = Math.max(0, h - w); j <= Math.min(H - 1, h + w); j++)
        for (const r of residuals) errs.push(Math.abs(r[j]));
      const k = conformalRank(errs.length, level);
      if (k !== null) return errs.sort((a, b) => a - b)[k - 1];
    }
  });
}

export interface Interval {
  level: number;
  lower: number[];
  upper: number[];
}

export function intervalAround(
  forecast: readonly number[],
  halfWidths: readonly number[],
  level: number,
): Interval {
  return {
    level,
    lower: forecast.map((f, h) => f - halfWidths[h]),
    upper: forecast.map((f, h) => f + halfWidths[h]),
  };
}

/** Winkler (interval) score of one interval at one point: its width plus 2/(1−level) times any miss. Lower is better. */
export function winkler(lower: number, upper: number, actual: number, level: number): number {
  const a = 1 - level;
  return (
    upper -
    lower +
    (actual < lower ? (2 / a) * (lower - actual) : actual > upper ? (2 / a) * (actual - upper) : 0)
  );
}

export interface CoverageResult {
  level: number;
  /** Share of backtest points inside their interval, 0…1. */
  coverage: number;
  /** Mean Winkler score over those points. */
  winkler: number;
  /** Points scored. */
  points: number;
}

/**
 * Honest coverage on the backtest itself: each fold's intervals are calibrated on the OTHER folds' residuals
 * (leave one fold out), then scored on that fold. Needs at least two folds.
 */
export function foldCoverage(residuals: readonly (readonly number[])[], level: number): CoverageResult {
  const K = residuals.length;
  if (K < 2) throw new CalibrationError('coverage on the folds needs at least 2 folds');
  let inside = 0;
  let score = 0;
  let points = 0;
  for (let k = 0; k < K; k++) {
    const w = conformalHalfWidths(
      residuals.filter((_, j) => j !== k),
      level,
    );
    residuals[k].forEach((r, h) => {
      // The forecast is 0 in residual space: the actual is r, the interval [−w, w].
      if (Math.abs(r) <= w[h]) inside++;
      score += winkler(-w[h], w[h], r, level);
      points++;
    });
  }
  return { level, coverage: inside / points, winkler: score / points, points };
}
