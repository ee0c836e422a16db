/**
 * A fitted forecaster on disk: one TensorFlow.js-format model directory per ensemble member, and forecaster.json
 * with the options, the fitted preprocessing and the history it was fitted on — enough to forecast again later
 * without retraining. Loading checks forecaster.json against a zod schema and every member model as loadModel does
 * (sha256, shapes, finite weights).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { RNNForecaster, type NetworkOptions } from '../forecast/network.js';
import type { MonthlySeries } from '../forecast/series.js';
import type { FittedTransform } from '../forecast/transforms.js';
import { ModelFileError, fieldPath } from '../models/serialization.js';
import { writeFileAtomic } from './atomic.js';
import { loadModel, saveModel } from './model_io.js';

interface ForecasterFile {
  format: 'recur-forecaster';
  version: 1;
  options: NetworkOptions;
  transform: FittedTransform;
  history: MonthlySeries;
  /** Conformal half-widths per horizon step, calibrated on the backtest when it was fitted (absent before #16). */
  intervals?: SavedInterval[];
}

/** A prediction interval saved with a forecaster: level (0…1) and the half-width at each horizon step. */
export interface SavedInterval {
  level: number;
  halfWidths: number[];
}

export function saveForecaster(
  f: RNNForecaster,
  history: MonthlySeries,
  dir: string,
  intervals: SavedInterval[] = [],
): void {
  if (!f.transform) throw new Error('saveForecaster: the forecaster is not fitted');
  mkdirSync(dir, { recursive: true });
  f.models.forEach((m, i) =>
    saveModel(m, join(dir, `member-${i}`), { includeOptimizer: false, metadata: { task: 'forecast' } }),
  );
  const file: ForecasterFile = {
    format: 'recur-forecaster',
    version: 1,
    options: f.opts,
    transform: f.transform,
    history,
    intervals,
  };
  writeFileAtomic(join(dir, 'forecaster.json'), JSON.stringify(file, null, 1) + '\n');
}

/**
 * What loadForecaster relies on in forecaster.json (the rest is passed on as written): checked so that a damaged
 * file is an error naming the field, never NaN forecasts.
 */
const forecasterFileSchema = z.looseObject({
  format: z.literal('recur-forecaster', { error: 'expected "recur-forecaster"' }),
  version: z.literal(1, { error: 'expected 1' }),
  options: z.looseObject({
    seeds: z
      .array(z.number().int().min(0), { error: 'expected an array of integer seeds' })
      .min(1, { error: 'expected at least one seed' })
      .max(1000, { error: 'expected at most 1000 seeds' }),
    horizon: z.number().int().min(1, { error: 'expected a positive integer' }),
    lookback: z.number().int().min(1, { error: 'expected a positive integer' }),
  }),
  transform: z.looseObject({
    center: z.number({ error: 'expected a finite number' }),
    scale: z.number({ error: 'expected a finite number' }),
  }),
  history: z.looseObject({
    dates: z.array(z.string(), { error: 'expected an array of dates' }),
    values: z.array(z.number({ error: 'expected a finite number' }), {
      error: 'expected an array of numbers',
    }),
  }),
  intervals: z
    .array(
      z.object({
        level: z
          .number()
          .gt(0, { error: 'expected a level in (0, 1)' })
          .lt(1, { error: 'expected a level in (0, 1)' }),
        halfWidths: z.array(z.number().min(0, { error: 'expected a finite half-width ≥ 0' }), {
          error: 'expected an array of half-widths',
        }),
      }),
      { error: 'expected an array of intervals' },
    )
    .optional(),
});

/**
 * Loads a forecaster saved with saveForecaster. Its member models go through loadModel, so damaged or non-finite
 * weights are refused; `notes` collects what could not be verified (members saved before recur recorded sha256).
 */
export function loadForecaster(dir: string): {
  forecaster: RNNForecaster;
  history: MonthlySeries;
  notes: string[];
  intervals: SavedInterval[];
} {
  const path = join(dir, 'forecaster.json');
  if (!existsSync(path))
    throw new Error(`${dir}: no forecaster.json here; save one with 'recur forecast … --save ${dir}'`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ModelFileError(
      path,
      'forecaster.json',
      `not valid JSON (${(e as Error).message})`,
      `${path}: not valid JSON (${(e as Error).message})`,
    );
  }
  const r = forecasterFileSchema.safeParse(raw, { reportInput: true });
  if (!r.success) {
    const issue = r.error.issues[0];
    const got =
      'input' in issue && issue.input !== undefined
        ? `, got ${JSON.stringify(issue.input)?.slice(0, 60)}`
        : ' (missing)';
    throw new ModelFileError(
      path,
      fieldPath(issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))) || '(the whole file)',
      `${issue.message.replace(/^Invalid input: /, '')}${got}; not a recur forecaster file?`,
    );
  }
  const file = raw as ForecasterFile;
  const f = new RNNForecaster(file.options);
  f.transform = file.transform;
  const notes: string[] = [];
  for (let i = 0; i < file.options.seeds.length; i++) {
    const loaded = loadModel(join(dir, `member-${i}`));
    f.models.push(loaded.model);
    notes.push(...loaded.notes);
  }
  // One line for the whole ensemble: its members were saved together, so what holds for one holds for all.
  const summary =
    notes.length > 1
      ? [`${notes[0]} (and ${notes.length - 1} more notes for the other member models)`]
      : notes;
  const intervals = file.intervals ?? [];
  for (const [i, iv] of intervals.entries())
    if (iv.halfWidths.length !== file.options.horizon)
      throw new ModelFileError(
        path,
        `intervals[${i}].halfWidths`,
        `expected ${file.options.horizon} half-widths (the horizon), got ${iv.halfWidths.length}`,
      );
  return { forecaster: f, history: file.history, notes: summary, intervals };
}
