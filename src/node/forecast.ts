/**
 * The forecasting toolkit, re-exported as `forecast` from `recur/node`. Importing it installs the Node loaders of the
 * baselines' wasm libraries (src/node/baseline_loaders.ts: output to stderr, never stdout) and runs each SARIMA fit in
 * a worker thread with a wall-clock budget, whose printed diagnostics are shown only with the fit's failure.
 */
import { Worker } from 'node:worker_threads';
import {
  SARIMA_BUDGET_MS,
  sarimaPastBudget,
  sarimaReplyForecast,
  type SarimaWorkerReply,
} from '../forecast/arima_model.js';
import { setBaselineLoaders } from '../forecast/baselines.js';
import { nodeBaselineLoaders } from './baseline_loaders.js';

let sarimaBudgetMs = SARIMA_BUDGET_MS;

/** The wall-clock budget of one SARIMA fit (default 120 s); a fit that runs past it is stopped and SARIMA skipped. */
export function setSarimaBudget(ms: number): void {
  sarimaBudgetMs = ms;
}

/**
 * One SARIMA fit in a worker thread: the wasm fit is synchronous, and terminating its thread is how it is stopped — at
 * its budget, or at once when `signal` aborts (rejecting with its reason), as the page's Web Worker is.
 */
function sarimaInWorker(
  train: readonly number[],
  h: number,
  season: number,
  signal?: AbortSignal,
): Promise<number[]> {
  const budget = sarimaBudgetMs;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const worker = new Worker(new URL('./sarima_worker.js', import.meta.url), {
      workerData: { train: [...train], h, season },
    });
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      void worker.terminate();
    };
    const stop = (): void => {
      done();
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      done();
      reject(sarimaPastBudget(budget));
    }, budget);
    signal?.addEventListener('abort', stop, { once: true });
    worker.once('message', (m: SarimaWorkerReply) => {
      done();
      // What AutoARIMA prints is its search's diagnostics ("non-stationary AR part" for an order it passes over): noise
      // beside a forecast (and on stderr under --quiet or --json), so it is kept only to explain a failure.
      try {
        resolve(sarimaReplyForecast(m));
      } catch (e) {
        reject(e as Error);
      }
    });
    worker.once('error', (e) => {
      done();
      reject(new Error(`SARIMA: ${e.message}`));
    });
    // After a message (or a stop) this is a no-op; otherwise the worker died without answering (e.g. out of wasm
    // memory).
    worker.once('exit', (code) => {
      done();
      reject(new Error(`SARIMA: its worker stopped with exit code ${code}`));
    });
  });
}

setBaselineLoaders({ ...nodeBaselineLoaders, sarima: sarimaInWorker });

export {
  RNNForecaster,
  FORECAST_DEFAULTS,
  type NetworkOptions,
  type EnsembleForecast,
} from '../forecast/network.js';
export {
  parseSeriesCsv,
  seriesFromCells,
  parseMonthlyCsv,
  checkSeries,
  parseDate,
  datesAfter,
  SEASON_OF_FREQUENCY,
  seasonsOfFrequency,
  SeriesInputError,
  type Frequency,
  type TimeSeries,
  type Covariates,
  type ParsedDate,
  type MonthlySeries,
  type CsvOptions,
} from '../forecast/series.js';
export {
  naive,
  seasonalNaive,
  drift,
  etsForecast,
  etsSeasons,
  sarimaForecast,
  baselineForecasts,
  setBaselineLoaders,
  baselineLoaders,
  BASELINES,
  SARIMA_MAX_SEASON,
  type BaselineName,
  type BaselineResults,
  type BaselineLoaders,
  type OnBaseline,
} from '../forecast/baselines.js';
export { metrics, type Metrics } from '../forecast/metrics.js';
export { evaluateSplit, backtest, type SplitResult, type BacktestResult } from '../forecast/pipeline.js';
export {
  fitTransform,
  applyTransform,
  invertForecast,
  detectSeason,
  type TransformSpec,
  type FittedTransform,
  type Scaling,
  type Differencing,
} from '../forecast/transforms.js';
export type { TransformKind } from '../forecast/boxcox.js';
export type { RegressionFit, RegressionSummary } from '../forecast/regressors.js';
export type {
  GlobalForecaster,
  GlobalOptions,
  GlobalProgress,
  GlobalSeriesForecasts,
} from '../forecast/global.js';
export { forecastSvg, terminalChart, type ChartData } from '../forecast/chart.js';
export { thetaForecast, fitSes, linearSlope, type SesFit } from '../forecast/theta.js';
export {
  dampedForecast,
  fitDampedTrend,
  dampedTrendForecast,
  type DampedTrendFit,
} from '../forecast/damped.js';
export {
  acf,
  isSeasonal,
  seasonalIndices,
  fitSeasonalAdjustment,
  seasonalFTest,
  type SeasonalAdjustment,
} from '../forecast/seasonality.js';
export {
  autoForecast,
  backtestCandidates,
  candidateFns,
  planFolds,
  lookbackFor,
  averageForecasts,
  CANDIDATES,
  COMBINATION,
  type AutoOptions,
  type AutoResult,
  type CandidateName,
  type BacktestOutcome,
  type CandidateResult,
  type FoldPlan,
  type ForecastFn,
  type MethodChoice,
} from '../forecast/auto.js';
export {
  conformalHalfWidths,
  foldCoverage,
  intervalAround,
  winkler,
  CalibrationError,
  type Interval,
  type CoverageResult,
} from '../forecast/conformal.js';
export {
  parsePanelCsv,
  forecastPanelSeries,
  summarizePanel,
  isFailure,
  type Panel,
  type PanelCsvOptions,
  type PanelSeries,
  type PanelSettings,
  type PanelSummary,
  type SeriesForecast,
  type SeriesFailure,
  type SeriesOutcome,
  type PanelMethod,
  type PanelCandidate,
  type HeldOutInterval,
  type AggregateRow,
} from '../forecast/panel.js';
export { forecastPanel, type PanelRun, type PanelRunOptions, type GlobalStage } from './forecast_panel.js';
export {
  forecastSaved,
  savedSeriesOf,
  savedIntervals,
  panelFallback,
  scaledWidths,
  type SavedSeries,
  type SavedMember,
  type SavedInterval,
  type SavedMethod,
  type SavedNetworkRef,
} from '../forecast/saved.js';
