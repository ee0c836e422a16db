/**
 * The page's SARIMA worker: one fit per worker (src/web/page/sarima.ts starts it), so that Stop, or a forecast past
 * its time budget, ends the fit by terminating the worker: the wasm fit is synchronous. The fit is the CLI's
 * (sarimaHere on the package built as src/node/sarima_worker.ts builds it), so the page's forecast is the CLI's.
 */
import createModule from 'arima/wasm/native-sync.js';
import load from 'arima/load.js';
import { sarimaWorkerReply, type SarimaWorkerReply } from '../../forecast/arima_model.js';

const scope = globalThis as unknown as {
  postMessage(m: SarimaWorkerReply): void;
  addEventListener(
    type: 'message',
    fn: (e: MessageEvent<{ train: number[]; h: number; season: number }>) => void,
  ): void;
};

scope.addEventListener('message', (e) => {
  const { train, h, season } = e.data;
  void sarimaWorkerReply(train, h, season, async () => {
    // build-web.mjs copies the package's wasm beside the bundles.
    const response = await fetch(new URL('./arima.wasm', import.meta.url));
    if (!response.ok) throw new Error(`SARIMA: arima.wasm could not be fetched (HTTP ${response.status})`);
    return { createModule, load, wasmBinary: new Uint8Array(await response.arrayBuffer()) };
  }).then((reply) => scope.postMessage(reply));
});
