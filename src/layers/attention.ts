/**
 * Keras's dot-product attention layers for decoders. Inputs [query, value] or [query, value, key] (key = value when
 * omitted): query Q [N, Tq, D], value V [N, Tv, Dv], key K [N, Tv, D]. Output O [N, Tq, Dv]:
 *
 *   Attention (Luong, score_mode 'dot'):   S = s · Q·Kᵀ              s a scalar weight (init 1) when use_scale, else 1
 *   AdditiveAttention (Bahdanau):          S_ij = Σ_d w_d · tanh(Q_id + K_jd)   w [D] (glorot init) when use_scale, else 1
 *   use_causal_mask: step i sees only j ≤ i (S_ij = −∞ for j > i, as Keras's −1e9)
 *   masks (Keras): the value's mask hides padded value steps j (S_ij = −∞; a row with no real step sees them all, as
 *   Keras's −1e9 does); the query's mask zeroes the output at padded query steps and is the output's mask.
 *   A = softmax(S) over j;   O = A·V
 *
 * Backward (δ = ∂L/∂·): δA = δO·Vᵀ, δV = Aᵀ·δO, δS_ij = A_ij (δA_ij − Σ_j' A_ij' δA_ij'); then
 *   dot:       δQ = s·δS·K,  δK = s·δSᵀ·Q,  δs = Σ δS ⊙ Q·Kᵀ
 *   additive:  δP_ijd = δS_ij · w_d · (1 − E_ijd²) with E = tanh(Q_i + K_j);  δQ_id = Σ_j δP, δK_jd = Σ_i δP, δw_d = Σ δS ⊙ E
 *   and with no key input δV gets δK too.
 *
 * The products (Q·Kᵀ, A·V and their gradients) are GEMM kernel calls, one per batch row b (float32, like every other
 * layer); the softmax and δS rows sum in float64. The additive scores are a float64 loop (Keras's tanh form has no
 * product to hand to a kernel).
 *
 * Memory per batch: A (and Q·Kᵀ) N·Tq·Tv floats; the additive form keeps E, N·Tq·Tv·D.
 * Attention dropout (Keras `dropout`) is not supported: only 0 is accepted.
 */
import { alloc, allocUninitialized, copyOf, kernels } from '../core/backend.js';
import { Act } from '../core/kernels.js';
import type { Random } from '../core/random.js';
import { Tensor, shapeToString, type AnyTensor } from '../core/tensor.js';
import { initialize, initializerSpec } from './initializers.js';
import { stepWeights } from './step_weights.js';
import {
  ForwardCache,
  ForwardCacheKey,
  Layer,
  StepState,
  Weight,
  checkOptionKeys,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type SequenceMask,
  type StepConstant,
  type StepInput,
  type StepOptions,
  checkBoolean,
} from './layer.js';
import { registerLayer } from './registry.js';

export interface BaseAttentionArgs extends LayerArgs {
  useScale?: boolean;
  /** Mask future steps (decoder self-attention). Keras passes it at call time; recur keeps it on the layer. */
  useCausalMask?: boolean;
  /** Fraction of attention weights dropped; only 0 is supported. */
  dropout?: number;
}

interface AttentionForwardFields {
  N: number;
  Tq: number;
  Tv: number;
  D: number;
  Dv: number;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  a: Float32Array;
  keyGiven: boolean;
  qMask: Uint8Array | null;
  vMask: Uint8Array | null;
}
const ATTENTION_FIELDS = new ForwardCacheKey<AttentionForwardFields>('attention');
const DOT_SCORE_FIELDS = new ForwardCacheKey<{ qk: Float32Array }>('dot score');
const ADDITIVE_SCORE_FIELDS = new ForwardCacheKey<{ e: Float64Array }>('additive score');

