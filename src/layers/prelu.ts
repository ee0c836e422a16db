/**
 * PReLU layer (Keras's, tfjs's): y = max(x, 0) + alpha ⊙ min(x, 0), with a trained slope `alpha` ('alpha', shape
 * the input's without the batch axis, 1 on each of `sharedAxes`: shared_axes [1] on [N, T, D] gives one slope per
 * feature, [1, D]). Keras counts axes with the batch axis as 0.
 *
 * Shapes: any [N, …], unchanged. A row of S = Π(input dims) values reads alpha through an index map (row position →
 * alpha position, the shared axes collapsed), so forward gathers the row's slopes once and backward scatters their
 * gradient back (gatherRows / scatterAddRows with width 1):
 *   y = relu(x) + a ⊙ min(x, 0),   δx = δy ⊙ [x > 0] + a ⊙ δy ⊙ [x < 0],   δalpha[i] = Σ_{rows, p → i} δy ⊙ min(x, 0).
 * Kept for backward: the input (a reference) and the row's slopes a [S].
 */
import { alloc, allocUninitialized, copyOf, kernels } from '../core/backend.js';
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
  StepState,
  Weight,
  checkOptionKeys,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type StepInput,
  type StepOptions,
} from './layer.js';
import { registerLayer } from './registry.js';

export interface PReLUArgs extends LayerArgs {
  alphaInitializer?: InitializerIdentifier;
  /** Axes (the batch axis is 0) along which one slope is shared; null: none. */
  sharedAxes?: number | readonly number[] | null;
}

export const PRELU_DEFAULTS = { alphaInitializer: 'zeros', sharedAxes: null } as const;

class PReLUStepState extends StepState {
  readonly out: Float32Array;
  readonly neg: Float32Array;
  constructor(layer: PReLU, rows: number, opts: StepOptions) {
    super(layer, rows, layer.stepOutputSize(), opts);
    this.out = kernels().allocPersistent(rows * this.width);
    this.neg = kernels().allocPersistent(rows * this.width);
  }
}

export class PReLU extends Layer {
  readonly className = 'PReLU';
  readonly alphaInitializer: InitializerSpec;
  readonly sharedAxes: readonly number[] | null;
  private x: Tensor | null = null;
  private slopes: Float32Array | null = null;
  private index: Int32Array | null = null;
  /** The last index map and the row dims it was made for (dims differ only on shared axes). */
  private indexFor = '';

  constructor(args: PReLUArgs = {}) {
    super(args, 'p_re_lu');
    checkOptionKeys('PReLU', args, ['alphaInitializer', 'sharedAxes']);
    const where = `PReLU '${this.name}'`;
    this.alphaInitializer = initializerSpec(
      args.alphaInitializer,
      PRELU_DEFAULTS.alphaInitializer,
      `${where}: 'alphaInitializer'`,
    );
    const shared = args.sharedAxes ?? null;
    const axes = typeof shared === 'number' ? [shared] : shared;
    if (axes !== null && !(Array.isArray(axes) && axes.every((a) => Number.isInteger(a) && a >= 1)))
      throw new Error(
        `${where}: 'sharedAxes' must be null or axes ≥ 1 (the batch axis is 0), got ${JSON.stringify(shared)}`,
      );
    this.sharedAxes = axes === null ? null : [...axes];
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    return inputShape;
  }

  /** alpha's shape for an input shape (batch axis left out): 1 on the shared axes. */
  private alphaShape(inputShape: LayerShape): number[] {
    const where = `PReLU '${this.name}'`;
    for (const a of this.sharedAxes ?? [])
      if (a > inputShape.length)
        throw new Error(`${where}: shared axis ${a} is beyond the ${inputShape.length + 1}-D input`);
    return inputShape.map((d, i) => {
      if (this.sharedAxes?.includes(i + 1)) return 1;
      if (d === null)
        throw new Error(
          `${where}: input axis ${i + 1} has no fixed size, so it needs a slope per position; share it (sharedAxes)`,
        );
      return d;
    });
  }

  protected buildWeights(inputShape: LayerShape, rng: Random): void {
    const shape = this.alphaShape(inputShape);
    this.weights = [new Weight('alpha', shape, initialize(this.alphaInitializer, shape, rng))];
  }

  /** Row position → alpha position for rows of `dims` (an input's shape without the batch axis). */
  private indexMap(dims: readonly number[]): Int32Array {
    const key = dims.join(',');
    if (this.index && this.indexFor === key) return this.index;
    const alpha = this.weights[0].shape;
    const size = dims.reduce((a, b) => a * b, 1);
    // Kept from call to call: ordinary memory (the kernels stage it), not a scope's.
    const index = new Int32Array(size);
    for (let p = 0; p < size; p++) {
      let rest = p;
      let at = 0;
      let stride = 1;
      for (let i = dims.length - 1; i >= 0; i--) {
        const coord = rest % dims[i];
        rest = (rest - coord) / dims[i];
        if (alpha[i] !== 1) at += coord * stride;
        stride *= alpha[i];
      }
      index[p] = at;
    }
    this.index = index;
    this.indexFor = key;
    return index;
  }

