/**
 * The forecasting toolkit, re-exported as `forecast` from `recur/node`. Importing it installs the Node loaders of the
 * baselines' wasm libraries: augurs' wasm read from node_modules, and `arima` built with its output sent to stderr, so
 * nothing a library prints can land on stdout (where `recur forecast --json` writes its JSON).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setBaselineLoaders, type ArimaConstructor } from '../forecast/baselines.js';

const require = createRequire(import.meta.url);

setBaselineLoaders({
  async augurs() {
    const mstl = await import('@bsull/augurs/mstl');
    const ets = await import('@bsull/augurs/ets');
    // In Node the wasm must be handed over explicitly (initSync): wasm-bindgen's default init would fetch a file: URL.
    const dir = dirname(fileURLToPath(import.meta.resolve('@bsull/augurs/mstl')));
    mstl.initSync({ module: readFileSync(join(dir, 'mstl_bg.wasm')) });
    ets.initSync({ module: readFileSync(join(dir, 'ets_bg.wasm')) });
    return { mstl, ets };
  },
  arima() {
    // Build the emscripten module ourselves (as arima/index.js does) to give it print functions: its default print is
    // console.log, and AutoARIMA prints lines such as "non-stationary AR part".
    const dir = dirname(require.resolve('arima'));
    const createModule = require(join(dir, 'wasm', 'native-sync.js')) as (
      o: Record<string, unknown>,
    ) => unknown;
    const wasmBinary = require(join(dir, 'wrapper', 'native.bin.js')) as unknown;
    const loadArima = require(join(dir, 'load.js')) as (m: unknown) => ArimaConstructor;
    const toStderr = (line: string): void => void process.stderr.write(line + '\n');
    return Promise.resolve(loadArima(createModule({ wasmBinary, print: toStderr, printErr: toStderr })));
  },
});

export {
  RNNForecaster,
  FORECAST_DEFAULTS,
  type NetworkOptions,
  type EnsembleForecast,
} from '../forecast/network.js';
export {
  parseSeriesCsv,
  parseMonthlyCsv,
  checkSeries,
  parseDate,
  datesAfter,
  SEASON_OF_FREQUENCY,
  SeriesInputError,
  type Frequency,
  type TimeSeries,
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
  setBaselineLoaders,
  baselineLoaders,
  BASELINES,
  SARIMA_MAX_SEASON,
  type BaselineName,
  type BaselineResults,
  type BaselineLoaders,
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