abstract class BaseAttention extends Layer {
  readonly useScale: boolean;
  readonly useCausalMask: boolean;
  inputShapes: LayerShape[] | null = null;
  // Forward cache.
  protected N = 0;
  protected Tq = 0;
  protected Tv = 0;
  protected D = 0;
  protected Dv = 0;
  protected q: Float32Array = new Float32Array(0);
  protected k: Float32Array = new Float32Array(0);
  protected v: Float32Array = new Float32Array(0);
  protected a: Float32Array = new Float32Array(0);
  private keyGiven = false;
  /** The query's and the value's masks of the last forward ([N, Tq], [N, Tv]), when given. */
  private qMask: Uint8Array | null = null;
  private vMask: Uint8Array | null = null;

  constructor(
    args: BaseAttentionArgs,
    prefix: string,
    extraKeys: readonly string[],
    useScaleDefault: boolean,
  ) {
    super(args, prefix);
    checkOptionKeys(prefix, args, ['useScale', 'useCausalMask', 'dropout', 'causal', ...extraKeys]);
    this.useScale = checkBoolean(`${prefix} '${this.name}'`, 'useScale', args.useScale, useScaleDefault);
    const legacyCausal = (args as { causal?: unknown }).causal;
    this.useCausalMask = checkBoolean(
      `${prefix} '${this.name}'`,
      'useCausalMask',
      args.useCausalMask,
      legacyCausal === true,
    );
    if ((args.dropout ?? 0) !== 0)
      throw new Error(`${prefix} '${this.name}': attention dropout is not supported (got ${args.dropout})`);
  }

  /** Raw scores S [N·Tq·Tv] from the cached q, k; caches what scoresBackward needs. */
  protected abstract scores(): ArrayLike<number>;
  /** Accumulates weight gradients; returns δQ [N·Tq·D] and δK [N·Tv·D] (kernel memory) from δS. */
  protected abstract scoresBackward(dS: Float32Array): { dq: Float32Array; dk: Float32Array };

  override computeOutputShapes(inputShapes: LayerShape[]): LayerShape[] {
    const where = `${this.className} '${this.name}'`;
    if (inputShapes.length !== 2 && inputShapes.length !== 3)
      throw new Error(
        `${where} takes inputs [query, value] or [query, value, key], got ${inputShapes.length}`,
      );
    const [q, v, k = v] = inputShapes;
    const show = (): string => inputShapes.map((s) => shapeToString([null, ...s])).join(', ');
    if (q.length !== 2 || v.length !== 2 || k.length !== 2)
      throw new Error(`${where}: query, value and key must be [batch, time, features]; got ${show()}`);
    if (q[1] === null || k[1] === null || v[1] === null || q[1] !== k[1])
      throw new Error(`${where}: query and key must have one known feature size; got ${show()}`);
    if (k[0] !== null && v[0] !== null && k[0] !== v[0])
      throw new Error(`${where}: key and value must have the same number of steps; got ${show()}`);
    if (this.useCausalMask && q[0] !== null && v[0] !== null && q[0] !== v[0])
      throw new Error(`${where}: the causal mask needs as many query steps as value steps; got ${show()}`);
    return [[q[0], v[1]]];
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    return this.computeOutputShapes([inputShape])[0];
  }

  override buildMany(inputShapes: LayerShape[], rng: Random): void {
    this.computeOutputShapes(inputShapes);
    this.inputShapes = inputShapes.map((s) => [...s]);
    this.buildWeights(inputShapes[0], rng);
    this.finishBuild();
  }

  forward(): Tensor {
    throw new Error(
      `${this.className} '${this.name}' takes [query, value(, key)]; use it in a functional model`,
    );
  }

  backward(): Tensor | null {
    throw new Error(
      `${this.className} '${this.name}' takes [query, value(, key)]; use it in a functional model`,
    );
  }

