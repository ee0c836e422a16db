/**
 * Softmax layer (Keras's): y = exp(x) / Σ exp(x) over one axis, which recur computes over the last axis only
 * (Keras's default, -1); another axis is refused when the layer is built, naming it. Shapes: any [N, …, D],
 * unchanged. Kept for backward: the output (the row Jacobian follows from it).
 *
 * An incoming sequence mask [N, T] is applied as Keras 3's Softmax applies its mask: masked entries become a large
 * negative number before the softmax and 0 after it, so they get zero probability (and a wholly masked row is all
 * zeros, not uniform). Over an [N, T] input the mask picks entries of each row; over [N, T, …, D] it masks whole rows
 * of its steps. Zero outputs have zero row Jacobian, so backward needs nothing more.
 *
 * As a last layer it is the output's softmax, as Activation('softmax') is: asked for logits (the loss's fused
 * softmax + cross-entropy, the Stepper's sampling) it leaves the softmax out, masked entries kept at the large
 * negative number (zero probability in the loss's softmax too) and given no gradient.
 */
import { copyOf, kernels } from '../core/backend.js';
import { Act } from '../core/kernels.js';
import { ActivationLayer } from './activation_layer.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import { checkOptionKeys, type ForwardOptions, type LayerArgs, type LayerShape } from './layer.js';
import { registerLayer } from './registry.js';

export interface SoftmaxArgs extends LayerArgs {
  /** The axis the probabilities sum to 1 over, counting the batch axis as 0; -1 is the last. */
  axis?: number;
}

export const SOFTMAX_DEFAULTS = { axis: -1 } as const;

/** What Keras's Softmax puts in masked entries before the softmax (its _large_negative_number for float32). */
const KERAS_MASKED_LOGIT = -1e9;

export class Softmax extends ActivationLayer {
  readonly className = 'Softmax';
  readonly axis: number;
  /** The last forward's masked entries, when it output logits: constants, so backward gives them no gradient. */
  private maskedLogits: { mask: Uint8Array; inner: number } | null = null;

  constructor(args: SoftmaxArgs = {}) {
    super(args, 'softmax');
    checkOptionKeys('Softmax', args, ['axis']);
    // Keras 3 writes a one-axis tuple as a list.
    const axis: unknown = Array.isArray(args.axis) && args.axis.length === 1 ? args.axis[0] : args.axis;
    if (axis !== undefined && !Number.isInteger(axis))
      throw new Error(`Softmax '${this.name}': 'axis' must be an integer, got ${JSON.stringify(args.axis)}`);
    this.axis = (axis as number | undefined) ?? SOFTMAX_DEFAULTS.axis;
  }

  override computeOutputShape(inputShape: LayerShape): LayerShape {
    // inputShape has no batch axis: the last axis is inputShape.length, or -1.
    if (this.axis !== -1 && this.axis !== inputShape.length)
      throw new Error(
        `Softmax '${this.name}': axis ${this.axis} of a ${inputShape.length + 1}-D input is not the last axis; ` +
          'recur computes softmax over the last axis only (axis -1)',
      );
    return inputShape;
  }

  override outputActivation(): string | null {
    return 'softmax';
  }

  override forward(x: AnyTensor, opts: ForwardOptions): Tensor {
    const mask = opts.mask ?? null;
    this.maskedLogits = null;
    if (!mask) return super.forward(x, opts);
    this.checkInput(x, false);
    const t = x as Tensor;
    const [N, T] = t.shape;
    if (t.shape.length < 2 || mask.shape[0] !== N || mask.shape[1] !== T)
      throw new Error(
        `Softmax '${this.name}': the mask's shape [${mask.shape.join(', ')}] is not the input's first two axes ` +
          `[${t.shape.slice(0, 2).join(', ')}]`,
      );
    const inner = t.size / (N * T);
    const masked = copyOf(t.data);
    for (let i = 0; i < N * T; i++)
      if (mask.data[i] === 0) masked.fill(KERAS_MASKED_LOGIT, i * inner, (i + 1) * inner);
    const y = super.forward(new Tensor(masked, t.shape), { ...opts, mask: null });
    if (opts.logits === true) this.maskedLogits = { mask: mask.data, inner };
    else for (let i = 0; i < N * T; i++) if (mask.data[i] === 0) y.data.fill(0, i * inner, (i + 1) * inner);
    return y;
  }

  override backward(dy: Tensor): Tensor {
    const dx = super.backward(dy);
    const m = this.maskedLogits;
    if (m)
      for (let i = 0; i < m.mask.length; i++)
        if (m.mask[i] === 0) dx.data.fill(0, i * m.inner, (i + 1) * m.inner);
    return dx;
  }

  protected activateInPlace(out: Float32Array, offset: number, rows: number, width: number): void {
    kernels().activate(Act.Softmax, out, offset, rows, width, width);
  }

  protected backwardInPlace(
    _x: Float32Array,
    y: Float32Array,
    dx: Float32Array,
    rows: number,
    width: number,
  ): void {
    kernels().activateBackward(Act.Softmax, y, 0, dx, 0, rows, width, width);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axis: this.axis };
  }
}

registerLayer('Softmax', (config) => new Softmax(config as SoftmaxArgs));
