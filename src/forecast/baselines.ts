/**
 * The forecasts users compare a network against, fitted on the training part only: naive, seasonal naive, drift,
 * ETS (augurs: MSTL decomposition + AutoETS for seasonal series, AutoETS otherwise) and SARIMA (the `arima`
 * package's AutoARIMA, which chooses the orders by information criterion).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export type BaselineName = 'naive' | 'seasonal naive' | 'drift' | 'ets' | 'sarima';
export const BASELINES: BaselineName[] = ['naive', 'seasonal naive', 'drift', 'ets', 'sarima'];

export function naive(train: readonly number[], h: number): number[] {
  return Array(h).fill(train[train.length - 1]);
}

export function seasonalNaive(train: readonly number[], h: number, season: number): number[] {
  const s = Math.max(1, season);
  return Array.from({ length: h }, (_, i) => train[train.length - s + (i % s)]);
}

export function drift(train: readonly number[], h: number): number[] {
  const n = train.length;
  const slope = (train[n - 1] - train[0]) / Math.max(1, n - 1);
  return Array.from({ length: h }, (_, i) => train[n - 1] + slope * (i + 1));
}

let augurs: { mstl: typeof import('@bsull/augurs/mstl'); ets: typeof import('@bsull/augurs/ets') } | null =
  null;

async function loadAugurs(): Promise<NonNullable<typeof augurs>> {
  if (augurs) return augurs;
  const mstl = await import('@bsull/augurs/mstl');
  const ets = await import('@bsull/augurs/ets');
  // In Node the wasm must be handed over explicitly (initSync).
  const dir = dirname(fileURLToPath(import.meta.resolve('@bsull/augurs/mstl')));
  mstl.initSync({ module: readFileSync(join(dir, 'mstl_bg.wasm')) });
  ets.initSync({ module: readFileSync(join(dir, 'ets_bg.wasm')) });
  augurs = { mstl, ets };
  return augurs;
}

export async function etsForecast(train: readonly number[], h: number, season: number): Promise<number[]> {
  const a = await loadAugurs();
  if (season > 1 && train.length >= 2 * season) {
    const m = a.mstl.MSTL.ets([season], {});
    try {
      m.fit(Float64Array.from(train));
      return Array.from(m.predict(h).point);
    } finally {
      m.free();
    }
  }
  const m = new a.ets.AutoETS(1, 'ZZN');
  try {
    m.fit(Float64Array.from(train));
    return Array.from(m.predict(h).point);
  } finally {
    m.free();
  }
}

/** ETS forecast plus its in-sample fitted values (for the hybrid: the network then models the residuals). */
export async function etsWithFitted(
  train: readonly number[],
  h: number,
  season: number,
): Promise<{ forecast: number[]; fitted: number[] }> {
  const a = await loadAugurs();
  // MSTL with no periods is plain AutoETS, and it also gives in-sample fitted values.
  const m = a.mstl.MSTL.ets(season > 1 && train.length >= 2 * season ? [season] : [], {});
  try {
    m.fit(Float64Array.from(train));
    return { forecast: Array.from(m.predict(h).point), fitted: Array.from(m.predictInSample().point) };
  } finally {
    m.free();
  }
}

interface ArimaInstance {
  train(ts: number[]): ArimaInstance;
  predict(n: number): [number[], number[]];
  destroy(): void;
}
type ArimaCtor = new (o: Record<string, unknown>) => ArimaInstance;

export function sarimaForecast(train: readonly number[], h: number, season: number): number[] {
  const ARIMA = require('arima') as ArimaCtor;
  const seasonal = season > 1 && train.length >= 3 * season;
  const m = new ARIMA({
    auto: true,
    p: 2,
    d: 1,
    q: 2,
    ...(seasonal ? { P: 1, D: 1, Q: 1, s: season } : {}),
    verbose: false,
  });
  try {
    m.train([...train]);
    const [pred] = m.predict(h);
    if (pred.some((v) => !Number.isFinite(v))) throw new Error('SARIMA produced a non-finite forecast');
    return pred;
  } finally {
    m.destroy();
  }
}

/** All baselines (or the chosen ones) on one split. */
export async function baselineForecasts(
  train: readonly number[],
  h: number,
  season: number,
  which: readonly BaselineName[] = BASELINES,
): Promise<Map<BaselineName, number[]>> {
  const out = new Map<BaselineName, number[]>();
  for (const b of which) {
    if (b === 'naive') out.set(b, naive(train, h));
    else if (b === 'seasonal naive') out.set(b, seasonalNaive(train, h, season));
    else if (b === 'drift') out.set(b, drift(train, h));
    else if (b === 'ets') out.set(b, await etsForecast(train, h, season));
    else out.set(b, sarimaForecast(train, h, season));
  }
  return out;
}