  override forwardMany(inputs: AnyTensor[], opts?: ForwardOptions): Tensor[] {
    const where = `${this.className} '${this.name}'`;
    if (!this.built) throw new Error(`${where} is used before it is built`);
    if (inputs.length !== 2 && inputs.length !== 3)
      throw new Error(`${where} takes inputs [query, value] or [query, value, key], got ${inputs.length}`);
    for (const x of inputs)
      if (!(x instanceof Tensor)) throw new Error(`${where} does not accept integer index inputs`);
    const [q, v, k = v] = inputs as Tensor[];
    this.computeOutputShapes([q.shape.slice(1), v.shape.slice(1), k.shape.slice(1)]);
    if (q.shape[0] !== v.shape[0] || k.shape[0] !== v.shape[0])
      throw new Error(`${where}: query, value and key must have one batch size`);
    this.keyGiven = inputs.length === 3;
    [this.N, this.Tq, this.D] = q.shape;
    [, this.Tv, this.Dv] = v.shape;
    this.q = q.data;
    this.k = k.data;
    this.v = v.data;
    const { N, Tq, Tv, Dv } = this;
    this.qMask = maskData(opts?.masks?.[0] ?? null, N, Tq, where, 'query');
    this.vMask = maskData(opts?.masks?.[1] ?? null, N, Tv, where, 'value');
    const S = this.scores();
    // Softmax over the visible j (causal: only j ≤ i; masked: real value steps only); a padded query row keeps
    // A = 0, so its output is 0. Then O_b = A_b·V_b.
    const A = alloc(N * Tq * Tv);
    for (let b = 0; b < N; b++)
      for (let i = 0; i < Tq; i++) {
        if (this.qMask && !this.qMask[b * Tq + i]) continue;
        const r = (b * Tq + i) * Tv;
        const last = this.useCausalMask ? Math.min(i, Tv - 1) : Tv - 1;
        softmaxRow(S, r, A, r, last, this.vMask, b * Tv);
      }
    const out = allocUninitialized(N * Tq * Dv);
    const kern = kernels();
    for (let b = 0; b < N; b++)
      kern.gemm(
        false,
        false,
        Tq,
        Dv,
        Tv,
        A,
        b * Tq * Tv,
        Tv,
        this.v,
        b * Tv * Dv,
        Dv,
        out,
        b * Tq * Dv,
        Dv,
        false,
      );
    this.a = A;
    return [new Tensor(out, [N, Tq, Dv])];
  }

  /** Keras: the output keeps the query's mask. */
  override computeMasks(_xs: AnyTensor[], inputMasks: (SequenceMask | null)[]): (SequenceMask | null)[] {
    return [inputMasks[0] ?? null];
  }

  /**
   * One step's scores: the M query rows from q[qo…] against the Tv key rows from k[ko…] into out [M, Tv], as `scores`
   * computes them with `scale` (the step state's snapshot of the scale weight; null without one).
   */
  protected abstract stepScores(
    q: Float32Array,
    qo: number,
    M: number,
    k: Float32Array,
    ko: number,
    Tv: number,
    out: Float32Array,
    scale: Float32Array | null,
  ): void;

  override stepInputSize(): number {
    if (!this.inputShapes) throw new Error(`${this.className} '${this.name}' is used before it is built`);
    return this.inputShapes[0][1] as number;
  }

  override stepOutputSize(): number {
    if (!this.inputShapes) throw new Error(`${this.className} '${this.name}' is used before it is built`);
    return this.inputShapes[1][1] as number;
  }

  override createStepState(rows: number, opts: StepOptions = {}): AttentionStepState {
    if (this.useCausalMask)
      throw new Error(`${this.className} '${this.name}': a causal (self-)attention cannot be stepped`);
    if (opts.tokens) throw new Error(`${this.className} '${this.name}' steps on float queries only`);
    const scale = this.useScale ? stepWeights(this.weights[0].value, opts.weightsFixed) : null;
    return new AttentionStepState(this, rows, this.stepOutputSize(), opts, scale);
  }

