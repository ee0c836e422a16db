/**
 * The forecasting network's defaults, in a module of their own with no imports: the CLI's flag table reads them at
 * start-up, and importing network.ts for them loaded the whole library before any flag was parsed.
 */
/** Defaults, chosen by rolling-origin backtests on several monthly series (see BENCHMARKS.md). */
export const FORECAST_DEFAULTS = {
  method: 'hybrid',
  cell: 'lstm',
  units: 32,
  layers: 1,
  dropout: 0,
  strategy: 'direct',
  epochs: 100,
  batchSize: 16,
  learningRate: 0.005,
  log: false,
  differencing: 'seasonal',
  scaling: 'standard',
  seedCount: 5,
} as const;
