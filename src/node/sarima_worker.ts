/** A worker thread for one SARIMA fit, so that src/node/forecast.ts can stop a fit that runs past its time budget. */
import { parentPort, workerData } from 'node:worker_threads';
import { sarimaHere, setBaselineLoaders } from '../forecast/baselines.js';
import { loadArima, nodeBaselineLoaders } from './baseline_loaders.js';

const { train, h, season } = workerData as { train: number[]; h: number; season: number };
// What the library prints travels with the answer: the worker's own stderr could be cut off when it is terminated.
const printed: string[] = [];
setBaselineLoaders({ ...nodeBaselineLoaders, arima: () => loadArima((line) => void printed.push(line)) });
sarimaHere(train, h, season).then(
  (forecast) => parentPort!.postMessage({ forecast, printed }),
  (e: unknown) => parentPort!.postMessage({ error: e instanceof Error ? e.message : String(e), printed }),
);