  /** The value (and key) are constants — the encoder's outputs with their mask; the query is stepped. */
  override bindStepConstants(
    state: StepState,
    constants: readonly (StepConstant | null)[],
    rowSource: Int32Array,
  ): void {
    const s = this.ownState(state, AttentionStepState);
    const where = `${this.className} '${this.name}'`;
    const [q, v, k = v] = constants;
    if (q) throw new Error(`${where}: its query must be stepped while decoding, not fixed`);
    if (!v || !k) throw new Error(`${where}: its value (and key) must be fixed inputs while stepping`);
    const [N, Tv, Dv] = v.value.shape;
    s.value = v.value.data;
    s.key = k.value.data;
    s.Tv = Tv;
    s.reserve(Tv);
    s.mask = maskData(v.mask, N, Tv, where, 'value');
    if (Dv !== s.width) throw new Error(`${where}: value width ${Dv}, expected ${s.width}`);
    for (let r = 0; r < s.rows; r++)
      if (!(rowSource[r] >= 0 && rowSource[r] < N))
        throw new Error(`${where}: row ${r} reads constant row ${rowSource[r]}, outside [0, ${N})`);
    s.rowSource.set(rowSource);
  }

  override stepMany(inputs: readonly StepInput[], state: StepState): Float32Array[] {
    const s = this.ownState(state, AttentionStepState);
    const where = `${this.className} '${this.name}'`;
    if (!s.value) throw new Error(`${where}: bind the encoder's outputs before stepping`);
    const D = this.stepInputSize();
    const q = inputs[0];
    if (inputs.length !== 1 || !(q instanceof Float32Array) || q.length !== s.rows * D)
      throw new Error(`${where}: expected one query of ${s.rows}×${D} floats per step`);
    const { Tv, width: Dv, value, key, scores, weights, out } = s;
    const k = kernels();
    // Consecutive rows reading the same encoder row (a source's beams) share one product per step.
    for (let r = 0; r < s.rows;) {
      const b = s.rowSource[r];
      let M = 1;
      while (r + M < s.rows && s.rowSource[r + M] === b) M++;
      this.stepScores(q, r * D, M, key!, b * Tv * D, Tv, scores, s.scale);
      for (let i = 0; i < M; i++) softmaxRow(scores, i * Tv, weights, i * Tv, Tv - 1, s.mask, b * Tv);
      k.gemm(false, false, M, Dv, Tv, weights, 0, Tv, value!, b * Tv * Dv, Dv, out, r * Dv, Dv, false);
      r += M;
    }
    return [out];
  }

  override step(input: StepInput, state: StepState): Float32Array {
    return this.stepMany([input], state)[0];
  }

  override reorderStepRows(state: StepState, parents: Int32Array): void {
    const s = this.ownState(state, AttentionStepState);
    const from = s.rowSource.slice();
    for (let r = 0; r < s.rows; r++) s.rowSource[r] = from[parents[r]];
  }

  /** Also carries the bound encoder outputs and mask, and which of them each copied row reads. */
  override copyStepRows(from: StepState, to: StepState, rows: Int32Array): void {
    const f = this.ownState(from, AttentionStepState);
    const t = this.ownState(to, AttentionStepState);
    super.copyStepRows(from, to, rows);
    t.value = f.value;
    t.key = f.key;
    t.mask = f.mask;
    t.Tv = f.Tv;
    t.reserve(f.Tv);
    for (let i = 0; i < rows.length; i++) t.rowSource[i] = f.rowSource[rows[i]];
  }

  protected override saveForwardFields(cache: ForwardCache): void {
    const { N, Tq, Tv, D, Dv, q, k, v, a, keyGiven, qMask, vMask } = this;
    cache.set(ATTENTION_FIELDS, { N, Tq, Tv, D, Dv, q, k, v, a, keyGiven, qMask, vMask });
  }

  protected override restoreForwardFields(cache: ForwardCache): void {
    Object.assign(this, cache.get(ATTENTION_FIELDS));
  }

