/** Activation layer: y = f(x) elementwise (softmax over the last axis). Caches y. */
import { copyOf, kernels } from '../core/backend.js';
import type { Random } from '../core/random.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import {
  activationCode,
  activationName,
  type ActivationIdentifier,
  type ActivationName,
} from './activations.js';
import { Layer, checkOptionKeys, type ForwardOptions, type LayerArgs, type LayerShape } from './layer.js';

export interface ActivationArgs extends LayerArgs {
  activation: ActivationIdentifier;
}

export class Activation extends Layer {
  readonly className = 'Activation';
  readonly activation: ActivationName;
  private y: Tensor | null = null;
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
    if (!this.logits) kernels().activate(activationCode(this.activation), out, 0, t.size / last, last, last);
    this.y = new Tensor(out, t.shape);
    return this.y;
  }

  backward(dy: Tensor): Tensor {
    if (!this.y) throw new Error(`activation '${this.name}': backward called before forward`);
    const last = dy.shape[dy.shape.length - 1];
    const dx = copyOf(dy.data);
    if (!this.logits) {
      kernels().activateBackward(
        activationCode(this.activation),
        this.y.data,
        0,
        dx,
        0,
        dy.size / last,
        last,
        last,
      );
    }
    return new Tensor(dx, dy.shape);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), activation: this.activation };
  }
}
