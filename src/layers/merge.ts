/**
 * Merge layers for graph models (Keras semantics), k ≥ 2 inputs, no weights:
 *
 *   Concatenate(axis):  y = [x₁ ‖ x₂ ‖ … ‖ x_k] along `axis` (−1 = last; the batch axis 0 cannot be merged).
 *                       Shapes must agree except on `axis`: e.g. [N, T, D₁] ‖ [N, T, D₂] → [N, T, D₁ + D₂].
 *                       Backward splits ∂L/∂y into the k slices.
 *   Add:                y = x₁ + x₂ + … + x_k, all of one shape; ∂L/∂x_i = ∂L/∂y.
 *
 * Memory: Concatenate keeps nothing between forward and backward but the input shapes; Add keeps nothing.
 * Masks (Keras): Concatenate on the last axis gives the AND of its inputs' masks (an input without one counts as all
 * real); on another axis the masks are dropped. Concatenate on the last axis can step (decoders).
 */
import { describeValue } from '../core/errors.js';
import { alloc, allocUninitialized, kernels } from '../core/backend.js';
import type { Random } from '../core/random.js';
import { Tensor, shapeToString, type AnyTensor } from '../core/tensor.js';
import {
  Layer,
  StepState,
  checkOptionKeys,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type SequenceMask,
  type StepInput,
  type StepOptions,
} from './layer.js';
import { registerLayer } from './registry.js';

/** Common to the merge layers: several inputs, one output, no weights, no single-input use. */
abstract class Merge extends Layer {
  /** Input shapes (without batch) the layer was built for. */
  inputShapes: LayerShape[] | null = null;
  protected lastShapes: (readonly number[])[] = [];

  protected buildWeights(): void {}

  override buildMany(inputShapes: LayerShape[], _rng: Random): void {
    this.computeOutputShapes(inputShapes);
    this.inputShapes = inputShapes.map((s) => [...s]);
    this.built = true;
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    return this.computeOutputShapes([inputShape])[0];
  }

  forward(): Tensor {
    throw new Error(`${this.className} '${this.name}' merges several inputs; use it in a functional model`);
  }

  backward(): Tensor | null {
    throw new Error(`${this.className} '${this.name}' merges several inputs; use it in a functional model`);
  }

  protected checkCount(n: number): void {
    if (n < 2) throw new Error(`${this.className} '${this.name}' needs at least 2 inputs, got ${n}`);
  }

  protected floatInputs(xs: AnyTensor[]): Tensor[] {
    this.checkCount(xs.length);
    return xs.map((x) => {
      if (!(x instanceof Tensor))
        throw new Error(`${this.className} '${this.name}' does not accept integer index inputs`);
      return x;
    });
  }
}

export interface ConcatenateArgs extends LayerArgs {
  /** Axis to join along, counting the batch axis as 0; negative counts from the end. Default −1. */
  axis?: number;
}

export class Concatenate extends Merge {
  static readonly className = 'Concatenate';
  readonly className = 'Concatenate';
  readonly axis: number;

  constructor(args: ConcatenateArgs = {}) {
    super(args, 'concatenate');
    checkOptionKeys('concatenate', args, ['axis']);
    const axis = args.axis ?? -1;
    if (!Number.isInteger(axis) || axis === 0)
      throw new Error(
        `concatenate '${this.name}': 'axis' must be a non-zero integer, got ${describeValue(axis)}`,
      );
    this.axis = axis;
  }

  static fromConfig(config: Record<string, unknown>): Concatenate {
    return new Concatenate(config as ConcatenateArgs);
  }

  /** The axis within a shape without batch (rank r). */
  private axisIn(rank: number): number {
    const a = this.axis < 0 ? rank + this.axis : this.axis - 1;
    if (a < 0 || a >= rank)
      throw new Error(`concatenate '${this.name}': axis ${this.axis} is out of range for rank ${rank + 1}`);
    return a;
  }

  override computeOutputShapes(inputShapes: LayerShape[]): LayerShape[] {
    this.checkCount(inputShapes.length);
    const rank = inputShapes[0].length;
    const a = this.axisIn(rank);
    const out = [...inputShapes[0]];
    for (const s of inputShapes.slice(1)) {
      const ok =
        s.length === rank && s.every((d, i) => i === a || d === null || out[i] === null || d === out[i]);
      if (!ok) {
        throw new Error(
          `concatenate '${this.name}': inputs must agree except on axis ${this.axis}; got ` +
            inputShapes.map((x) => shapeToString([null, ...x])).join(', '),
        );
      }
      out[a] = out[a] === null || s[a] === null ? null : (out[a] as number) + (s[a] as number);
    }
    return [out];
  }

  override forwardMany(inputs: AnyTensor[], _opts?: ForwardOptions): Tensor[] {
    const xs = this.floatInputs(inputs);
    const rank = xs[0].shape.length;
    const a = this.axisIn(rank - 1) + 1;
    const outer = xs[0].shape.slice(0, a).reduce((p, d) => p * d, 1);
    const widths = xs.map((x) => {
      if (x.shape.length !== rank || x.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
        throw new Error(
          `concatenate '${this.name}': inputs must agree except on axis ${this.axis}; got ` +
            xs.map((t) => shapeToString(t.shape)).join(', '),
        );
      }
      return x.size / outer;
    });
    const total = widths.reduce((p, w) => p + w, 0);
    const y = allocUninitialized(outer * total);
    let col = 0;
    xs.forEach((x, k) => {
      const w = widths[k];
      for (let o = 0; o < outer; o++) y.set(x.data.subarray(o * w, (o + 1) * w), o * total + col);
      col += w;
    });
    this.lastShapes = xs.map((x) => x.shape);
    const shape = [...xs[0].shape];
    shape[a] = xs.reduce((p, x) => p + x.shape[a], 0);
    return [new Tensor(y, shape)];
  }

