/**
 * GRU, fused (Keras gate order z, r, h; N batch, T time, D input, H units). Two variants, as Keras:
 *
 * resetAfter = true (TF2 Keras default, cuDNN-compatible), b [2, 3H] = [input bias; recurrent bias]:
 *   xp = x_t·W + b_in,  rp = h_{t−1}·U + b_rec
 *   z = σ(xp_z + rp_z)   r = σ(xp_r + rp_r)   ĥ = act(xp_h + r ⊙ rp_h)
 * resetAfter = false (Keras 1/tfjs), b [3H]:
 *   z = σ(xp_z + h_{t−1}·U_z)   r = σ(xp_r + h_{t−1}·U_r)   ĥ = act(xp_h + (r ⊙ h_{t−1})·U_h)
 * both:
 *   h_t = z ⊙ h_{t−1} + (1 − z) ⊙ ĥ
 *
 * Backward per step in reverse: δz = δh⊙(h_{t−1}−ĥ)⊙σ′, δâ = δh⊙(1−z)⊙act′, δr = δâ⊙(rp_h or ∂(r⊙h)·…)⊙σ′,
 * δh_{t−1} = δh⊙z + (recurrent pre-activation grads)·Uᵀ; ∂U and ∂W are GEMMs batched over all timesteps.
 * Memory per batch (floats): gates T·N·3H, hidden (T+1)·N·H, plus T·N·3H (rp, resetAfter) or T·N·H (r⊙h).
 */
import { alloc, allocUninitialized, kernels } from '../core/backend.js';
import {
  activationCode,
  recurrentActivationName,
  type ActivationIdentifier,
  type ActivationName,
} from './activations.js';
import { RNN, RNN_DEFAULTS, type RNNArgs, type RecurrentStepState } from './recurrent.js';
import { ForwardCache, ForwardCacheKey, checkBoolean } from './layer.js';
import { registerLayer } from './registry.js';
import type { StepProduct } from './step_weights.js';

export interface GRUArgs extends RNNArgs {
  recurrentActivation?: ActivationIdentifier;
  /** Apply the reset gate after the recurrent matmul (TF2 Keras default true; tfjs supports only false). */
  resetAfter?: boolean;
}

export const GRU_DEFAULTS = { ...RNN_DEFAULTS, resetAfter: true } as const;

const GRU_FIELDS = new ForwardCacheKey<{ gateCache: Float32Array; aux: Float32Array }>('gru');

export class GRU extends RNN {
  readonly className = 'GRU';
  protected readonly gates = 3;
  readonly stateCount = 1;
  readonly recurrentActivation: ActivationName;
  readonly resetAfter: boolean;
  private gateCache: Float32Array = new Float32Array(0); // [T·N·3H]: z, r, ĥ
  private aux: Float32Array = new Float32Array(0); // resetAfter: rp [T·N·3H]; else r⊙h_{t−1} [T·N·H]

  protected override saveForwardFields(cache: ForwardCache): void {
    super.saveForwardFields(cache);
    cache.set(GRU_FIELDS, { gateCache: this.gateCache, aux: this.aux });
  }

  protected override restoreForwardFields(cache: ForwardCache): void {
    super.restoreForwardFields(cache);
    ({ gateCache: this.gateCache, aux: this.aux } = cache.get(GRU_FIELDS));
  }

  constructor(args: GRUArgs) {
    super(args, 'gru', ['recurrentActivation', 'resetAfter']);
    this.recurrentActivation = recurrentActivationName(
      args.recurrentActivation ?? GRU_DEFAULTS.recurrentActivation,
      `gru '${this.name}'`,
      'recurrentActivation',
    );
    this.resetAfter = checkBoolean(
      `gru '${this.name}'`,
      'resetAfter',
      args.resetAfter,
      GRU_DEFAULTS.resetAfter,
    );
  }

  protected override biasShape(): number[] {
    return this.resetAfter ? [2, 3 * this.units] : [3 * this.units];
  }

  protected runSteps(xp: Float32Array): void {
    const { N, T } = this;
    const H = this.units;
    const NH = N * H;
    const G = 3 * H;
    const k = kernels();
    const U = this.weights[1].value;
    const act = activationCode(this.activation);
    const rec = activationCode(this.recurrentActivation);
    const hs = this.hs;
    this.aux = allocUninitialized(this.resetAfter ? T * N * G : T * NH);
    const aux = this.aux;
    const packedU = this.resetAfter ? this.packedRecurrentKernel() : null;
    for (let s = 0; s < T; s++) {
      const hOff = this.prevH(s);
      const g0 = s * N * G;
      if (this.resetAfter) {
        k.gemmPackedB(false, N, G, H, this.hm, hOff, H, U, 0, G, packedU!, 0, aux, g0, G, false);
        if (this.useBias) k.addBias(aux, g0, N, G, G, this.weights[2].value, G);
        k.gruCellForward(N, H, xp, g0, aux, g0, hs, s * NH, hs, (s + 1) * NH, act, rec);
      } else {
        k.gemm(false, false, N, 2 * H, H, this.hm, hOff, H, U, 0, G, xp, g0, G, true);
        k.gruResetGate(N, H, xp, g0, this.hm, hOff, aux, s * NH, rec);
        k.gemm(false, false, N, H, H, aux, s * NH, H, U, 2 * H, G, xp, g0 + 2 * H, G, true);
        k.gruResetOutput(N, H, xp, g0, hs, s * NH, hs, (s + 1) * NH, act);
      }
      this.keepMaskedRows(s, [hs]);
    }
    this.gateCache = xp;
  }

