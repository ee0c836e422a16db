/**
 * AttentionWeightedAverage (the pooling layer of textgenrnn and DeepMoji, a Keras custom layer; read so that their
 * saved models load). Over a sequence x [N, T, D] with one weight w [D, 1] ('attention_W'):
 *
 *   l_t = x_t·w,   e_t = exp(l_t − max_t l) · mask_t,   a_t = e_t / (Σ_t e_t + ε)   (ε = 1e-7, Keras's epsilon)
 *   y = Σ_t a_t x_t                                                              → [N, D]
 *
 * Backward, with g_t = δy·x_t: δl_t = a_t (g_t − Σ_k a_k g_k) (the max shift is a constant of the softmax);
 *   δx_t = a_t δy + δl_t wᵀ,   δw = Σ_{n,t} δl_t x_t.
 * Memory per batch: x (a view) and a [N·T]. The products are gemm calls; only the per-row normalization is a loop.
 */
import { allocUninitialized, kernels } from '../core/backend.js';
import { Act } from '../core/kernels.js';
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
  /**
   * textgenrnn's is fixed, initializers.get('uniform'): the default. Kept in the config only when another, since
   * textgenrnn's class takes no such argument and Keras refuses a file's config holding it.
   */
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
    const k = kernels();
    const w = this.weights[0].value;
    const a = allocUninitialized(N * T);
    const y = allocUninitialized(N * D);
    // l [N·T, 1] = x [N·T, D] · w [D, 1]
    k.gemm(false, false, N * T, 1, D, xt.data, 0, D, w, 0, 1, a, 0, 1, false);
    normalizeAttention(a, N, T, opts.mask ?? null);
    // y_n [1, D] = a_n [1, T] · x_n [T, D]
    for (let n = 0; n < N; n++)
      k.gemm(false, false, 1, D, T, a, n * T, T, xt.data, n * T * D, D, y, n * D, D, false);
    this.x = xt;
    this.a = a;
    return new Tensor(y, [N, D]);
  }

  backward(dy: Tensor): Tensor {
    const x = this.x!;
    const [N, T, D] = x.shape;
    const k = kernels();
    const a = this.a;
    const w = this.weights[0].value;
    const dx = allocUninitialized(N * T * D);
    const dl = allocUninitialized(N * T);
    for (let n = 0; n < N; n++) {
      // g_n [T, 1] = x_n [T, D] · δy_n [D, 1];  δx_n [T, D] = a_n [T, 1] · δy_n [1, D]
      k.gemm(false, false, T, 1, D, x.data, n * T * D, D, dy.data, n * D, 1, dl, n * T, 1, false);
      k.gemm(false, false, T, D, 1, a, n * T, 1, dy.data, n * D, D, dx, n * T * D, D, false);
    }
    // δl = a ⊙ (g − Σ a g) per row: the softmax row Jacobian with the attention weights as its output.
    k.activateBackward(Act.Softmax, a, 0, dl, 0, N, T, T);
    // δx [N·T, D] += δl [N·T, 1] · wᵀ [1, D];  δw [D, 1] += xᵀ [D, N·T] · δl [N·T, 1]
    k.gemm(false, false, N * T, D, 1, dl, 0, 1, w, 0, D, dx, 0, D, true);
    if (this.trainable)
      k.gemm(true, false, D, 1, N * T, x.data, 0, D, dl, 0, 1, this.weights[0].grad, 0, 1, true);
    return new Tensor(dx, [N, T, D]);
  }

  override getConfig(): Record<string, unknown> {
    const defaultInitializer = initializerSpec(undefined, 'randomUniform');
    const isDefault = JSON.stringify(this.kernelInitializer) === JSON.stringify(defaultInitializer);
    return {
      ...super.getConfig(),
      returnAttention: false,
      ...(isDefault ? {} : { kernelInitializer: this.kernelInitializer }),
    };
  }
}

/**
 * In place, logits l [N, T] → attention weights: per row, e_t = exp(l_t − max_t l) · mask_t, a_t = e_t / (Σ e + ε).
 * Keras's exact steps (the max over masked steps too, the mask after exp, ε), which no kernel computes; O(N·T) — the
 * O(N·T·D) products around it are gemm calls.
 */
function normalizeAttention(a: Float32Array, N: number, T: number, mask: SequenceMask | null): void {
  for (let n = 0; n < N; n++) {
    let max = -Infinity;
    for (let t = 0; t < T; t++) if (a[n * T + t] > max) max = a[n * T + t];
    let s = 0;
    for (let t = 0; t < T; t++) {
      const e = Math.exp(a[n * T + t] - max) * (mask ? mask.data[n * T + t] : 1);
      a[n * T + t] = e;
      s += e;
    }
    for (let t = 0; t < T; t++) a[n * T + t] /= s + ATTENTION_WEIGHTED_AVERAGE_EPSILON;
  }
}

registerLayer(
  'AttentionWeightedAverage',
  (config) => new AttentionWeightedAverage(config as AttentionWeightedAverageArgs),
);
