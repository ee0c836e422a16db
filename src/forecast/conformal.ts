/**
 * Prediction intervals by split-conformal calibration on rolling-origin backtest residuals: the interval at step h is
 * the point forecast ± the ⌈(N+1)·level⌉-th smallest of N absolute backtest errors at that step. That quantile covers
 * a new error with probability ≥ level when errors are exchangeable — no distribution assumed, and the width grows
 * with the horizon as the errors do.
 *
 * A few folds give few errors per step (95% needs N ≥ 19), so the errors of neighbouring steps are pooled, the window
 * widened symmetrically around h only as far as the level needs.
 */

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