  /** The slopes of one row of `dims`, gathered from alpha. */
  private rowSlopes(dims: readonly number[]): { index: Int32Array; slopes: Float32Array } {
    const index = this.indexMap(dims);
    const slopes = allocUninitialized(index.length);
    kernels().gatherRows(index, index.length, this.weights[0].value, 1, slopes, null, false);
    return { index, slopes };
  }

  /** y = relu(x) + slopes ⊙ min(x, 0) on `rows` rows of slopes.length values, from `x` into `out` (`neg`: scratch). */
  private activate(
    x: Float32Array,
    rows: number,
    slopes: Float32Array,
    out: Float32Array,
    neg: Float32Array,
  ): void {
    const k = kernels();
    const S = slopes.length;
    out.set(x.subarray(0, rows * S));
    neg.set(x.subarray(0, rows * S));
    k.kerasRelu(out, 0, rows * S, 0, 0, Infinity);
    // Slope 1 with the clip at 0: min(x, 0).
    k.kerasRelu(neg, 0, rows * S, 1, 0, 0);
    for (let r = 0; r < rows; r++) k.mulInPlace(neg, r * S, slopes, 0, S);
    k.addInPlace(out, 0, neg, 0, rows * S);
  }

  forward(x: AnyTensor, _opts: ForwardOptions): Tensor {
    this.checkInput(x, false);
    const t = x as Tensor;
    const rows = t.shape[0];
    const { slopes } = this.rowSlopes(t.shape.slice(1));
    const out = allocUninitialized(t.size);
    this.activate(t.data, rows, slopes, out, allocUninitialized(t.size));
    this.x = t;
    this.slopes = slopes;
    return new Tensor(out, t.shape);
  }

  backward(dy: Tensor): Tensor {
    const x = this.x;
    const slopes = this.slopes;
    if (!x || !slopes) throw new Error(`PReLU '${this.name}': backward called before forward`);
    const k = kernels();
    const S = slopes.length;
    const rows = x.shape[0];
    const n = rows * S;
    if (this.trainable) {
      // δalpha: Σ over rows of δy ⊙ min(x, 0), then each row position's sum onto its alpha.
      const contributions = copyOf(x.data);
      k.kerasRelu(contributions, 0, n, 1, 0, 0);
      k.mulInPlace(contributions, 0, dy.data, 0, n);
      const perPosition = alloc(S);
      k.sumRows(contributions, 0, rows, S, S, perPosition, 0);
      k.scatterAddRows(this.indexMap(x.shape.slice(1)), S, perPosition, 1, this.weights[0].grad, null);
    }
    const dx = copyOf(dy.data);
    const dxNegative = copyOf(dy.data);
    k.kerasReluBackward(x.data, 0, dx, 0, n, 0, 0, Infinity);
    k.kerasReluBackward(x.data, 0, dxNegative, 0, n, 1, 0, 0);
    for (let r = 0; r < rows; r++) k.mulInPlace(dxNegative, r * S, slopes, 0, S);
    k.addInPlace(dx, 0, dxNegative, 0, n);
    return new Tensor(dx, dy.shape);
  }

  /** Steps take one time step [rows, D] of a [T, D] input, so alpha must be shared over time (or the input 1-D). */
  override createStepState(rows: number, opts: StepOptions = {}): PReLUStepState {
    if (opts.tokens) throw new Error(`PReLU '${this.name}' does not accept token ids`);
    const shape = this.inputShape;
    if (shape && shape.length > 2)
      throw new Error(`PReLU '${this.name}': steps take [time, features] inputs, not ${shape.length}-D ones`);
    if (shape && shape.length === 2 && this.weights[0].shape[0] !== 1)
      throw new Error(
        `PReLU '${this.name}' has a slope per time step (sharedAxes lacks 1), so it cannot run one step at a time`,
      );
    return new PReLUStepState(this, rows, opts);
  }

  override step(input: StepInput, state: StepState): Float32Array {
    const s = this.ownState(state, PReLUStepState);
    this.checkStepInput(input, s);
    const dims = this.inputShape!.length === 2 ? [1, s.width] : [s.width];
    const { slopes } = this.rowSlopes(dims);
    this.activate(input as Float32Array, s.active, slopes, s.out, s.neg);
    return s.out;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), alphaInitializer: this.alphaInitializer, sharedAxes: this.sharedAxes };
  }
}

registerLayer('PReLU', (config) => new PReLU(config as PReLUArgs));