  override backwardMany(dys: (Tensor | null)[]): (Tensor | null)[] {
    const dO = dys[0];
    if (!dO) throw new Error(`${this.className} '${this.name}': backward without an output gradient`);
    const { N, Tq, Tv, D, Dv, a: A } = this;
    const k = kernels();
    // δA_b = δO_b·V_bᵀ and δV_b = A_bᵀ·δO_b (a padded query row has A = 0: it adds nothing to δV, nor to δS below).
    const dA = allocUninitialized(N * Tq * Tv);
    const dV = allocUninitialized(N * Tv * Dv);
    for (let b = 0; b < N; b++) {
      k.gemm(
        false,
        true,
        Tq,
        Tv,
        Dv,
        dO.data,
        b * Tq * Dv,
        Dv,
        this.v,
        b * Tv * Dv,
        Dv,
        dA,
        b * Tq * Tv,
        Tv,
        false,
      );
      k.gemm(
        true,
        false,
        Tv,
        Dv,
        Tq,
        A,
        b * Tq * Tv,
        Tv,
        dO.data,
        b * Tq * Dv,
        Dv,
        dV,
        b * Tv * Dv,
        Dv,
        false,
      );
    }
    // δS_ij = A_ij (δA_ij − Σ_j' A_ij' δA_ij'): the softmax row Jacobian (rows of A = 0 give δS = 0).
    const dS = copyOf(dA);
    k.activateBackward(Act.Softmax, A, 0, dS, 0, N * Tq, Tv, Tv);
    const { dq, dk } = this.scoresBackward(dS);
    if (!this.keyGiven) k.addInPlace(dV, 0, dk, 0, dV.length);
    const dvOut = dV;
    const grads: Tensor[] = [new Tensor(dq, [N, Tq, D]), new Tensor(dvOut, [N, Tv, Dv])];
    if (this.keyGiven) grads.push(new Tensor(dk, [N, Tv, D]));
    return grads;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), useScale: this.useScale, useCausalMask: this.useCausalMask, dropout: 0 };
  }
}

export interface AttentionArgs extends BaseAttentionArgs {
  /** Only 'dot' (Luong) is supported; Keras's 'concat' is not. */
  scoreMode?: 'dot';
}

export class Attention extends BaseAttention {
  static readonly className = 'Attention';
  readonly className = 'Attention';
  readonly scoreMode = 'dot';
  private qk: Float32Array = new Float32Array(0);

  protected override saveForwardFields(cache: ForwardCache): void {
    super.saveForwardFields(cache);
    cache.set(DOT_SCORE_FIELDS, { qk: this.qk });
  }

  protected override restoreForwardFields(cache: ForwardCache): void {
    super.restoreForwardFields(cache);
    ({ qk: this.qk } = cache.get(DOT_SCORE_FIELDS));
  }

  constructor(args: AttentionArgs = {}) {
    super(args, 'attention', ['scoreMode'], false);
    if (args.scoreMode !== undefined && args.scoreMode !== 'dot')
      throw new Error(
        `attention '${this.name}': score_mode '${String(args.scoreMode)}' is not supported; use 'dot'`,
      );
  }

  static fromConfig(config: Record<string, unknown>): Attention {
    return new Attention(config as AttentionArgs);
  }

  protected buildWeights(): void {
    this.weights = this.useScale ? [new Weight('scale', [], [1])] : [];
  }

  private scale(): number {
    return this.useScale ? this.weights[0].value[0] : 1;
  }

  protected stepScores(
    q: Float32Array,
    qo: number,
    M: number,
    k: Float32Array,
    ko: number,
    Tv: number,
    out: Float32Array,
    scaleWeight: Float32Array | null,
  ): void {
    const D = this.inputShapes![0][1] as number;
    kernels().gemm(false, true, M, Tv, D, q, qo, D, k, ko, D, out, 0, Tv, false);
    const scale = scaleWeight ? scaleWeight[0] : 1;
    if (scale !== 1) for (let j = 0; j < M * Tv; j++) out[j] *= scale;
  }

  /** QK_b = Q_b·K_bᵀ; S = scale · QK. */
  protected scores(): Float32Array {
    const { N, Tq, Tv, D, q, k } = this;
    const qk = allocUninitialized(N * Tq * Tv);
    for (let b = 0; b < N; b++)
      kernels().gemm(false, true, Tq, Tv, D, q, b * Tq * D, D, k, b * Tv * D, D, qk, b * Tq * Tv, Tv, false);
    this.qk = qk;
    const s = this.scale();
    if (s === 1) return qk;
    const S = allocUninitialized(qk.length);
    for (let i = 0; i < qk.length; i++) S[i] = qk[i] * s;
    return S;
  }

