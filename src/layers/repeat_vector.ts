/**
 * RepeatVector(n) (Keras): repeats a vector n times along a new time axis, [N, D] → [N, n, D]:
 *
 *   y[b, t, :] = x[b, :]  for t < n;     ∂L/∂x[b, :] = Σ_t ∂L/∂y[b, t, :]
 *
 * Used to feed an encoder's summary to every step of a decoder. Memory: nothing kept but N and D.
 */
import { alloc, allocUninitialized, kernels } from '../core/backend.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import {
  Layer,
  checkOptionKeys,
  checkPositiveInt,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
} from './layer.js';
import { registerLayer } from './registry.js';

export interface RepeatVectorArgs extends LayerArgs {
  n: number;
}

export class RepeatVector extends Layer {
  static readonly className = 'RepeatVector';
  readonly className = 'RepeatVector';
  readonly n: number;
  private rows = 0;
  private width = 0;

  constructor(args: RepeatVectorArgs) {
    super(args, 'repeat_vector');
    checkOptionKeys('repeatVector', args, ['n']);
    this.n = checkPositiveInt(`repeatVector '${this.name}'`, 'n', args.n);
  }

  static fromConfig(config: Record<string, unknown>): RepeatVector {
    return new RepeatVector(config as unknown as RepeatVectorArgs);
  }

  protected buildWeights(): void {}

  computeOutputShape(inputShape: LayerShape): LayerShape {
    if (inputShape.length !== 1)
      throw new Error(
        `repeatVector '${this.name}' expects inputs [batch, features], got rank ${inputShape.length + 1}`,
      );
    return [this.n, inputShape[0]];
  }

  forward(x: AnyTensor, _opts: ForwardOptions): Tensor {
    this.checkInput(x, false);
    const [N, D] = x.shape;
    const y = allocUninitialized(N * this.n * D);
    for (let b = 0; b < N; b++) {
      const row = x.data.subarray(b * D, (b + 1) * D) as Float32Array;
      for (let t = 0; t < this.n; t++) y.set(row, (b * this.n + t) * D);
    }
    this.rows = N;
    this.width = D;
    return new Tensor(y, [N, this.n, D]);
  }

  backward(dy: Tensor): Tensor {
    const N = this.rows;
    const D = this.width;
    const dx = alloc(N * D);
    // δx_b = Σ_t δy_{b,t}: the column sums of each batch row's [n, D] block.
    for (let b = 0; b < N; b++) kernels().sumRows(dy.data, b * this.n * D, this.n, D, D, dx, b * D);
    return new Tensor(dx, [N, D]);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), n: this.n };
  }
}

registerLayer('RepeatVector', RepeatVector.fromConfig);
