/**
 * The base of Keras's advanced-activation layers (ReLU, LeakyReLU, ThresholdedReLU, ELU, Softmax, PReLU): y = f(x)
 * on each element (per row of the last axis for Softmax), f set by the layer's own options. Shapes: any input
 * [N, …, D], output the same. Kept for backward: the input and the output (x, y: references, no copies).
 * A subclass gives f (`activateInPlace`) and its derivative (`backwardInPlace`); forward, backward and `step` are here.
 * One whose f a loss can absorb (Softmax) reports it by `outputActivation`, and as a last layer leaves f out when
 * asked for logits (forward and step), as Dense and Activation do.
 */
import { copyOf } from '../core/backend.js';
import type { Random } from '../core/random.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import { kernels } from '../core/backend.js';
import {
  Layer,
  StepState,
  type ForwardOptions,
  type LayerShape,
  type StepInput,
  type StepOptions,
} from './layer.js';

class ActivationLayerStepState extends StepState {
  readonly out: Float32Array;
  constructor(layer: ActivationLayer, rows: number, opts: StepOptions) {
    super(layer, rows, layer.stepOutputSize(), opts);
    this.out = kernels().allocPersistent(rows * this.width);
  }
}

/** A number option that must be finite (and ≥ `min` when given); `fallback` when absent. */
export function finiteOption(where: string, key: string, v: unknown, fallback: number, min?: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || (min !== undefined && v < min))
    throw new Error(
      `${where}: '${key}' must be a finite number${min === undefined ? '' : ` ≥ ${min}`}, got ${JSON.stringify(v)}`,
    );
  return v;
}

export abstract class ActivationLayer extends Layer {
  private x: Tensor | null = null;
  private y: Tensor | null = null;
  /** The last forward output logits (f left out), so its backward passes dy through. */
  private logits = false;

  computeOutputShape(inputShape: LayerShape): LayerShape {
    return inputShape;
  }

  protected buildWeights(_inputShape: LayerShape, _rng: Random): void {}

  /** y = f(x) in place on a rows × width block (`offset` its start in `out`). */
  protected abstract activateInPlace(out: Float32Array, offset: number, rows: number, width: number): void;

  /** dx ← dx ⊙ f′ on a rows × width block, from the forward's input x and output y (and the weights). */
  protected abstract backwardInPlace(
    x: Float32Array,
    y: Float32Array,
    dx: Float32Array,
    rows: number,
    width: number,
  ): void;

  /** Whether to leave f out for these options: logits asked of a layer whose f a loss can absorb. */
  private skipsActivation(opts: { logits?: boolean }): boolean {
    return opts.logits === true && this.outputActivation() !== null;
  }

  forward(x: AnyTensor, opts: ForwardOptions): Tensor {
    this.checkInput(x, false);
    const t = x as Tensor;
    const width = t.shape[t.shape.length - 1];
    const out = copyOf(t.data);
    this.logits = this.skipsActivation(opts);
    if (!this.logits) this.activateInPlace(out, 0, t.size / width, width);
    this.x = t;
    this.y = new Tensor(out, t.shape);
    return this.y;
  }

  backward(dy: Tensor): Tensor {
    if (!this.x || !this.y) throw new Error(`layer '${this.name}': backward called before forward`);
    const width = dy.shape[dy.shape.length - 1];
    const dx = copyOf(dy.data);
    if (!this.logits) this.backwardInPlace(this.x.data, this.y.data, dx, dy.size / width, width);
    return new Tensor(dx, dy.shape);
  }

  override createStepState(rows: number, opts: StepOptions = {}): ActivationLayerStepState {
    if (opts.tokens) throw new Error(`layer '${this.name}' (${this.className}) does not accept token ids`);
    return new ActivationLayerStepState(this, rows, opts);
  }

  override step(input: StepInput, state: StepState): Float32Array {
    const s = this.ownState(state, ActivationLayerStepState);
    this.checkStepInput(input, s);
    s.out.set((input as Float32Array).subarray(0, s.active * s.width));
    if (!this.skipsActivation(s.opts)) this.activateInPlace(s.out, 0, s.active, s.width);
    return s.out;
  }
}