  /** δQ_b = s·δS_b·K_b, δK_b = s·δS_bᵀ·Q_b, δs = Σ δS ⊙ QK. */
  protected scoresBackward(dS: Float32Array): { dq: Float32Array; dk: Float32Array } {
    const { N, Tq, Tv, D, q, k } = this;
    const s = this.scale();
    const dq = allocUninitialized(N * Tq * D);
    const dk = allocUninitialized(N * Tv * D);
    const kern = kernels();
    for (let b = 0; b < N; b++) {
      kern.gemm(false, false, Tq, D, Tv, dS, b * Tq * Tv, Tv, k, b * Tv * D, D, dq, b * Tq * D, D, false);
      kern.gemm(true, false, Tv, D, Tq, dS, b * Tq * Tv, Tv, q, b * Tq * D, D, dk, b * Tv * D, D, false);
    }
    if (s !== 1) {
      for (let i = 0; i < dq.length; i++) dq[i] *= s;
      for (let i = 0; i < dk.length; i++) dk[i] *= s;
    }
    if (this.useScale && this.weights[0].trainable) {
      let ds = 0;
      for (let i = 0; i < dS.length; i++) ds += dS[i] * this.qk[i];
      this.weights[0].grad[0] += ds;
    }
    return { dq, dk };
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), scoreMode: this.scoreMode };
  }
}

export type AdditiveAttentionArgs = BaseAttentionArgs;

export class AdditiveAttention extends BaseAttention {
  static readonly className = 'AdditiveAttention';
  readonly className = 'AdditiveAttention';
  /** tanh(Q_i + K_j) [N·Tq·Tv·D]. */
  private e: Float64Array = new Float64Array(0);

  protected override saveForwardFields(cache: ForwardCache): void {
    super.saveForwardFields(cache);
    cache.set(ADDITIVE_SCORE_FIELDS, { e: this.e });
  }

  protected override restoreForwardFields(cache: ForwardCache): void {
    super.restoreForwardFields(cache);
    ({ e: this.e } = cache.get(ADDITIVE_SCORE_FIELDS));
  }

  constructor(args: AdditiveAttentionArgs = {}) {
    super(args, 'additive_attention', [], true);
  }

  static fromConfig(config: Record<string, unknown>): AdditiveAttention {
    return new AdditiveAttention(config as AdditiveAttentionArgs);
  }

  protected buildWeights(inputShape: LayerShape, rng: Random): void {
    const D = inputShape[1] as number;
    this.weights = this.useScale
      ? [new Weight('scale', [D], initialize(initializerSpec('glorotUniform', 'glorotUniform'), [D], rng))]
      : [];
  }

  protected scores(): Float64Array {
    const { N, Tq, Tv, D, q, k } = this;
    const w = this.useScale ? this.weights[0].value : null;
    const e = new Float64Array(N * Tq * Tv * D);
    const S = new Float64Array(N * Tq * Tv);
    for (let b = 0; b < N; b++)
      for (let i = 0; i < Tq; i++)
        for (let j = 0; j < Tv; j++) {
          const r = (b * Tq + i) * Tv + j;
          let s = 0;
          for (let d = 0; d < D; d++) {
            const t = Math.tanh(q[(b * Tq + i) * D + d] + k[(b * Tv + j) * D + d]);
            e[r * D + d] = t;
            s += (w ? w[d] : 1) * t;
          }
          S[r] = s;
        }
    this.e = e;
    return S;
  }

