/** The forecasting toolkit, re-exported as `forecast` from `recur/node`. */
export {
  RNNForecaster,
  FORECAST_DEFAULTS,
  type NetworkOptions,
  type EnsembleForecast,
} from '../forecast/network.js';
export {
  parseMonthlyCsv,
  checkSeries,
  monthOf,
  monthLabel,
  type MonthlySeries,
  type CsvOptions,
} from '../forecast/series.js';
export {
  naive,
  seasonalNaive,
  drift,
  etsForecast,
  sarimaForecast,
  baselineForecasts,
  BASELINES,
  type BaselineName,
} from '../forecast/baselines.js';
export { metrics, type Metrics } from '../forecast/metrics.js';
export { evaluateSplit, backtest, type SplitResult, type BacktestResult } from '../forecast/pipeline.js';
export {
  fitTransform,
  applyTransform,
  invertForecast,
  detectSeason,
  type TransformSpec,
} from '../forecast/transforms.js';
export { forecastSvg, terminalChart, type ChartData } from '../forecast/chart.js';
