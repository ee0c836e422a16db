/**
 * AttentionWeightedAverage (the pooling layer of textgenrnn and DeepMoji, a Keras custom layer; read so that their
 * saved models load). Over a sequence x [N, T, D] with one weight w [D, 1] ('attention_W'):
 *
 *   l_t = x_t·w,   e_t = exp(l_t − max_t l) · mask_t,   a_t = e_t / (Σ_t e_t + ε)   (ε = 1e-7, Keras's epsilon)
 *   y = Σ_t a_t x_t                                                              → [N, D]
 *
 * Backward, with g_t = δy·x_t: δl_t = a_t (g_t − Σ_k a_k g_k) (the max shift is a constant of the softmax);
 *   δx_t = a_t δy + δl_t wᵀ,   δw = Σ_{n,t} δl_t x_t.
 * Memory per batch: x (a view) and a [N·T].
 */
import { alloc, allocUninitialized } from '../core/backend.js';
import type { Random } from '../core/random.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import {
  initialize,
  initializerSpec,
  type InitializerIdentifier,
  type InitializerSpec,
} from './initializers.js';
import {
  Layer,
  Weight,
  checkOptionKeys,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type SequenceMask,
} from './layer.js';
import { registerLayer } from './registry.js';

export interface AttentionWeightedAverageArgs extends LayerArgs {
  /** Also output the attention weights [N, T] (textgenrnn's return_attention). Not supported: must be false. */
  returnAttention?: boolean;
  kernelInitializer?: InitializerIdentifier;
}

export const ATTENTION_WEIGHTED_AVERAGE_EPSILON = 1e-7;

export class AttentionWeightedAverage extends Layer {
  readonly className = 'AttentionWeightedAverage';
  readonly kernelInitializer: InitializerSpec;
  private x: Tensor | null = null;
  private a: Float32Array = new Float32Array(0);

  constructor(args: AttentionWeightedAverageArgs = {}) {
    super(args, 'attention_weighted_average');
    checkOptionKeys('attentionWeightedAverage', args, ['returnAttention', 'kernelInitializer']);
    if (args.returnAttention)
      throw new Error(`attentionWeightedAverage '${this.name}': returnAttention=true is not supported`);
    this.kernelInitializer = initializerSpec(
      args.kernelInitializer,
      'randomUniform',
      `attentionWeightedAverage '${this.name}': 'kernelInitializer'`,
    );
  }

  protected buildWeights(inputShape: LayerShape, rng: Random): void {
    const D = inputShape[inputShape.length - 1];
    if (inputShape.length !== 2 || D === null)
      throw new Error(`attentionWeightedAverage '${this.name}' expects inputs [batch, time, features]`);
    this.weights = [new Weight('attention_W', [D, 1], initialize(this.kernelInitializer, [D, 1], rng))];
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    if (inputShape.length !== 2)
      throw new Error(
        `attentionWeightedAverage '${this.name}' expects inputs [batch, time, features], got rank ${inputShape.length + 1}`,
      );
    return [inputShape[1]];
  }

  /** The time axis is averaged away, and the mask with it. */
  override computeMask(_x: AnyTensor, _mask: SequenceMask | null): SequenceMask | null {
    return null;
  }

  forward(x: AnyTensor, opts: ForwardOptions): Tensor {
    this.checkInput(x, false);
    const xt = x as Tensor;
    const [N, T, D] = xt.shape;
    const w = this.weights[0].value;
    const a = allocUninitialized(N * T);
    const y = alloc(N * D);
    const mask = opts.mask ?? null;
    for (let n = 0; n < N; n++) {
      let max = -Infinity;
      for (let t = 0; t < T; t++) {
        let l = 0;
        const o = (n * T + t) * D;
        for (let d = 0; d < D; d++) l += xt.data[o + d] * w[d];
        a[n * T + t] = l;
        if (l > max) max = l;
      }
      let s = 0;
      for (let t = 0; t < T; t++) {
        const e = Math.exp(a[n * T + t] - max) * (mask ? mask.data[n * T + t] : 1);
        a[n * T + t] = e;
        s += e;
      }
      for (let t = 0; t < T; t++) {
        const at = a[n * T + t] / (s + ATTENTION_WEIGHTED_AVERAGE_EPSILON);
        a[n * T + t] = at;
        const o = (n * T + t) * D;
        for (let d = 0; d < D; d++) y[n * D + d] += at * xt.data[o + d];
      }
    }
    this.x = xt;
    this.a = a;
    return new Tensor(y, [N, D]);
  }

  backward(dy: Tensor): Tensor {
    const x = this.x!;
    const [N, T, D] = x.shape;
    const a = this.a;
    const w = this.weights[0].value;
    const dw = this.weights[0].grad;
    const dx = alloc(N * T * D);
    const g = new Float64Array(T);
    for (let n = 0; n < N; n++) {
      let mean = 0;
      for (let t = 0; t < T; t++) {
        const o = (n * T + t) * D;
        let gt = 0;
        for (let d = 0; d < D; d++) gt += dy.data[n * D + d] * x.data[o + d];
        g[t] = gt;
        mean += a[n * T + t] * gt;
      }
      for (let t = 0; t < T; t++) {
        const at = a[n * T + t];
        const dl = at * (g[t] - mean);
        const o = (n * T + t) * D;
        for (let d = 0; d < D; d++) {
          dx[o + d] = at * dy.data[n * D + d] + dl * w[d];
          if (this.trainable) dw[d] += dl * x.data[o + d];
        }
      }
    }
    return new Tensor(dx, [N, T, D]);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), returnAttention: false, kernelInitializer: this.kernelInitializer };
  }
}

registerLayer(
  'AttentionWeightedAverage',
  (config) => new AttentionWeightedAverage(config as AttentionWeightedAverageArgs),
);
