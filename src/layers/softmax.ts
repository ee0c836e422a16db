/**
 * Softmax layer (Keras's): y = exp(x) / Σ exp(x) over one axis, which recur computes over the last axis only
 * (Keras's default, -1); another axis is refused when the layer is built, naming it. Shapes: any [N, …, D],
 * unchanged. Kept for backward: the output (the row Jacobian follows from it).
 */
import { kernels } from '../core/backend.js';
import { Act } from '../core/kernels.js';
import { ActivationLayer } from './activation_layer.js';
import { checkOptionKeys, type LayerArgs, type LayerShape } from './layer.js';
import { registerLayer } from './registry.js';

export interface SoftmaxArgs extends LayerArgs {
  /** The axis the probabilities sum to 1 over, counting the batch axis as 0; -1 is the last. */
  axis?: number;
}

export const SOFTMAX_DEFAULTS = { axis: -1 } as const;

export class Softmax extends ActivationLayer {
  readonly className = 'Softmax';
  readonly axis: number;

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