  protected override stepRecurrentProduct(rows: number, weightsFixed: boolean): StepProduct | null {
    return this.resetAfter ? super.stepRecurrentProduct(rows, weightsFixed) : null;
  }

  protected stepCell(s: RecurrentStepState): void {
    const k = kernels();
    const H = this.units;
    const B = s.active;
    const h = s.states[0];
    const hNext = s.next[0];
    const xp = s.xp;
    const aux = s.aux;
    const act = activationCode(this.activation);
    const rec = activationCode(this.recurrentActivation);
    if (this.resetAfter) {
      s.recurrent(aux, 3 * H, false);
      if (s.bias) k.addBias(aux, 0, B, 3 * H, 3 * H, s.bias, 3 * H);
      k.gruCellForward(B, H, xp, 0, aux, 0, h, 0, hNext, 0, act, rec);
    } else {
      const U = s.recurrentKernel!;
      k.gemm(false, false, B, 2 * H, H, h, 0, H, U, 0, 3 * H, xp, 0, 3 * H, true);
      k.gruResetGate(B, H, xp, 0, h, 0, aux, 0, rec);
      k.gemm(false, false, B, H, H, aux, 0, H, U, 2 * H, 3 * H, xp, 2 * H, 3 * H, true);
      k.gruResetOutput(B, H, xp, 0, h, 0, hNext, 0, act);
    }
    s.swap();
  }

  protected finalExtraStates(): Float32Array[] {
    return [];
  }

  protected backSteps(
    dhOut: Float32Array,
    dFinal: Float32Array[] | null,
  ): { dxp: Float32Array; dInit: Float32Array[] } {
    const { N, T } = this;
    const H = this.units;
    const NH = N * H;
    const G = 3 * H;
    const k = kernels();
    const act = activationCode(this.activation);
    const rec = activationCode(this.recurrentActivation);
    const gates = this.gateCache;
    const hs = this.hs;
    const aux = this.aux;
    const dxp = alloc(T * N * G);
    const drp = this.resetAfter ? alloc(T * N * G) : null;
    const dh = alloc(NH);
    const dhm = alloc(NH);
    if (dFinal) dh.set(dFinal[0]);
    for (let s = T - 1; s >= 0; s--) {
      const g0 = s * N * G;
      k.addInPlace(dh, 0, dhOut, s * NH, NH);
      const held = this.holdMaskedRows(s, [dh]);
      const next = alloc(NH); // δh_{t−1}
      if (drp) {
        k.gruCellBackward(N, H, gates, g0, aux, g0, hs, s * NH, dh, dxp, g0, drp, g0, next, act, rec);
        this.recurrentBackward(drp, g0, G, 0, next);
      } else {
        k.gruResetOutputBackward(N, H, gates, g0, hs, s * NH, dh, dxp, g0, next, act, rec);
        // δ(r⊙h_m) = δâ·U_hᵀ
        const drh = allocUninitialized(NH);
        k.gemm(false, false, N, H, H, dxp, g0 + 2 * H, G, this.uT, 2 * H * H, H, drh, 0, H, false);
        k.gruResetGateBackward(N, H, gates, g0, this.hm, s * NH, drh, dxp, g0, dhm, rec);
        // δh_m += [δz δr]·U_zrᵀ; then through the recurrent-dropout mask into δh_{t−1}.
        k.gemm(false, false, N, H, 2 * H, dxp, g0, G, this.uT, 0, H, dhm, 0, H, true);
        if (this.recMask) k.mulInPlace(dhm, 0, this.recMask, 0, NH);
        k.addInPlace(next, 0, dhm, 0, NH);
      }
      this.releaseMaskedRows(s, held, [next]);
      dh.set(next);
    }
    const dU = this.weights[1].grad;
    if (drp) {
      k.gemm(true, false, H, G, T * N, this.hm, 0, H, drp, 0, G, dU, 0, G, true);
      if (this.useBias) k.sumRows(drp, 0, T * N, G, G, this.weights[2].grad, G);
    } else {
      k.gemm(true, false, H, 2 * H, T * N, this.hm, 0, H, dxp, 0, G, dU, 0, G, true);
      k.gemm(true, false, H, H, T * N, aux, 0, H, dxp, 2 * H, G, dU, 2 * H, G, true);
    }
    return { dxp, dInit: [dh] };
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      recurrentActivation: this.recurrentActivation,
      resetAfter: this.resetAfter,
    };
  }
}

// Keras/tfjs files without reset_after were written by versions whose GRU reset before the recurrent product.
registerLayer(
  'GRU',
  (config) => new GRU(config as unknown as GRUArgs),
  { resetAfter: false },
  { recurrentActivation: 'hardSigmoid' },
);
