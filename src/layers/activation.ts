/** Activation layer: y = f(x) elementwise (softmax over the last axis). Caches y. */
import { copyOf, kernels } from '../core/backend.js';
import type { Random } from '../core/random.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import {
  activateForBackward,
  activationBackward,
  activationCode,
  activationName,
  type ActivationIdentifier,
  type ActivationName,
} from './activations.js';
import {
  Layer,
  StepState,
  checkOptionKeys,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type StepInput,
  type StepOptions,
} from './layer.js';
import { registerLayer } from './registry.js';

export interface ActivationArgs extends LayerArgs {
  activation: ActivationIdentifier;
}

class ActivationStepState extends StepState {
  readonly out: Float32Array;
  constructor(layer: Activation, rows: number, opts: StepOptions) {
    super(layer, rows, layer.stepOutputSize(), opts);
    this.out = kernels().allocPersistent(rows * this.width);
  }
}

export class Activation extends Layer {
  readonly className = 'Activation';
  readonly activation: ActivationName;
  private y: Tensor | null = null;
  /** The inputs, kept when the derivative needs them (gelu, swish, mish, hard_silu). */
  private pre: Float32Array | null = null;
  private logits = false;

  constructor(args: ActivationArgs) {
    super(args, 'activation');
    checkOptionKeys('activation', args, ['activation']);
    this.activation = activationName(args.activation, `activation '${this.name}'`);
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    return inputShape;
  }

  protected buildWeights(_inputShape: LayerShape, _rng: Random): void {}

  override outputActivation(): string | null {
    return this.activation;
  }

  forward(x: AnyTensor, opts: ForwardOptions): Tensor {
    this.checkInput(x, false);
    const t = x as Tensor;
    const last = t.shape[t.shape.length - 1];
    const out = copyOf(t.data);
    this.logits = opts.logits === true;
    this.pre = this.logits ? null : activateForBackward(this.activation, out, t.size / last, last);
    this.y = new Tensor(out, t.shape);
    return this.y;
  }

  backward(dy: Tensor): Tensor {
    if (!this.y) throw new Error(`activation '${this.name}': backward called before forward`);
    const last = dy.shape[dy.shape.length - 1];
    const dx = copyOf(dy.data);
    if (!this.logits) activationBackward(this.activation, this.y.data, this.pre, dx, dy.size / last, last);
    return new Tensor(dx, dy.shape);
  }

  override createStepState(rows: number, opts: StepOptions = {}): ActivationStepState {
    if (opts.tokens) throw new Error(`activation '${this.name}' does not accept token ids`);
    return new ActivationStepState(this, rows, opts);
  }

  override step(input: StepInput, state: StepState): Float32Array {
    const s = this.ownState(state, ActivationStepState);
    this.checkStepInput(input, s);
    s.out.set((input as Float32Array).subarray(0, s.active * s.width));
    const logits = s.opts.logits === true && (this.activation === 'softmax' || this.activation === 'sigmoid');
    if (!logits) kernels().activate(activationCode(this.activation), s.out, 0, s.active, s.width, s.width);
    return s.out;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), activation: this.activation };
  }
}

registerLayer('Activation', (config) => new Activation(config as unknown as ActivationArgs));
