/** A worker thread for one SARIMA fit, so that src/node/forecast.ts can stop a fit that runs past its time budget. */
import { parentPort, workerData } from 'node:worker_threads';
import { sarimaWorkerReply } from '../forecast/arima_model.js';
import { nodeArimaParts } from './baseline_loaders.js';

const { train, h, season } = workerData as { train: number[]; h: number; season: number };
void sarimaWorkerReply(train, h, season, () => Promise.resolve(nodeArimaParts())).then((reply) =>
  parentPort!.postMessage(reply),
);