  override backwardMany(dys: (Tensor | null)[]): (Tensor | null)[] {
    const dy = dys[0];
    if (!dy) throw new Error(`concatenate '${this.name}': backward without an output gradient`);
    const shapes = this.lastShapes;
    const a = this.axisIn(shapes[0].length - 1) + 1;
    const outer = shapes[0].slice(0, a).reduce((p, d) => p * d, 1);
    const total = dy.size / outer;
    let col = 0;
    return shapes.map((s) => {
      const w = s.reduce((p, d) => p * d, 1) / outer;
      const dx = allocUninitialized(outer * w);
      for (let o = 0; o < outer; o++) dx.set(dy.data.subarray(o * total + col, o * total + col + w), o * w);
      col += w;
      return new Tensor(dx, s);
    });
  }

  private onLastAxis(): boolean {
    return this.axis === -1 || (this.inputShapes !== null && this.axis === this.inputShapes[0].length);
  }

  override computeMasks(xs: AnyTensor[], inputMasks: (SequenceMask | null)[]): (SequenceMask | null)[] {
    const given = inputMasks.filter((m): m is SequenceMask => m !== null && m !== undefined);
    if (given.length === 0 || !this.onLastAxis() || xs[0].shape.length !== 3) return [null];
    const data = new Uint8Array(given[0].data.length);
    data.fill(1);
    for (const m of given) for (let i = 0; i < data.length; i++) data[i] &= m.data[i] ? 1 : 0;
    return [{ data, shape: given[0].shape }];
  }

  private stepWidths(): number[] {
    if (!this.inputShapes) throw new Error(`concatenate '${this.name}' is used before it is built`);
    if (!this.onLastAxis())
      throw new Error(`concatenate '${this.name}': only a concatenation on the last axis can step`);
    return this.inputShapes.map((s) => s[s.length - 1] as number);
  }

  override createStepState(rows: number, opts: StepOptions = {}): StepState {
    if (opts.tokens) throw new Error(`concatenate '${this.name}' steps on float inputs only`);
    const width = this.stepWidths().reduce((a, b) => a + b, 0);
    return new ConcatenateStepState(this, rows, width, opts);
  }

  override stepMany(inputs: readonly StepInput[], state: StepState): Float32Array[] {
    const s = this.ownState(state, ConcatenateStepState);
    const widths = this.stepWidths();
    if (inputs.length !== widths.length)
      throw new Error(
        `concatenate '${this.name}': expected ${widths.length} stepped inputs, got ${inputs.length}`,
      );
    let col = 0;
    inputs.forEach((x, k) => {
      const w = widths[k];
      if (!(x instanceof Float32Array) || x.length !== s.rows * w)
        throw new Error(`concatenate '${this.name}': input ${k} must be ${s.rows}×${w} floats per step`);
      for (let r = 0; r < s.rows; r++) s.out.set(x.subarray(r * w, (r + 1) * w), r * s.width + col);
      col += w;
    });
    return [s.out];
  }

  override step(input: StepInput, state: StepState): Float32Array {
    return this.stepMany([input], state)[0];
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axis: this.axis };
  }
}

class ConcatenateStepState extends StepState {
  readonly out: Float32Array;
  constructor(layer: Layer, rows: number, width: number, opts: StepOptions) {
    super(layer, rows, width, opts);
    this.out = kernels().allocPersistent(rows * width); // kernel memory: the next layer's product reads it in place
  }
}

export type AddArgs = LayerArgs;

export class Add extends Merge {
  static readonly className = 'Add';
  readonly className = 'Add';

  constructor(args: AddArgs = {}) {
    super(args, 'add');
    checkOptionKeys('add', args, []);
  }

  static fromConfig(config: Record<string, unknown>): Add {
    return new Add(config as AddArgs);
  }

  override computeOutputShapes(inputShapes: LayerShape[]): LayerShape[] {
    this.checkCount(inputShapes.length);
    const out = [...inputShapes[0]];
    for (const s of inputShapes.slice(1)) {
      if (s.length !== out.length || s.some((d, i) => d !== null && out[i] !== null && d !== out[i])) {
        throw new Error(
          `add '${this.name}': inputs must have one shape; got ` +
            inputShapes.map((x) => shapeToString([null, ...x])).join(', '),
        );
      }
      s.forEach((d, i) => (out[i] ??= d));
    }
    return [out];
  }

  override forwardMany(inputs: AnyTensor[], _opts?: ForwardOptions): Tensor[] {
    const xs = this.floatInputs(inputs);
    const shape = xs[0].shape;
    for (const x of xs) {
      if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i]))
        throw new Error(
          `add '${this.name}': inputs must have one shape; got ${xs.map((t) => shapeToString(t.shape)).join(', ')}`,
        );
    }
    const y = alloc(xs[0].size);
    for (const x of xs) for (let i = 0; i < y.length; i++) y[i] += x.data[i];
    this.lastShapes = xs.map((x) => x.shape);
    return [new Tensor(y, shape)];
  }

  override backwardMany(dys: (Tensor | null)[]): (Tensor | null)[] {
    const dy = dys[0];
    if (!dy) throw new Error(`add '${this.name}': backward without an output gradient`);
    // Each input gets its own copy: the model may add into one input's gradient in place.
    return this.lastShapes.map(() => {
      const d = allocUninitialized(dy.size);
      d.set(dy.data);
      return new Tensor(d, dy.shape);
    });
  }
}

registerLayer('Concatenate', Concatenate.fromConfig);
registerLayer('Add', Add.fromConfig);
