/**
 * Dropout: during training zeroes each element with probability `rate` and scales the rest by 1/(1−rate)
 * (inverted dropout, as Keras); identity at inference. Caches the mask.
 */
import { alloc, copyOf, kernels } from '../core/backend.js';
import { InvalidInputError, describeValue } from '../core/errors.js';
import { Random } from '../core/random.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import {
  Layer,
  StepState,
  checkOptionKeys,
  checkRate,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type StepInput,
  type StepOptions,
} from './layer.js';
import { registerLayer } from './registry.js';

export interface DropoutArgs extends LayerArgs {
  rate: number;
  seed?: number;
  /** Keras's noise_shape: only all-null (the default) is taken; see the constructor. */
  noiseShape?: readonly (number | null)[] | null;
}

export class Dropout extends Layer {
  readonly className: string = 'Dropout';
  readonly rate: number;
  private mask: Float32Array | null = null;

  constructor(args: DropoutArgs, defaultName = 'dropout', factory = 'dropout') {
    super(args, defaultName);
    checkOptionKeys(factory, args, ['rate', 'seed', 'noiseShape']);
    // Required, as in Keras and tfjs: a forgotten rate is a mistake, not "no dropout".
    if (args.rate === undefined || args.rate === null)
      throw new InvalidInputError(`${factory} '${this.name}': 'rate' is required (a number in [0, 1))`);
    this.rate = checkRate(`${factory} '${this.name}'`, 'rate', args.rate);
    // Keras's noise_shape shares a mask along the axes it sets to 1; taken and ignored, it dropped every element
    // independently instead. Only a shape that changes nothing (no axis given) is taken.
    const noise: unknown = args.noiseShape;
    if (noise !== undefined && noise !== null && !(Array.isArray(noise) && noise.every((d) => d === null)))
      throw new InvalidInputError(
        `${factory} '${this.name}': noiseShape ${describeValue(noise)} is not supported (masks are drawn per ` +
          `element); for one mask per sequence and feature ([batch, 1, features]) use spatialDropout1D`,
      );
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
    const rows = t.shape[0];
    this.mask = dropoutMask(rows, t.size / rows, this.rate, opts, this.salt());
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

  /** Steps are inference: the identity, returning its input. */
  override createStepState(rows: number, opts: StepOptions = {}): StepState {
    if (opts.tokens) throw new Error(`dropout '${this.name}' does not accept token ids`);
    return new StepState(this, rows, this.stepOutputSize(), opts);
  }

  override step(input: StepInput, state: StepState): Float32Array {
    this.checkStepInput(input, this.ownState(state, StepState));
    return input as Float32Array;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), rate: this.rate };
  }
}

registerLayer('Dropout', (config) => new Dropout(config as unknown as DropoutArgs));

/**
 * SpatialDropout1D (Keras): dropout of whole feature channels of a sequence [N, T, D] — one keep/drop draw per
 * (row, channel), the same at every step, scaled by 1/(1−rate); identity at inference.
 */
export class SpatialDropout1D extends Dropout {
  override readonly className = 'SpatialDropout1D';
  private spatialMask: Float32Array | null = null;

  constructor(args: DropoutArgs) {
    // Keras's default name (spatial_dropout1d), not Dropout's.
    super(args, 'spatial_dropout1d', 'spatialDropout1D');
  }

  override computeOutputShape(inputShape: LayerShape): LayerShape {
    if (inputShape.length !== 2)
      throw new Error(
        `spatialDropout1D '${this.name}' expects inputs [batch, time, features], got rank ${inputShape.length + 1}`,
      );
    return inputShape;
  }

  override forward(x: AnyTensor, opts: ForwardOptions): Tensor {
    this.checkInput(x, false);
    const t = x as Tensor;
    if (!opts.training || this.rate === 0) {
      this.spatialMask = null;
      return t;
    }
    const [N, T, D] = t.shape;
    const channels = dropoutMask(N, D, this.rate, opts, this.salt());
    const mask = alloc(N * T * D);
    for (let n = 0; n < N; n++)
      for (let s = 0; s < T; s++) mask.set(channels.subarray(n * D, (n + 1) * D), (n * T + s) * D);
    this.spatialMask = mask;
    const out = copyOf(t.data);
    kernels().mulInPlace(out, 0, mask, 0, out.length);
    return new Tensor(out, t.shape);
  }

  override backward(dy: Tensor): Tensor {
    if (!this.spatialMask) return dy;
    const dx = copyOf(dy.data);
    kernels().mulInPlace(dx, 0, this.spatialMask, 0, dx.length);
    return new Tensor(dx, dy.shape);
  }
}

registerLayer('SpatialDropout1D', (config) => new SpatialDropout1D(config as unknown as DropoutArgs));

/**
 * A [rows, rowLength] mask of 0 and 1/(1−rate). Row r is drawn from its own generator seeded by (batch seed, salt,
 * rowOffset + r), so masks do not depend on how a batch is split across threads.
 */
export function dropoutMask(
  rows: number,
  rowLength: number,
  rate: number,
  opts: ForwardOptions,
  salt: number,
): Float32Array {
  const m = alloc(rows * rowLength);
  const keep = 1 / (1 - rate);
  const first = opts.rowOffset ?? 0;
  for (let r = 0; r < rows; r++) {
    new Random(mixSeed(opts.seed, salt, first + r)).fillMask(
      m,
      r * rowLength,
      (r + 1) * rowLength,
      rate,
      keep,
    );
  }
  return m;
}

/** Mixes three 32-bit values into one seed (murmur3 finaliser rounds). */
export function mixSeed(a: number, b: number, c: number): number {
  let h = (a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(c + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
