/**
 * ELU layer (Keras's): y = x > 0 ? x : alpha · (exp(x) − 1), alpha 1 by default. Computed as Keras does: the
 * alpha-1 elu, then its negative side scaled by alpha (kerasRelu with slope alpha, which leaves x > 0 alone).
 * Shapes: any [N, …, D], unchanged. Kept for backward: the input (the alpha-1 elu is recomputed from it).
 */
import { copyOf, kernels } from '../core/backend.js';
import { Act } from '../core/kernels.js';
import { ActivationLayer, finiteOption } from './activation_layer.js';
import { checkOptionKeys, type LayerArgs } from './layer.js';
import { registerLayer } from './registry.js';

export interface ELUArgs extends LayerArgs {
  /** Scale of the negative side. */
  alpha?: number;
}

export const ELU_DEFAULTS = { alpha: 1 } as const;

export class ELU extends ActivationLayer {
  readonly className = 'ELU';
  readonly alpha: number;

  constructor(args: ELUArgs = {}) {
    super(args, 'elu');
    checkOptionKeys('ELU', args, ['alpha']);
    this.alpha = finiteOption(`ELU '${this.name}'`, 'alpha', args.alpha, ELU_DEFAULTS.alpha);
  }

  protected activateInPlace(out: Float32Array, offset: number, rows: number, width: number): void {
    const k = kernels();
    k.activate(Act.Elu, out, offset, rows, width, width);
    // elu(x) < 0 exactly where x < 0: the slope scales just the negative side (below 0, not at it).
    if (this.alpha !== 1) k.kerasRelu(out, offset, rows * width, this.alpha, 0, Infinity);
  }

  protected backwardInPlace(
    x: Float32Array,
    _y: Float32Array,
    dx: Float32Array,
    rows: number,
    width: number,
  ): void {
    const k = kernels();
    const elu = copyOf(x);
    k.activate(Act.Elu, elu, 0, rows, width, width);
    if (this.alpha !== 1) k.kerasReluBackward(elu, 0, dx, 0, rows * width, this.alpha, 0, Infinity);
    k.activateBackward(Act.Elu, elu, 0, dx, 0, rows, width, width);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), alpha: this.alpha };
  }
}

registerLayer('ELU', (config) => new ELU(config as ELUArgs));
