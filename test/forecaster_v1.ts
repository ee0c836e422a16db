/**
 * A version-1 forecaster directory, as `recur forecast --save` before #16 and the library's saveForecaster before it
 * saved version 2 wrote one (DIR/member-<i>/, then DIR/forecaster.json): what users still have on disk, for the tests
 * that load or replace one.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RNNForecaster } from '../src/forecast/network.js';
import type { SavedInterval } from '../src/forecast/saved.js';
import type { MonthlySeries } from '../src/forecast/series.js';
import { saveModel } from '../src/node/model_io.js';

export function saveV1Forecaster(
  f: RNNForecaster,
  history: MonthlySeries,
  dir: string,
  intervals: SavedInterval[] = [],
): void {
  f.models.forEach((m, i) =>
    saveModel(m, join(dir, `member-${i}`), { includeOptimizer: false, metadata: { task: 'forecast' } }),
  );
  const file = {
    format: 'recur-forecaster',
    version: 1,
    options: f.opts,
    transform: f.transform,
    history,
    intervals,
  };
  writeFileSync(join(dir, 'forecaster.json'), JSON.stringify(file, null, 1) + '\n');
}
