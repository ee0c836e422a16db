/**
 * Recurrent forecasters: windows of `lookback` transformed values → the next `horizon` values, either all at once
 * (direct, a Dense(horizon) head) or one step at a time fed back (recursive). An ensemble over several seeds gives
 * the mean forecast and its spread.
 */
import { Tensor } from '../core/tensor.js';
import { Dense, Dropout } from '../layers/index.js';
import { recurrentLayer, type CellType } from '../layers/recurrent_factory.js';
import { LambdaCallback, TerminateOnNaN, type LambdaCallbackArgs } from '../models/callbacks.js';
import { Adam } from '../models/optimizers.js';
import { Sequential } from '../models/sequential.js';
import { etsWithFitted } from './baselines.js';
import {
  applyTransform,
  fitTransform,
  invertForecast,
  logValues,
  valueExtent,
  type FittedTransform,
  type TransformSpec,
} from './transforms.js';
import { FORECAST_DEFAULTS } from './defaults.js';

export interface NetworkOptions extends TransformSpec {
  /**
   * 'network': the network forecasts the (differenced, scaled) series itself. 'hybrid': ETS forecasts the series and
   * the network forecasts what ETS leaves — its in-sample residuals (the ES-RNN idea that won M4, simplified).
   */
  method: 'network' | 'hybrid';
  cell: CellType;
  units: number;
  layers: number;
  dropout: number;
  lookback: number;
  horizon: number;
  strategy: 'direct' | 'recursive';
  epochs: number;
  batchSize: number;
  learningRate: number;
  seeds: number[];
}

export { FORECAST_DEFAULTS };

export interface EnsembleForecast {
  mean: number[];
  /** Per-step standard deviation across ensemble members. */
  std: number[];
  lower: number[];
  upper: number[];
  members: number[][];
}

export class RNNForecaster {
  readonly models: Sequential[] = [];
  transform: FittedTransform | null = null;

  constructor(readonly opts: NetworkOptions) {
    if (!(opts.lookback >= 1)) throw new Error(`lookback must be ≥ 1, got ${opts.lookback}`);
    if (!(opts.horizon >= 1)) throw new Error(`horizon must be ≥ 1, got ${opts.horizon}`);
  }

  private outSize(): number {
    return this.opts.strategy === 'direct' ? this.opts.horizon : 1;
  }

  private build(seed: number): Sequential {
    const o = this.opts;
    const model = new Sequential({ seed, name: 'forecaster' });
    for (let i = 0; i < o.layers; i++) {
      const args = {
        units: o.units,
        returnSequences: i < o.layers - 1,
        ...(i === 0 ? { inputShape: [o.lookback, 1] } : {}),
      };
      model.add(recurrentLayer(o.cell, args));
      if (o.dropout > 0) model.add(new Dropout({ rate: o.dropout }));
    }
    model.add(new Dense({ units: this.outSize() }));
    model.compile({ optimizer: new Adam({ learningRate: o.learningRate }), loss: 'meanSquaredError' });
    return model;
  }

