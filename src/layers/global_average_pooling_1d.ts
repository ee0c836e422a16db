/**
 * GlobalAveragePooling1D (Keras/tfjs): the mean of each feature over the real time steps, [N, T, D] → [N, D]:
 *
 *   y[n, d] = Σ_t m[n, t] x[n, t, d] / Σ_t m[n, t]        ∂L/∂x[n, t, d] = m[n, t] ∂L/∂y[n, d] / Σ_t m[n, t]
 *
 * with m the Keras mask (all ones when there is none), as Keras's masked mean: padding neither adds to the sum nor
 * to the count. A row with no real step gives 0 and passes no gradient (Keras would divide by zero). Memory per
 * batch: the mask reference and N counts. Pooling removes the time axis, so the layer cannot run step by step.
 */
import { alloc } from '../core/backend.js';
import type { Random } from '../core/random.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import {
  checkGlobalPoolingOptions,
  checkPoolingMask,
  globalPoolingOutputShape,
} from './global_max_pooling_1d.js';
import {
  Layer,
  checkOptionKeys,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type SequenceMask,
} from './layer.js';
import { registerLayer } from './registry.js';

export interface GlobalAveragePooling1DArgs extends LayerArgs {
  /** Keras's layout option; recur's sequences are [batch, time, features], so only 'channels_last'. */
  dataFormat?: 'channels_last';
  /** Keras keeps a time axis of length 1 when true; only false (the default) is supported. */
  keepdims?: false;
}

export class GlobalAveragePooling1D extends Layer {
  readonly className = 'GlobalAveragePooling1D';
  private mask: SequenceMask | null = null;
  /** 1 / (real steps) per row, 0 for a row without any (last forward). */
  private inverseCounts: Float64Array = new Float64Array(0);
  private inShape: [number, number, number] = [0, 0, 0];

  constructor(args: GlobalAveragePooling1DArgs = {}) {
    super(args, 'global_average_pooling1d');
    checkOptionKeys('globalAveragePooling1d', args, ['dataFormat', 'keepdims']);
    checkGlobalPoolingOptions(`globalAveragePooling1d '${this.name}'`, args);
  }

  protected buildWeights(inputShape: LayerShape, _rng: Random): void {
    this.computeOutputShape(inputShape);
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    return globalPoolingOutputShape(`globalAveragePooling1d '${this.name}'`, inputShape);
  }

  /** The time axis is pooled away, and the mask with it. */
  override computeMask(_x: AnyTensor, _mask: SequenceMask | null): SequenceMask | null {
    return null;
  }

  forward(x: AnyTensor, opts: ForwardOptions): Tensor {
    this.checkInput(x, false);
    const [N, T, D] = x.shape;
    const mask = opts.mask ?? null;
    checkPoolingMask(`globalAveragePooling1d '${this.name}'`, mask, N, T);
    const xs = x.data;
    const inv = new Float64Array(N);
    const sum = new Float64Array(D);
    const y = alloc(N * D);
    for (let n = 0; n < N; n++) {
      sum.fill(0);
      let count = 0;
      for (let t = 0; t < T; t++) {
        if (mask && mask.data[n * T + t] === 0) continue;
        count++;
        const o = (n * T + t) * D;
        for (let d = 0; d < D; d++) sum[d] += xs[o + d];
      }
      inv[n] = count > 0 ? 1 / count : 0;
      for (let d = 0; d < D; d++) y[n * D + d] = sum[d] * inv[n];
    }
    this.mask = mask;
    this.inverseCounts = inv;
    this.inShape = [N, T, D];
    return new Tensor(y, [N, D]);
  }

  backward(dy: Tensor): Tensor {
    const [N, T, D] = this.inShape;
    const mask = this.mask;
    const dx = alloc(N * T * D);
    for (let n = 0; n < N; n++) {
      const s = this.inverseCounts[n];
      if (s === 0) continue;
      for (let t = 0; t < T; t++) {
        if (mask && mask.data[n * T + t] === 0) continue;
        const o = (n * T + t) * D;
        for (let d = 0; d < D; d++) dx[o + d] = dy.data[n * D + d] * s;
      }
    }
    return new Tensor(dx, [N, T, D]);
  }
}

registerLayer(
  'GlobalAveragePooling1D',
  (config) => new GlobalAveragePooling1D(config as GlobalAveragePooling1DArgs),
);
