/**
 * The forecasting networks' defaults (per series and global), in a module of their own with no imports: the CLI's flag table reads them at
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

/** The global network's defaults (global.ts), measured on the M3 monthly sample's backtest (BENCHMARKS.md). */
export const GLOBAL_DEFAULTS = {
  cell: 'lstm',
  units: 32,
  epochs: 20,
  batchSize: 64,
  learningRate: 0.003,
  windowsPerSeries: Number.POSITIVE_INFINITY,
  seedCount: 3,
} as const;
