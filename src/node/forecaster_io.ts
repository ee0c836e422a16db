/**
 * A fitted forecaster on disk: one TensorFlow.js-format model directory per ensemble member, and forecaster.json
 * with the options, the fitted preprocessing and the history it was fitted on — enough to forecast again later
 * without retraining.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RNNForecaster, type NetworkOptions } from '../forecast/network.js';
import type { MonthlySeries } from '../forecast/series.js';
import type { FittedTransform } from '../forecast/transforms.js';
import { writeFileAtomic } from './atomic.js';
import { loadModel, saveModel } from './model_io.js';

interface ForecasterFile {
  format: 'recur-forecaster';
  version: 1;
  options: NetworkOptions;
  transform: FittedTransform;
  history: MonthlySeries;
}

export function saveForecaster(f: RNNForecaster, history: MonthlySeries, dir: string): void {
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
  };
  writeFileAtomic(join(dir, 'forecaster.json'), JSON.stringify(file, null, 1) + '\n');
}

export function loadForecaster(dir: string): { forecaster: RNNForecaster; history: MonthlySeries } {
  const path = join(dir, 'forecaster.json');
  if (!existsSync(path))
    throw new Error(`${dir}: no forecaster.json here; save one with 'recur forecast … --save ${dir}'`);
  let file: ForecasterFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as ForecasterFile;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (file.format !== 'recur-forecaster' || !file.options || !file.transform)
    throw new Error(`${path}: not a recur forecaster file`);
  const f = new RNNForecaster(file.options);
  f.transform = file.transform;
  for (let i = 0; i < file.options.seeds.length; i++)
    f.models.push(loadModel(join(dir, `member-${i}`)).model);
  return { forecaster: f, history: file.history };
}
