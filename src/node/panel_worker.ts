/**
 * A worker thread of src/node/forecast_panel.ts: forecasts the series it is sent, one at a time, and answers each with
 * its forecast or the reason it failed (a failure is the series', never the run's).
 */
import { parentPort } from 'node:worker_threads';
import './index.js'; // the wasm flags and model savers, as in the CLI process
import './forecast.js'; // the Node loaders of the baselines' wasm, SARIMA in its own thread
import { forecastPanelSeries, type PanelSettings } from '../forecast/panel.js';
import type { GlobalSeriesForecasts } from '../forecast/global.js';
import type { TimeSeries } from '../forecast/series.js';
import { saveSeriesNetworks } from './forecaster_io.js';

export interface PanelJob {
  index: number;
  id: string;
  series: TimeSeries;
  settings: PanelSettings;
  /** The global network's forecasts for this series, when the settings use it (or why there are none). */
  global?: GlobalSeriesForecasts;
  globalError?: string;
  /** With settings.keep: the forecaster directory its networks are saved in (under series-<index>/). */
  saveDir?: string;
}

parentPort!.on('message', (job: PanelJob) => {
  const saveDir = job.saveDir;
  forecastPanelSeries(
    job.id,
    job.series,
    job.settings,
    job.global,
    job.globalError,
    saveDir === undefined
      ? undefined
      : (s, networks) => saveSeriesNetworks(saveDir, `series-${job.index}/`, s, networks),
  ).then(
    (result) => parentPort!.postMessage({ index: job.index, result }),
    (e: unknown) =>
      parentPort!.postMessage({
        index: job.index,
        result: { id: job.id, error: e instanceof Error ? e.message : String(e) },
      }),
  );
});
