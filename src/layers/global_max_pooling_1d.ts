/**
 * GlobalMaxPooling1D (Keras/tfjs): the largest value of each feature over time, [N, T, D] → [N, D]:
 *
 *   y[n, d] = max_{t: mask[n, t] = 1} x[n, t, d]        ∂L/∂x[n, t, d] = ∂L/∂y[n, d] where t is that argmax, else 0
 *
 * Mask-aware: padded steps never win (a row with no real step gives 0 and passes no gradient), so a batch padded to
 * its longest text pools each text over its own words. Ties go to the earliest step. This is the pooling of the
 * "BiLSTM with max pooling" sentence classifiers (Conneau et al. 2017). Memory per batch: the argmax, [N·D] ints.
 * Pooling removes the time axis, so the layer cannot run step by step (the Layer default refuses).
 */
import { describeValue } from '../core/errors.js';
import { alloc } from '../core/backend.js';
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

export interface GlobalMaxPooling1DArgs extends LayerArgs {
  /** Keras's layout option; recur's sequences are [batch, time, features], so only 'channels_last'. */
  dataFormat?: 'channels_last';
  /** Keras keeps a time axis of length 1 when true; only false (the default) is supported. */
  keepdims?: false;
}

/** Checks the Keras options both global pooling layers share (files carry them). */
export function checkGlobalPoolingOptions(
  where: string,
  args: { dataFormat?: unknown; keepdims?: unknown },
): void {
  if (args.dataFormat !== undefined && args.dataFormat !== null && args.dataFormat !== 'channels_last')
    throw new Error(`${where}: 'dataFormat' must be 'channels_last', got ${describeValue(args.dataFormat)}`);
  if (args.keepdims !== undefined && args.keepdims !== false)
    throw new Error(`${where}: 'keepdims' must be false, got ${describeValue(args.keepdims)}`);
}

/** [batch, time, features] → [features]; anything else is an error naming the layer. */
export function globalPoolingOutputShape(where: string, inputShape: LayerShape): LayerShape {
  if (inputShape.length !== 2)
    throw new Error(`${where} expects inputs [batch, time, features], got rank ${inputShape.length + 1}`);
  return [inputShape[1]];
}

/** The mask's [N, T] must be the input's; a mismatch is a wiring bug, so it fails loudly. */
export function checkPoolingMask(where: string, mask: SequenceMask | null, N: number, T: number): void {
  if (mask && (mask.shape[0] !== N || mask.shape[1] !== T))
    throw new Error(
      `${where}: mask [${mask.shape.join(', ')}] does not fit an input of ${N} rows × ${T} steps`,
    );
}

export class GlobalMaxPooling1D extends Layer {
  readonly className = 'GlobalMaxPooling1D';
  /** x's index of each output's maximum, or −1 for a row without real steps (last forward). */
  private argmax: Int32Array = new Int32Array(0);
  private inShape: [number, number, number] = [0, 0, 0];

  constructor(args: GlobalMaxPooling1DArgs = {}) {
    super(args, 'global_max_pooling1d');
    checkOptionKeys('globalMaxPooling1d', args, ['dataFormat', 'keepdims']);
    checkGlobalPoolingOptions(`globalMaxPooling1d '${this.name}'`, args);
  }

  protected buildWeights(inputShape: LayerShape, _rng: Random): void {
    this.computeOutputShape(inputShape);
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    return globalPoolingOutputShape(`globalMaxPooling1d '${this.name}'`, inputShape);
  }

  /** The time axis is pooled away, and the mask with it. */
  override computeMask(_x: AnyTensor, _mask: SequenceMask | null): SequenceMask | null {
    return null;
  }

  forward(x: AnyTensor, opts: ForwardOptions): Tensor {
    this.checkInput(x, false);
    const [N, T, D] = x.shape;
    const mask = opts.mask ?? null;
    checkPoolingMask(`globalMaxPooling1d '${this.name}'`, mask, N, T);
    const xs = x.data;
    const y = alloc(N * D);
    const arg = new Int32Array(N * D).fill(-1);
    for (let n = 0; n < N; n++) {
      for (let t = 0; t < T; t++) {
        if (mask && mask.data[n * T + t] === 0) continue;
        const o = (n * T + t) * D;
        for (let d = 0; d < D; d++) {
          const i = n * D + d;
          if (arg[i] < 0 || xs[o + d] > y[i]) {
            y[i] = xs[o + d];
            arg[i] = o + d;
          }
        }
      }
    }
    this.argmax = arg;
    this.inShape = [N, T, D];
    return new Tensor(y, [N, D]);
  }

  backward(dy: Tensor): Tensor {
    const [N, T, D] = this.inShape;
    const dx = alloc(N * T * D);
    const arg = this.argmax;
    for (let i = 0; i < N * D; i++) if (arg[i] >= 0) dx[arg[i]] = dy.data[i];
    return new Tensor(dx, [N, T, D]);
  }
}

registerLayer('GlobalMaxPooling1D', (config) => new GlobalMaxPooling1D(config as GlobalMaxPooling1DArgs));