  protected stepScores(
    q: Float32Array,
    qo: number,
    M: number,
    k: Float32Array,
    ko: number,
    Tv: number,
    out: Float32Array,
    w: Float32Array | null,
  ): void {
    const D = this.inputShapes![0][1] as number;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < Tv; j++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += (w ? w[d] : 1) * Math.tanh(q[qo + i * D + d] + k[ko + j * D + d]);
        out[i * Tv + j] = s;
      }
  }

  protected scoresBackward(dS: Float32Array): { dq: Float32Array; dk: Float32Array } {
    const { N, Tq, Tv, D, e } = this;
    const w = this.useScale ? this.weights[0].value : null;
    const dq = new Float64Array(N * Tq * D);
    const dk = new Float64Array(N * Tv * D);
    const dw = new Float64Array(D);
    for (let b = 0; b < N; b++)
      for (let i = 0; i < Tq; i++)
        for (let j = 0; j < Tv; j++) {
          const r = (b * Tq + i) * Tv + j;
          const g = dS[r];
          if (g === 0) continue;
          for (let d = 0; d < D; d++) {
            const t = e[r * D + d];
            dw[d] += g * t;
            const p = g * (w ? w[d] : 1) * (1 - t * t);
            dq[(b * Tq + i) * D + d] += p;
            dk[(b * Tv + j) * D + d] += p;
          }
        }
    if (w && this.weights[0].trainable) for (let d = 0; d < D; d++) this.weights[0].grad[d] += dw[d];
    return { dq: toKernelMemory(dq), dk: toKernelMemory(dk) };
  }
}

/** What one layer needs to attend for `rows` decoder streams: the bound encoder outputs and the output buffer. */
export class AttentionStepState extends StepState {
  readonly out: Float32Array;
  /** Constant row read by each step row. */
  readonly rowSource: Int32Array;
  value: Float32Array | null = null;
  key: Float32Array | null = null;
  mask: Uint8Array | null = null;
  Tv = 0;
  /** Scores and attention weights of up to `rows` rows (kernel memory, for the GEMMs), at least rows × Tv long. */
  scores: Float32Array = new Float32Array(0);
  weights: Float32Array = new Float32Array(0);
  constructor(
    layer: Layer,
    rows: number,
    width: number,
    opts: StepOptions,
    /** The scale weight a step reads (a snapshot: see stepWeights), or null without one. */
    readonly scale: Float32Array | null,
  ) {
    super(layer, rows, width, opts);
    this.out = kernels().allocPersistent(rows * width); // kernel memory: the next layer's product reads it in place
    this.rowSource = new Int32Array(rows);
  }

  /** Room for Tv value steps: buffers grow (rarely: to the longest source bound so far), never shrink. */
  reserve(Tv: number): void {
    if (this.scores.length >= this.rows * Tv) return;
    this.scores = kernels().allocPersistent(this.rows * Tv);
    this.weights = kernels().allocPersistent(this.rows * Tv);
  }
}

/**
 * Softmax of S[r…r+last] into A[a…a+last] over the visible steps (mask[m + j] set, or all when no mask or no step is
 * visible); hidden steps get 0. Float64 inside.
 */
function softmaxRow(
  S: ArrayLike<number>,
  r: number,
  A: Float32Array,
  a: number,
  last: number,
  mask: Uint8Array | null,
  m: number,
): void {
  let any = false;
  if (mask) for (let j = 0; j <= last && !any; j++) any = mask[m + j] !== 0;
  const visible = (j: number): boolean => !any || mask![m + j] !== 0;
  let max = -Infinity;
  for (let j = 0; j <= last; j++) if (visible(j)) max = Math.max(max, S[r + j]);
  let sum = 0;
  for (let j = 0; j <= last; j++) sum += A[a + j] = visible(j) ? Math.exp(S[r + j] - max) : 0;
  for (let j = 0; j <= last; j++) A[a + j] /= sum;
}

/** A mask's data, checked against the [N, T] it must cover. */
function maskData(
  mask: SequenceMask | null,
  N: number,
  T: number,
  where: string,
  what: string,
): Uint8Array | null {
  if (!mask) return null;
  if (mask.shape[0] !== N || mask.shape[1] !== T)
    throw new Error(`${where}: the ${what} mask is [${mask.shape.join(', ')}], expected [${N}, ${T}]`);
  return mask.data;
}

function toKernelMemory(a: Float64Array): Float32Array {
  const out = allocUninitialized(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i];
  return out;
}

registerLayer('Attention', Attention.fromConfig);
registerLayer('AdditiveAttention', AdditiveAttention.fromConfig);