  /** Supervised windows from a transformed series. */
  private windows(z: readonly number[]): { x: Tensor; y: Tensor } {
    const L = this.opts.lookback;
    const H = this.outSize();
    const n = z.length - L - H + 1;
    if (n < 1)
      throw new Error(
        `the series is too short for lookback ${L} and horizon ${this.opts.horizon} after differencing`,
      );
    const x = new Float32Array(n * L);
    const y = new Float32Array(n * H);
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < L; t++) x[i * L + t] = z[i + t];
      for (let h = 0; h < H; h++) y[i * H + h] = z[i + L + h];
    }
    return { x: new Tensor(x, [n, L, 1]), y: new Tensor(y, [n, H]) };
  }

  /**
   * What the network learns: the series itself, or (hybrid) the ETS in-sample residuals — of the log of the series
   * with `log`, so that ETS and the network both work on logs and the sum is exponentiated back.
   */
  private async target(
    values: readonly number[],
  ): Promise<{ series: number[]; etsForecast: number[] | null }> {
    if (this.opts.method !== 'hybrid') return { series: [...values], etsForecast: null };
    const v = this.opts.log ? logValues(values) : values;
    const { forecast, fitted } = await etsWithFitted(v, this.opts.horizon, this.opts.season);
    return { series: v.map((x, i) => x - fitted[i]), etsForecast: forecast };
  }

  private spec(): TransformSpec {
    // Residuals have no trend or season left (and the log, if any, is taken before ETS): scale them only.
    return this.opts.method === 'hybrid' ? { ...this.opts, log: false, differencing: 'none' } : this.opts;
  }

  /**
   * Fits the transform and every ensemble member on the training values. Aborting `signal` (the page's Stop) ends the
   * member in training after its current batch and rejects with the signal's reason.
   */
  async fit(train: readonly number[], threads = 1, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const { series } = await this.target(train);
    const { t, z } = fitTransform(series, this.spec());
    this.transform = t;
    const { x, y } = this.windows(z);
    this.models.length = 0;
    for (const seed of this.opts.seeds) {
      signal?.throwIfAborted();
      const m = this.build(seed);
      await fitStoppingOnNaN(
        m,
        x,
        y,
        { epochs: this.opts.epochs, batchSize: this.opts.batchSize, threads },
        // fit gives the event loop a turn every few batches, where an abort arrives: it stops at the next batch's end.
        { onBatchEnd: () => void (signal?.aborted && (m.stopTraining = true)) },
        'the network',
      );
      signal?.throwIfAborted();
      this.models.push(m);
    }
  }

  /** Forecast of the `horizon` values after `history` (which must use the scale the model was fitted on). */
  async predict(history: readonly number[]): Promise<EnsembleForecast> {
    const t = this.transform;
    if (!t || this.models.length === 0) throw new Error('the forecaster is not fitted');
    const { series, etsForecast } = await this.target(history);
    const z = applyTransform(series, t);
    const L = this.opts.lookback;
    const H = this.opts.horizon;
    if (z.length < L)
      throw new Error(
        `the history is too short: lookback ${L} needs ${L + (series.length - z.length)} points`,
      );
    const members = this.models.map((m) => {
      let zf: number[];
      if (this.opts.strategy === 'direct') {
        zf = Array.from(m.predict(new Tensor(Float32Array.from(z.slice(-L)), [1, L, 1])).data);
      } else {
        const window = z.slice(-L);
        zf = [];
        for (let h = 0; h < H; h++) {
          const next = m.predict(new Tensor(Float32Array.from(window.slice(-L)), [1, L, 1])).data[0];
          zf.push(next);
          window.push(next);
        }
      }
      const part = invertForecast(series, zf, t);
      const sum = etsForecast ? part.map((r, h) => etsForecast[h] + r) : part;
      const f = etsForecast && this.opts.log ? sum.map(Math.exp) : sum;
      if (f.some((v) => !Number.isFinite(v))) throw new Error('the network produced a non-finite forecast');
      return f;
    });
    const mean = members[0].map((_, h) => members.reduce((s, m) => s + m[h], 0) / members.length);
    const std = mean.map((mu, h) =>
      Math.sqrt(members.reduce((s, m) => s + (m[h] - mu) ** 2, 0) / members.length),
    );
    const extents = mean.map((_, h) => valueExtent(members.map((m) => m[h])));
    return { mean, std, lower: extents.map((e) => e.min), upper: extents.map((e) => e.max), members };
  }
}

/**
 * Fits a forecasting network (shuffled batches), stopping at the first non-finite loss or weight with an error that
 * says what went non-finite and where — not epochs later, as a NaN forecast. `callbacks` are the caller's own hooks.
 */
export async function fitStoppingOnNaN(
  m: Sequential,
  x: Tensor,
  y: Tensor,
  args: { epochs: number; batchSize: number; threads: number },
  callbacks: LambdaCallbackArgs,
  what: string,
): Promise<void> {
  const guard = new TerminateOnNaN({ warn: () => undefined });
  await m.fit(x, y, { ...args, shuffle: true, callbacks: [guard, new LambdaCallback(callbacks)] });
  if (guard.reason !== null)
    throw new Error(
      `${what}'s training stopped at epoch ${guard.epoch + 1}: ${guard.reason} ` +
        '(extreme values in the series? try --transform log or box-cox, or fewer --epochs)',
    );
}
