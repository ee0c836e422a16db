/**
 * Keras's ReLU-family layers, all keras.activations.relu with options (the kernel `kerasRelu`):
 *   p = threshold ≠ 0 ? (x > threshold ? x : 0) : max(x, 0), clipped to [0, maxValue] when maxValue is set,
 *   y = p − negativeSlope · max(threshold − x, 0).
 * - ReLU(maxValue = null, negativeSlope = 0, threshold = 0): Keras 2 and 3 (tfjs's ReLU takes maxValue only).
 * - LeakyReLU(alpha = 0.3): y = x > 0 ? x : alpha·x. Keras 2 and tfjs name the slope `alpha`, Keras 3
 *   `negative_slope` (src/keras translates).
 * - ThresholdedReLU(theta = 1): y = x > theta ? x : 0 (Keras 2 and tfjs; Keras 3 dropped it).
 * Shapes: any [N, …, D], unchanged. Kept for backward: the input.
 */
import { kernels } from '../core/backend.js';
import { ActivationLayer, finiteOption } from './activation_layer.js';
import { checkOptionKeys, type LayerArgs } from './layer.js';
import { registerLayer } from './registry.js';

/** The options of kerasRelu (maxValue Infinity: no clip). */
interface ReluOptions {
  negativeSlope: number;
  threshold: number;
  maxValue: number;
}

abstract class ReluFamily extends ActivationLayer {
  protected abstract reluOptions(): ReluOptions;

  protected activateInPlace(out: Float32Array, offset: number, rows: number, width: number): void {
    const o = this.reluOptions();
    kernels().kerasRelu(out, offset, rows * width, o.negativeSlope, o.threshold, o.maxValue);
  }

  protected backwardInPlace(
    x: Float32Array,
    _y: Float32Array,
    dx: Float32Array,
    rows: number,
    width: number,
  ): void {
    const o = this.reluOptions();
    kernels().kerasReluBackward(x, 0, dx, 0, rows * width, o.negativeSlope, o.threshold, o.maxValue);
  }
}

export interface ReLUArgs extends LayerArgs {
  /** Upper clip of the output; null: none. */
  maxValue?: number | null;
  /** Slope below the threshold. */
  negativeSlope?: number;
  /** Inputs above it pass (Keras: `x > threshold`, or `x ≥ 0` for 0). */
  threshold?: number;
}

export const RELU_DEFAULTS = { maxValue: null, negativeSlope: 0, threshold: 0 } as const;

export class ReLU extends ReluFamily {
  readonly className = 'ReLU';
  readonly maxValue: number | null;
  readonly negativeSlope: number;
  readonly threshold: number;

  constructor(args: ReLUArgs = {}) {
    super(args, 're_lu');
    checkOptionKeys('ReLU', args, ['maxValue', 'negativeSlope', 'threshold']);
    const where = `ReLU '${this.name}'`;
    this.maxValue =
      args.maxValue === null || args.maxValue === undefined
        ? RELU_DEFAULTS.maxValue
        : finiteOption(where, 'maxValue', args.maxValue, 0, 0);
    this.negativeSlope = finiteOption(
      where,
      'negativeSlope',
      args.negativeSlope,
      RELU_DEFAULTS.negativeSlope,
      0,
    );
    this.threshold = finiteOption(where, 'threshold', args.threshold, RELU_DEFAULTS.threshold);
  }

  protected reluOptions(): ReluOptions {
    const { negativeSlope, threshold } = this;
    return { negativeSlope, threshold, maxValue: this.maxValue ?? Infinity };
  }

  override getConfig(): Record<string, unknown> {
    const { maxValue, negativeSlope, threshold } = this;
    return { ...super.getConfig(), maxValue, negativeSlope, threshold };
  }
}

export interface LeakyReLUArgs extends LayerArgs {
  /** Slope for x < 0 (Keras 3's negative_slope). */
  alpha?: number;
}

export const LEAKY_RELU_DEFAULTS = { alpha: 0.3 } as const;

export class LeakyReLU extends ReluFamily {
  readonly className = 'LeakyReLU';
  readonly alpha: number;

  constructor(args: LeakyReLUArgs = {}) {
    super(args, 'leaky_re_lu');
    checkOptionKeys('LeakyReLU', args, ['alpha']);
    this.alpha = finiteOption(`LeakyReLU '${this.name}'`, 'alpha', args.alpha, LEAKY_RELU_DEFAULTS.alpha, 0);
  }

  protected reluOptions(): ReluOptions {
    return { negativeSlope: this.alpha, threshold: 0, maxValue: Infinity };
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), alpha: this.alpha };
  }
}

export interface ThresholdedReLUArgs extends LayerArgs {
  /** Inputs above it pass, the rest become 0. */
  theta?: number;
}

export const THRESHOLDED_RELU_DEFAULTS = { theta: 1 } as const;

export class ThresholdedReLU extends ReluFamily {
  readonly className = 'ThresholdedReLU';
  readonly theta: number;

  constructor(args: ThresholdedReLUArgs = {}) {
    super(args, 'thresholded_re_lu');
    checkOptionKeys('ThresholdedReLU', args, ['theta']);
    this.theta = finiteOption(
      `ThresholdedReLU '${this.name}'`,
      'theta',
      args.theta,
      THRESHOLDED_RELU_DEFAULTS.theta,
    );
  }

  protected reluOptions(): ReluOptions {
    return { negativeSlope: 0, threshold: this.theta, maxValue: Infinity };
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), theta: this.theta };
  }
}

registerLayer('ReLU', (config) => new ReLU(config as ReLUArgs));
registerLayer('LeakyReLU', (config) => new LeakyReLU(config as LeakyReLUArgs));
registerLayer('ThresholdedReLU', (config) => new ThresholdedReLU(config as ThresholdedReLUArgs));
