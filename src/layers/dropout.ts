/**
 * Dropout: during training zeroes each element with probability `rate` and scales the rest by 1/(1−rate)
 * (inverted dropout, as Keras); identity at inference. Caches the mask.
 */
import { alloc, copyOf, kernels } from '../core/backend.js';
import type { Random } from '../core/random.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import {
  Layer,
  checkOptionKeys,
  checkRate,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
} from './layer.js';

export interface DropoutArgs extends LayerArgs {
  rate: number;
  seed?: number;
}

export class Dropout extends Layer {
  readonly className = 'Dropout';
  readonly rate: number;
  private mask: Float32Array | null = null;

  constructor(args: DropoutArgs) {
    super(args, 'dropout');
    checkOptionKeys('dropout', args, ['rate', 'seed', 'noiseShape']);
    this.rate = checkRate(`dropout '${this.name}'`, 'rate', args.rate);
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    return inputShape;
  }

  protected buildWeights(_inputShape: LayerShape, _rng: Random): void {}

  forward(x: AnyTensor, opts: ForwardOptions): Tensor {
    this.checkInput(x, false);
    const t = x as Tensor;
    if (!opts.training || this.rate === 0) {
      this.mask = null;
      return t;
    }
    this.mask = dropoutMask(t.size, this.rate, opts.rng);
    const out = copyOf(t.data);
    kernels().mulInPlace(out, 0, this.mask, 0, out.length);
    return new Tensor(out, t.shape);
  }

  backward(dy: Tensor): Tensor {
    if (!this.mask) return dy;
    const dx = copyOf(dy.data);
    kernels().mulInPlace(dx, 0, this.mask, 0, dx.length);
    return new Tensor(dx, dy.shape);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), rate: this.rate };
  }
}

/** A mask of 0 and 1/(1−rate), drawn from rng. */
export function dropoutMask(n: number, rate: number, rng: Random): Float32Array {
  const m = alloc(n);
  const keep = 1 / (1 - rate);
  for (let i = 0; i < n; i++) m[i] = rng.next() < rate ? 0 : keep;
  return m;
}
