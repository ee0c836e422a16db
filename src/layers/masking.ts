/**
 * Masking (Keras/tfjs): a time step whose features all equal `maskValue` (default 0) is padding. The layer outputs its
 * input with those steps zeroed (Keras: inputs · mask) and the mask any(x ≠ maskValue) over the feature axis, which
 * recurrent layers downstream use to skip the steps. Input [N, T, D]; backward zeroes the masked steps' gradients.
 */
import { describeValue } from '../core/errors.js';
import { allocUninitialized } from '../core/backend.js';
import type { Random } from '../core/random.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import {
  Layer,
  checkOptionKeys,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type SequenceMask,
} from './layer.js';
import { registerLayer } from './registry.js';

export interface MaskingArgs extends LayerArgs {
  /** A step is masked when all its features equal this value. Default 0. */
  maskValue?: number;
}

export class Masking extends Layer {
  readonly className = 'Masking';
  readonly maskValue: number;
  /** [N·T] of the last forward: 1 where the step is kept. */
  private kept: Uint8Array | null = null;

  override get producesMask(): boolean {
    return true;
  }

  constructor(args: MaskingArgs = {}) {
    super(args, 'masking');
    checkOptionKeys('masking', args, ['maskValue']);
    const v = args.maskValue ?? 0;
    if (typeof v !== 'number' || Number.isNaN(v))
      throw new Error(`masking '${this.name}': 'maskValue' must be a number, got ${describeValue(v)}`);
    this.maskValue = v;
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    if (inputShape.length !== 2) {
      throw new Error(
        `masking '${this.name}' expects inputs [batch, time, features], got [batch, ${inputShape.join(', ')}]`,
      );
    }
    return inputShape;
  }

  protected buildWeights(inputShape: LayerShape, _rng: Random): void {
    this.computeOutputShape(inputShape);
  }

  forward(x: AnyTensor, _opts: ForwardOptions): Tensor {
    this.checkInput(x, false);
    const [N, T, D] = x.shape;
    const xs = x.data;
    const kept = new Uint8Array(N * T);
    const out = allocUninitialized(xs.length);
    for (let r = 0; r < N * T; r++) {
      let keep = 0;
      for (let d = r * D; d < (r + 1) * D; d++) {
        if (xs[d] !== this.maskValue) {
          keep = 1;
          break;
        }
      }
      kept[r] = keep;
      if (keep) out.set(xs.subarray(r * D, (r + 1) * D), r * D);
      else out.fill(0, r * D, (r + 1) * D);
    }
    this.kept = kept;
    return new Tensor(out, x.shape);
  }

  backward(dy: Tensor): Tensor {
    const kept = this.kept;
    if (!kept) throw new Error(`masking '${this.name}': backward called before forward`);
    const D = dy.shape[2];
    const dx = allocUninitialized(dy.size);
    for (let r = 0; r < kept.length; r++) {
      if (kept[r]) dx.set(dy.data.subarray(r * D, (r + 1) * D), r * D);
      else dx.fill(0, r * D, (r + 1) * D);
    }
    return new Tensor(dx, dy.shape);
  }

  /** The mask of the last forward's input (this layer ignores any mask it is given, as Keras's Masking does). */
  override computeMask(x: AnyTensor, _inputMask: SequenceMask | null): SequenceMask | null {
    if (!this.kept || this.kept.length !== x.shape[0] * x.shape[1])
      throw new Error(`masking '${this.name}': computeMask before forward`);
    return { data: this.kept, shape: [x.shape[0], x.shape[1]] };
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), maskValue: this.maskValue };
  }
}

registerLayer('Masking', (config) => new Masking(config as unknown as MaskingArgs));
