/**
 * SimpleRNN, fused (N batch, T time, D input, H units):
 *
 *   h_t = act(x_t·W + h_{t−1}·U + b)          W [D, H], U [H, H], b [H]
 *
 * Backward: δa_t = (δh_t + δa_{t+1}·Uᵀ) ⊙ act′(h_t); ∂U = Σ_t h_{t−1}ᵀ·δa_t, ∂W = Σ_t x_tᵀ·δa_t (batched GEMMs).
 * Memory per batch (floats): hidden (T+1)·N·H; backward adds T·N·H.
 */
import { alloc, allocUninitialized, kernels } from '../core/backend.js';
import { activationCode } from './activations.js';
import { RNN, type RNNArgs, type RecurrentStepState } from './recurrent.js';
import { registerLayer } from './registry.js';

export type SimpleRNNArgs = RNNArgs;

export class SimpleRNN extends RNN {
  readonly className = 'SimpleRNN';
  protected readonly gates = 1;
  readonly stateCount = 1;

  constructor(args: SimpleRNNArgs) {
    super(args, 'simple_rnn', []);
  }

  protected runSteps(xp: Float32Array): void {
    const { N, T } = this;
    const H = this.units;
    const NH = N * H;
    const k = kernels();
    const act = activationCode(this.activation);
    const U = this.weights[1].value;
    const packedU = this.packedRecurrentKernel();
    for (let s = 0; s < T; s++) {
      const hOff = this.prevH(s);
      k.gemmPackedB(false, N, H, H, this.hm, hOff, H, U, 0, H, packedU, 0, xp, s * NH, H, true);
      k.activate(act, xp, s * NH, N, H, H);
      this.hs.set(xp.subarray(s * NH, (s + 1) * NH), (s + 1) * NH);
      this.keepMaskedRows(s, [this.hs]);
    }
  }

  protected stepCell(s: RecurrentStepState): void {
    const H = this.units;
    s.recurrent(s.xp, H, true);
    kernels().activate(activationCode(this.activation), s.xp, 0, s.active, H, H);
    s.next[0].set(s.xp.subarray(0, s.active * H));
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
    const k = kernels();
    const act = activationCode(this.activation);
    const da = allocUninitialized(T * NH);
    const dh = alloc(NH);
    if (dFinal) dh.set(dFinal[0]);
    for (let s = T - 1; s >= 0; s--) {
      for (let i = 0; i < NH; i++) da[s * NH + i] = dh[i] + dhOut[s * NH + i];
      const held = this.holdMaskedRows(s, [da], [s * NH]);
      k.activateBackward(act, this.hs, (s + 1) * NH, da, s * NH, N, H, H);
      dh.fill(0);
      this.recurrentBackward(da, s * NH, H, 0, dh);
      this.releaseMaskedRows(s, held, [dh]);
    }
    k.gemm(true, false, H, H, T * N, this.hm, 0, H, da, 0, H, this.weights[1].grad, 0, H, true);
    return { dxp: da, dInit: [dh] };
  }
}

registerLayer('SimpleRNN', (config) => new SimpleRNN(config as unknown as SimpleRNNArgs));
