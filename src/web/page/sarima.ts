/**
 * SARIMA for the page's engine as src/node/forecast.ts runs it for the CLI: each fit in a worker of its own
 * (sarima_worker.ts), terminated when the forecast is stopped or the fit runs past its budget — the wasm fit is
 * synchronous, so ending its worker is the only way to stop it, and the engine stays free meanwhile.
 */
import { SARIMA_BUDGET_MS, sarimaPastBudget, sarimaReplyForecast } from '../../forecast/arima_model.js';
import type { BaselineLoaders } from '../../forecast/baselines.js';

export function webSarima(workerUrl: URL): NonNullable<BaselineLoaders['sarima']> {
  return (train, h, season, signal) =>
    new Promise<number[]>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const worker = new Worker(workerUrl, { type: 'module' });
      const end = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', stop);
        worker.terminate();
      };
      const stop = (): void => {
        end();
        reject(signal!.reason as Error);
      };
      const timer = setTimeout(() => {
        end();
        reject(sarimaPastBudget(SARIMA_BUDGET_MS));
      }, SARIMA_BUDGET_MS);
      signal?.addEventListener('abort', stop, { once: true });
      worker.onmessage = (e) => {
        end();
        try {
          resolve(sarimaReplyForecast(e.data));
        } catch (err) {
          reject(err as Error);
        }
      };
      worker.onerror = (e) => {
        e.preventDefault();
        end();
        reject(new Error(`SARIMA: its worker failed${e.message ? `: ${e.message}` : ''}`));
      };
      worker.postMessage({ train: [...train], h, season });
    });
}
