/**
 * LSTM, fused (Keras gate order i, f, g, o; N batch, T time, D input, H units):
 *
 *   [zi zf zg zo] = x_t·W + h_{t−1}·U + b          W [D, 4H], U [H, 4H], b [4H]
 *   i = σ(zi)   f = σ(zf)   g = act(zg)   o = σ(zo)   (σ = recurrentActivation, default sigmoid)
 *   c_t = f ⊙ c_{t−1} + i ⊙ g
 *   h_t = o ⊙ act(c_t)                               (act = activation, default tanh)
 *
 * Backward, per step in reverse (δ = ∂L/∂·):
 *   δc = δc_{t+1}·f_{t+1} + δh ⊙ o ⊙ act′(c_t);   δzi = δc⊙g⊙σ′, δzf = δc⊙c_{t−1}⊙σ′, δzg = δc⊙i⊙act′, δzo = δh⊙act(c_t)⊙σ′
 *   δh_{t−1} = δz·Uᵀ;  then ∂U = Σ_t h_{t−1}ᵀ·δz_t and ∂W = Σ_t x_tᵀ·δz_t as single GEMMs over all T·N rows.
 *
 * Memory per batch (floats): activated gates T·N·4H, cells (T+1)·N·H, hidden (T+1)·N·H, input projection reused
 * as the gate buffer; backward adds T·N·4H for δz.
 * `unitForgetBias` (Keras default true) starts the forget-gate bias at 1.
 */
import { alloc, allocUninitialized, copyOf, kernels } from '../core/backend.js';
import type { Random } from '../core/random.js';
import {
  activationCode,
  recurrentActivationName,
  type ActivationIdentifier,
  type ActivationName,
} from './activations.js';
import { RNN, RNN_DEFAULTS, type RNNArgs, type RecurrentStepState } from './recurrent.js';
import { ForwardCache, ForwardCacheKey, checkBoolean } from './layer.js';
import { registerLayer } from './registry.js';

export interface LSTMArgs extends RNNArgs {
  recurrentActivation?: ActivationIdentifier;
  unitForgetBias?: boolean;
}

export const LSTM_DEFAULTS = { ...RNN_DEFAULTS, unitForgetBias: true } as const;

const LSTM_FIELDS = new ForwardCacheKey<{ gateCache: Float32Array; cs: Float32Array }>('lstm');

export class LSTM extends RNN {
  readonly className = 'LSTM';
  protected readonly gates = 4;
  readonly stateCount = 2;
  readonly recurrentActivation: ActivationName;
  readonly unitForgetBias: boolean;
  private gateCache: Float32Array = new Float32Array(0); // [T·N·4H] activated gates
  private cs: Float32Array = new Float32Array(0); // [(T+1)·N·H]

  protected override saveForwardFields(cache: ForwardCache): void {
    super.saveForwardFields(cache);
    cache.set(LSTM_FIELDS, { gateCache: this.gateCache, cs: this.cs });
  }

  protected override restoreForwardFields(cache: ForwardCache): void {
    super.restoreForwardFields(cache);
    ({ gateCache: this.gateCache, cs: this.cs } = cache.get(LSTM_FIELDS));
  }

  constructor(args: LSTMArgs) {
    super(args, 'lstm', ['recurrentActivation', 'unitForgetBias']);
    this.recurrentActivation = recurrentActivationName(
      args.recurrentActivation ?? LSTM_DEFAULTS.recurrentActivation,
      `lstm '${this.name}'`,
      'recurrentActivation',
    );
    this.unitForgetBias = checkBoolean(
      `lstm '${this.name}'`,
      'unitForgetBias',
      args.unitForgetBias,
      LSTM_DEFAULTS.unitForgetBias,
    );
  }

  protected override initialBias(rng: Random): Float32Array {
    const b = super.initialBias(rng);
    if (this.unitForgetBias) b.fill(1, this.units, 2 * this.units);
    return b;
  }

  protected runSteps(xp: Float32Array, extra: Float32Array[]): void {
    const { N, T } = this;
    const H = this.units;
    const NH = N * H;
    const k = kernels();
    const U = this.weights[1].value;
    const act = activationCode(this.activation);
    const rec = activationCode(this.recurrentActivation);
    this.cs = allocUninitialized((T + 1) * NH);
    this.cs.set(extra[0]);
    const packedU = this.packedRecurrentKernel();
    for (let s = 0; s < T; s++) {
      const hOff = this.prevH(s);
      k.gemmPackedB(
        false,
        N,
        4 * H,
        H,
        this.hm,
        hOff,
        H,
        U,
        0,
        4 * H,
        packedU,
        0,
        xp,
        s * N * 4 * H,
        4 * H,
        true,
      );
      k.lstmCellForward(
        N,
        H,
        xp,
        s * N * 4 * H,
        this.cs,
        s * NH,
        this.cs,
        (s + 1) * NH,
        this.hs,
        (s + 1) * NH,
        act,
        rec,
      );
      this.keepMaskedRows(s, [this.hs, this.cs]);
    }
    this.gateCache = xp;
  }

  protected stepCell(s: RecurrentStepState): void {
    const H = this.units;
    const act = activationCode(this.activation);
    const rec = activationCode(this.recurrentActivation);
    s.recurrent(s.xp, 4 * H, true);
    kernels().lstmCellForward(s.active, H, s.xp, 0, s.states[1], 0, s.next[1], 0, s.next[0], 0, act, rec);
    s.swap();
  }

  protected finalExtraStates(): Float32Array[] {
    return [copyOf(this.cs.subarray(this.T * this.N * this.units))];
  }

  protected backSteps(
    dhOut: Float32Array,
    dFinal: Float32Array[] | null,
  ): { dxp: Float32Array; dInit: Float32Array[] } {
    const { N, T } = this;
    const H = this.units;
    const NH = N * H;
    const k = kernels();
    const act = activationCode(this.activation);
    const rec = activationCode(this.recurrentActivation);
    const dz = allocUninitialized(T * N * 4 * H);
    const dh = alloc(NH);
    const dc = alloc(NH);
    if (dFinal) {
      dh.set(dFinal[0]);
      dc.set(dFinal[1]);
    }
    for (let s = T - 1; s >= 0; s--) {
      k.addInPlace(dh, 0, dhOut, s * NH, NH);
      const held = this.holdMaskedRows(s, [dh, dc]);
      k.lstmCellBackward(
        N,
        H,
        this.gateCache,
        s * N * 4 * H,
        this.cs,
        s * NH,
        this.cs,
        (s + 1) * NH,
        dh,
        dc,
        dz,
        s * N * 4 * H,
        act,
        rec,
      );
      dh.fill(0);
      this.recurrentBackward(dz, s * N * 4 * H, 4 * H, 0, dh);
      this.releaseMaskedRows(s, held, [dh, dc]);
    }
    // ∂U = Σ_s h_{s−1}ᵀ·δz_s, all steps at once.
    k.gemm(true, false, H, 4 * H, T * N, this.hm, 0, H, dz, 0, 4 * H, this.weights[1].grad, 0, 4 * H, true);
    return { dxp: dz, dInit: [dh, dc] };
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      recurrentActivation: this.recurrentActivation,
      unitForgetBias: this.unitForgetBias,
    };
  }
}

registerLayer(
  'LSTM',
  (config) => new LSTM(config as unknown as LSTMArgs),
  {},
  { recurrentActivation: 'hardSigmoid' },
);
