/**
 * AttentionDecoder: a decoder RNN with attention and Luong et al. (2015)'s input feeding — the attentional state of the
 * previous step joins the next step's input, so the decoder knows the alignment decisions it made. Inputs
 * [x, values, ...initialStates]: x [N, T, E] (the embedded previous tokens), values [N, S, D] (the encoder's outputs,
 * attention's value and key), the cell's initial states, each [N, H] (h, and c for an LSTM; zero when not given).
 * Output ã [N, T, H], and at step t, with ã_0 = 0:
 *
 *   i_t = [x_t ; ã_{t−1}]                        [N, E + H]
 *   h_t (, c_t) = cell(i_t, h_{t−1} (, c_{t−1}))  the LSTM or GRU layer's own cell, [N, H]
 *   a_t = softmax_j(score(h_t, values_j))         dot ('luong', Attention) or additive ('bahdanau', AdditiveAttention)
 *   context_t = Σ_j a_tj · values_j               [N, D]
 *   ã_t = tanh([h_t ; context_t] · W_c + b_c)     the attentional Dense, [N, H]
 *
 * With the ã rows of the cell's kernel at zero this is the plain decoder (RNN → Attention → Concatenate → Dense tanh)
 * on the same weights. Masks: the encoder's padding mask (values' mask) hides padded source steps from the scores;
 * at a padded target step (x's mask) the cell keeps its states, ã_{t−1} stays the state carried on, and the output is
 * what the plain decoder gives there (attention output 0); the output keeps x's mask, so the loss skips those steps.
 * Recurrent dropout is the cell's (Keras's: one mask on h per sequence); the layer has no other dropout.
 *
 * The three parts are inner layers (named after the cell, 'attention' and 'attentional'; weights
 * `<layer>/lstm/kernel` …) run through their public graph hooks one step at a time (T = 1): because ã_{t−1} feeds step
 * t, no part can run over the whole sequence at once. An inner layer keeps one call's cache, so after each step's
 * forward this layer takes the parts' caches (Layer.saveForwardCache); backward (BPTT through h, c and ã) walks the
 * steps in reverse and puts step t's caches back (restoreForwardCache) just before its backward:
 *
 *   δã_t = δy_t + δã_t(from step t+1's input)  →  attentional Dense backward → δh_t, δcontext_t
 *   → attention backward → δh_t += δquery, δvalues += …  →  cell backward (with δh_t, δc_t from step t+1)
 *   → δi_t = [δx_t ; δã_{t−1}], δh_{t−1}, δc_{t−1}
 *
 * Memory per batch: every step's caches — the cell's input, gates and states (about N·(E + 9H) floats for an LSTM), the
 * attention's N·S weights (Bahdanau: and its N·S·H tanh terms, in float64), the Dense's input and output; compute: one
 * forward and one backward of each part per step. Training CPU on one core, the G2P recipe (LSTM, Luong; user-CPU
 * seconds a batch of 64, 30 batches, loaded machine, 2026-12-07): `taskset -c 1 node dist/bench/seq2seq_profile.js
 * --batches 30 [--input-feeding]` — plain decoder 0.062–0.066; with this layer 0.092–0.112 (1.5×), where running each
 * step's forward again in backward cost 0.127–0.140 (2.1×), and laying out the cell's U (forward) and Uᵀ (backward)
 * at every step instead of once per batch (RNN.holdWeightLayouts) 0.100–0.125 (the same runs alternating, machine
 * more loaded). Idle, 60 batches, alternating (2026-12-07 05:25): plain 0.064–0.073, this layer 0.108–0.127, and with
 * the layouts at every step 0.108–0.133 — the once-per-batch layouts are within noise there (≈ 1.6× either way).
 * What is left of the gap is the per-step work: T small GEMMs per part instead of one.
 *
 * `step` (graph decoding, src/models/graph_stepper.ts) runs the same three steps on the inner layers' step states: the
 * step state is the cell's (h, c) plus ã_{t−1}; the values are bound once per decode as Attention binds them.
 */
import { alloc, allocUninitialized, kernels } from '../core/backend.js';
import { InvalidInputError, describeValue } from '../core/errors.js';
import type { Random } from '../core/random.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import { AdditiveAttention, Attention } from './attention.js';
import { Dense } from './dense.js';
import {
  Layer,
  StepState,
  Weight,
  checkOptionKeys,
  checkPositiveInt,
  checkRate,
  type ForwardCache,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type SequenceMask,
  type StepConstant,
  type StepInput,
  type StepOptions,
} from './layer.js';
import type { RNN } from './recurrent.js';
import { recurrentLayer } from './recurrent_factory.js';
import { registerLayer } from './registry.js';

export const ATTENTION_DECODER_CELLS = ['lstm', 'gru'] as const;
export const ATTENTION_DECODER_SCORES = ['luong', 'bahdanau'] as const;
export type AttentionDecoderCell = (typeof ATTENTION_DECODER_CELLS)[number];
export type AttentionDecoderScore = (typeof ATTENTION_DECODER_SCORES)[number];

export interface AttentionDecoderArgs extends LayerArgs {
  /** Units of the cell, and of the attentional state ã. */
  units: number;
  /** The recurrent cell. Default 'lstm'. */
  cell?: AttentionDecoderCell;
  /** The scores: 'luong' (dot, Attention) or 'bahdanau' (additive, AdditiveAttention). Default 'luong'. */
  attention?: AttentionDecoderScore;
  /** The cell's recurrent dropout (one mask on h per sequence). Default 0. */
  recurrentDropout?: number;
}

/** What a step needs: the inner layers' step states, ã_{t−1} (this state's one state), and the step's inputs. */
class AttentionDecoderStepState extends StepState {
  /** [rows, E + H]: the cell's input, [x_t ; ã_{t−1}]. */
  readonly input: Float32Array;
  /** [rows, H + D]: the attentional Dense's input, [h_t ; context_t]. */
  readonly joined: Float32Array;
  constructor(
    layer: AttentionDecoder,
    rows: number,
    opts: StepOptions,
    readonly cell: StepState,
    readonly attention: StepState,
    readonly attentional: StepState,
    E: number,
    D: number,
  ) {
    super(layer, rows, layer.units, opts);
    this.input = kernels().allocPersistent(rows * (E + layer.units));
    this.joined = kernels().allocPersistent(rows * (layer.units + D));
  }
}

/** A [N, 1] mask for step t of an [N, T] one, or null when it hides nothing there. */
function stepMask(mask: SequenceMask | null, t: number): SequenceMask | null {
  if (!mask) return null;
  const [N, T] = mask.shape;
  const data = new Uint8Array(N);
  let hidden = false;
  for (let n = 0; n < N; n++) {
    data[n] = mask.data[n * T + t] !== 0 ? 1 : 0;
    if (!data[n]) hidden = true;
  }
  return hidden ? { data, shape: [N, 1] } : null;
}

export class AttentionDecoder extends Layer {
  readonly className = 'AttentionDecoder';
  readonly units: number;
  readonly cellType: AttentionDecoderCell;
  readonly attentionType: AttentionDecoderScore;
  readonly recurrentDropout: number;
  readonly cell: RNN;
  readonly attention: Attention | AdditiveAttention;
  readonly attentional: Dense;
  /** The widths it was built for: x [N, T, E], values [N, S, D]. */
  private E = 0;
  private D = 0;
  private givenStates = 0;
  // Forward cache (one batch in flight).
  private N = 0;
  private T = 0;
  private S = 0;
  private xMask: SequenceMask | null = null;
  private values: Tensor | null = null;
  /** Per step, what each inner layer's forward kept for its backward, in `parts` order. */
  private stepCaches: ForwardCache[][] = [];

  constructor(args: AttentionDecoderArgs) {
    super(args, 'attention_decoder');
    const where = `attention_decoder '${this.name}'`;
    checkOptionKeys('attention_decoder', args, ['units', 'cell', 'attention', 'recurrentDropout']);
    this.units = checkPositiveInt(where, 'units', args.units);
    const cell: unknown = args.cell ?? 'lstm';
    if (!ATTENTION_DECODER_CELLS.includes(cell as AttentionDecoderCell))
      throw new InvalidInputError(`${where}: 'cell' must be 'lstm' or 'gru', got ${describeValue(cell)}`);
    this.cellType = cell as AttentionDecoderCell;
    const attention: unknown = args.attention ?? 'luong';
    if (!ATTENTION_DECODER_SCORES.includes(attention as AttentionDecoderScore))
      throw new InvalidInputError(
        `${where}: 'attention' must be 'luong' or 'bahdanau', got ${describeValue(attention)}`,
      );
    this.attentionType = attention as AttentionDecoderScore;
    this.recurrentDropout = checkRate(where, 'recurrentDropout', args.recurrentDropout);
    this.cell = recurrentLayer(this.cellType, {
      units: this.units,
      returnSequences: true,
      returnState: true,
      recurrentDropout: this.recurrentDropout,
      name: this.cellType,
    });
    this.attention =
      this.attentionType === 'luong'
        ? new Attention({ name: 'attention' })
        : new AdditiveAttention({ name: 'attention' });
    this.attentional = new Dense({ units: this.units, activation: 'tanh', name: 'attentional' });
  }

  private get parts(): Layer[] {
    return [this.cell, this.attention, this.attentional];
  }

  override computeOutputShapes(inputShapes: LayerShape[]): LayerShape[] {
    const where = `attention_decoder '${this.name}'`;
    const [x, v, ...states] = inputShapes;
    if (!x || !v)
      throw new Error(`${where} takes inputs [x, values, ...initialStates], got ${inputShapes.length}`);
    if (x.length !== 2 || x[1] === null || v.length !== 2 || v[1] === null)
      throw new Error(`${where}: x and values must be [batch, time, features] with known feature sizes`);
    if (states.length !== 0 && states.length !== this.cell.stateCount)
      throw new Error(`${where} takes ${this.cell.stateCount} initial state(s), got ${states.length}`);
    for (const s of states)
      if (s.length !== 1 || (s[0] !== null && s[0] !== this.units))
        throw new Error(`${where}: an initial state must be [batch, ${this.units}]`);
    // The attention's own checks: the query (h, H wide) against the key (the values).
    this.attention.computeOutputShapes([[null, this.units], v]);
    return [[x[0], this.units]];
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    return [inputShape[0], this.units];
  }

  protected buildWeights(): void {
    throw new Error(`attention_decoder '${this.name}' is built from its inputs [x, values]`);
  }

  override buildMany(inputShapes: LayerShape[], rng: Random): void {
    this.computeOutputShapes(inputShapes);
    const [x, v] = inputShapes;
    this.E = x[1] as number;
    this.D = v[1] as number;
    const H = this.units;
    this.inputShape = [...x];
    this.cell.build([null, this.E + H], rng);
    this.attention.buildMany(
      [
        [null, H],
        [null, this.D],
      ],
      rng,
    );
    this.attentional.build([H + this.D], rng);
    // Weights named inside this layer (lstm/kernel …; files add this layer's name), as Bidirectional names its
    // directions'; each inner layer indexes its weights by position, so renamed copies take their places.
    const weights: Weight[] = [];
    for (const l of this.parts) {
      l.weights = l.weights.map((w) => new Weight(`${l.name}/${w.name}`, w.shape, w.value, w.trainable));
      weights.push(...l.weights);
    }
    this.weights = weights;
    this.finishBuild();
  }

  forward(): Tensor {
    throw new Error(
      `attention_decoder '${this.name}' takes [x, values(, states)]; use it in a functional model`,
    );
  }

  backward(): Tensor | null {
    throw new Error(
      `attention_decoder '${this.name}' takes [x, values(, states)]; use it in a functional model`,
    );
  }

  /** The output keeps x's mask (the target padding): the loss skips padded steps. */
  override computeMasks(_xs: AnyTensor[], inputMasks: (SequenceMask | null)[]): (SequenceMask | null)[] {
    return [inputMasks[0] ?? null];
  }

  override forwardMany(xs: AnyTensor[], opts: ForwardOptions): Tensor[] {
    const where = `attention_decoder '${this.name}'`;
    if (!this.built) throw new Error(`${where} is used before it is built`);
    for (const x of xs)
      if (!(x instanceof Tensor)) throw new Error(`${where} does not accept integer index inputs`);
    const [x, values, ...states] = xs as Tensor[];
    if (!x || !values)
      throw new Error(`${where} takes inputs [x, values, ...initialStates], got ${xs.length}`);
    this.computeOutputShapes(xs.map((t) => t.shape.slice(1)));
    const [N, T, E] = x.shape;
    if (E !== this.E || values.shape[2] !== this.D)
      throw new Error(
        `${where}: inputs [${N}, ${T}, ${E}] and values of width ${values.shape[2]}, built for ${this.E}, ${this.D}`,
      );
    if (values.shape[0] !== N || states.some((s) => s.shape[0] !== N))
      throw new Error(`${where}: x, values and initial states must have one batch size`);
    if (T === 0) throw new Error(`${where}: sequences must have at least one timestep`);
    const H = this.units;
    const EH = E + H;
    const K = this.cell.stateCount;
    this.N = N;
    this.T = T;
    this.S = values.shape[1];
    this.givenStates = states.length;
    this.values = values;
    this.xMask = opts.masks?.[0] ?? opts.mask ?? null;
    const valuesMask = opts.masks?.[1] ?? null;
    const stepOpts = { training: opts.training, seed: opts.seed, rowOffset: opts.rowOffset };
    this.setSalts();
    this.stepCaches = [];
    let current = Array.from({ length: K }, (_, i) => states[i] ?? new Tensor(alloc(N * H), [N, H]));
    let carried = alloc(N * H); // ã_{t−1}
    const y = allocUninitialized(N * T * H);
    // The cell lays out U once for all T steps.
    this.cell.holdWeightLayouts(() => {
      for (let t = 0; t < T; t++) {
        const input = allocUninitialized(N * EH);
        for (let n = 0; n < N; n++) {
          input.set(x.data.subarray((n * T + t) * E, (n * T + t + 1) * E), n * EH);
          input.set(carried.subarray(n * H, (n + 1) * H), n * EH + E);
        }
        const m = stepMask(this.xMask, t);
        const { out, next } = this.runStep(new Tensor(input, [N, 1, EH]), current, values, stepOpts, [
          m,
          valuesMask,
        ]);
        this.stepCaches.push(this.parts.map((l) => l.saveForwardCache()));
        for (let n = 0; n < N; n++) y.set(out.subarray(n * H, (n + 1) * H), (n * T + t) * H);
        // A padded step carries ã_{t−1} on, as the cell carries its states.
        if (!m) carried = out;
        else {
          const keep = carried;
          carried = allocUninitialized(N * H);
          for (let n = 0; n < N; n++)
            carried.set((m.data[n] ? out : keep).subarray(n * H, (n + 1) * H), n * H);
        }
        current = next;
      }
    });
    return [new Tensor(y, [N, T, H])];
  }

  /** Each inner layer draws its own dropout masks, from this layer's stream (as Bidirectional's directions do). */
  private setSalts(): void {
    const salt = this.salt();
    this.parts.forEach((l, i) => (l.randomSalt = (Math.imul(salt, 0x9e3779b1) + i * 0x7f4a7c15) >>> 0));
  }

  /**
   * One step's forward: i_t [N, 1, E + H] and the states entering it → the output ã_t [N·H] and the cell's new states.
   * `masks`: step t's target mask ([N, 1], null when it hides nothing) and the values' mask.
   */
  private runStep(
    input: Tensor,
    states: Tensor[],
    values: Tensor,
    opts: ForwardOptions,
    masks: [SequenceMask | null, SequenceMask | null],
  ): { out: Float32Array; next: Tensor[] } {
    const { D } = this;
    const H = this.units;
    const N = input.shape[0];
    const [h, ...next] = this.cell.forwardMany([input, ...states], { ...opts, mask: masks[0] });
    const [context] = this.attention.forwardMany([h, values], { ...opts, masks });
    const joined = allocUninitialized(N * (H + D));
    for (let n = 0; n < N; n++) {
      joined.set(h.data.subarray(n * H, (n + 1) * H), n * (H + D));
      joined.set(context.data.subarray(n * D, (n + 1) * D), n * (H + D) + H);
    }
    const out = this.attentional.forward(new Tensor(joined, [N, H + D]), opts);
    return { out: out.data, next };
  }

  override backwardMany(dys: (Tensor | null)[]): (Tensor | null)[] {
    const where = `attention_decoder '${this.name}'`;
    if (!this.values) throw new Error(`${where}: backward called before forward`);
    const { N, T, S, E, D } = this;
    const H = this.units;
    const K = this.cell.stateCount;
    const dy = dys[0];
    const k = kernels();
    const dx = allocUninitialized(N * T * E);
    const dValues = alloc(N * S * D);
    let dStates = Array.from({ length: K }, () => alloc(N * H)); // δ of the states leaving step t
    let dCarried = alloc(N * H); // δã_t from step t+1's input
    // The cell transposes and lays out Uᵀ once for all T steps.
    this.cell.holdWeightLayouts(() => {
      for (let t = T - 1; t >= 0; t--) {
        // Each inner layer's backward for step t reads step t's forward.
        this.parts.forEach((l, i) => l.restoreForwardCache(this.stepCaches[t][i]));
        const m = stepMask(this.xMask, t);
        // δ of this step's output: the loss's, plus — where ã_t is what step t+1 read — the carried one.
        const dOut = allocUninitialized(N * H);
        for (let n = 0; n < N; n++)
          for (let j = n * H; j < (n + 1) * H; j++)
            dOut[j] = (dy ? dy.data[(n * T + t) * H + j - n * H] : 0) + (!m || m.data[n] ? dCarried[j] : 0);
        const dJoined = this.attentional.backward(new Tensor(dOut, [N, H]))!;
        const dh = allocUninitialized(N * H);
        const dContext = allocUninitialized(N * D);
        for (let n = 0; n < N; n++) {
          dh.set(dJoined.data.subarray(n * (H + D), n * (H + D) + H), n * H);
          dContext.set(dJoined.data.subarray(n * (H + D) + H, (n + 1) * (H + D)), n * D);
        }
        const [dQuery, dv] = this.attention.backwardMany([new Tensor(dContext, [N, 1, D])]);
        k.addInPlace(dh, 0, dQuery!.data, 0, N * H);
        k.addInPlace(dValues, 0, dv!.data, 0, N * S * D);
        const [dInput, ...dPrev] = this.cell.backwardMany([
          new Tensor(dh, [N, 1, H]),
          ...dStates.map((d) => new Tensor(d, [N, H])),
        ]);
        // δi_t = [δx_t ; δã_{t−1}]; a padded step passes δã on to ã_{t−1} unchanged.
        const next = allocUninitialized(N * H);
        for (let n = 0; n < N; n++) {
          const row = dInput!.data.subarray(n * (E + H), (n + 1) * (E + H));
          dx.set(row.subarray(0, E), (n * T + t) * E);
          next.set(row.subarray(E), n * H);
          if (m && !m.data[n]) k.addInPlace(next, n * H, dCarried.subarray(n * H, (n + 1) * H), 0, H);
        }
        dCarried = next;
        dStates = dPrev.map((d) => d!.data);
      }
    });
    return [
      new Tensor(dx, [N, T, E]),
      new Tensor(dValues, [N, S, D]),
      ...dStates.slice(0, this.givenStates).map((d) => new Tensor(d, [N, H])),
    ];
  }

  override stepInputSize(): number {
    if (!this.built) throw new Error(`attention_decoder '${this.name}' is used before it is built`);
    return this.E;
  }

  override stepOutputSize(): number {
    return this.units;
  }

  /** ã_{t−1}; the cell's states live in the cell's own step state. */
  override get stateNames(): readonly string[] {
    return ['attentional'];
  }

  override stateSize(): number {
    return this.units;
  }

  override createStepState(rows: number, opts: StepOptions = {}): AttentionDecoderStepState {
    const where = `attention_decoder '${this.name}'`;
    if (!this.built) throw new Error(`${where} is used before it is built`);
    if (opts.tokens) throw new Error(`${where} steps on float inputs (embedded tokens) only`);
    return new AttentionDecoderStepState(
      this,
      rows,
      opts,
      this.cell.createStepState(rows, { weightsFixed: opts.weightsFixed }),
      this.attention.createStepState(rows, { weightsFixed: opts.weightsFixed }),
      this.attentional.createStepState(rows, { weightsFixed: opts.weightsFixed }),
      this.E,
      this.D,
    );
  }

  /** The values (with the encoder's mask) and the cell's initial states are constants; x is stepped; ã_0 = 0. */
  override bindStepConstants(
    state: StepState,
    constants: readonly (StepConstant | null)[],
    rowSource: Int32Array,
  ): void {
    const s = this.ownState(state, AttentionDecoderStepState);
    const [x, values, ...states] = constants;
    if (x) throw new Error(`attention_decoder '${this.name}': its sequence input must be stepped, not fixed`);
    this.attention.bindStepConstants(s.attention, [null, values ?? null], rowSource);
    this.cell.bindStepConstants(s.cell, [null, ...states], rowSource);
    s.states[0].fill(0);
  }

  override step(input: StepInput, state: StepState): Float32Array {
    const s = this.ownState(state, AttentionDecoderStepState);
    this.checkStepInput(input, s);
    const { E, D } = this;
    const H = this.units;
    const x = input as Float32Array;
    const rows = s.active;
    const carried = s.states[0];
    for (let r = 0; r < rows; r++) {
      s.input.set(x.subarray(r * E, (r + 1) * E), r * (E + H));
      s.input.set(carried.subarray(r * H, (r + 1) * H), r * (E + H) + E);
    }
    s.cell.active = s.attention.active = s.attentional.active = rows;
    const h = this.cell.step(s.input, s.cell);
    const [context] = this.attention.stepMany([h], s.attention);
    for (let r = 0; r < rows; r++) {
      s.joined.set(h.subarray(r * H, (r + 1) * H), r * (H + D));
      s.joined.set(context.subarray(r * D, (r + 1) * D), r * (H + D) + H);
    }
    const out = this.attentional.step(s.joined, s.attentional);
    carried.set(out.subarray(0, rows * H));
    return carried;
  }

  override reorderStepRows(state: StepState, parents: Int32Array): void {
    const s = this.ownState(state, AttentionDecoderStepState);
    super.reorderStepRows(s, parents);
    this.cell.reorderStepRows(s.cell, parents);
    this.attention.reorderStepRows(s.attention, parents);
  }

  override copyStepRows(from: StepState, to: StepState, rows: Int32Array): void {
    const f = this.ownState(from, AttentionDecoderStepState);
    const t = this.ownState(to, AttentionDecoderStepState);
    super.copyStepRows(f, t, rows);
    this.cell.copyStepRows(f.cell, t.cell, rows);
    this.attention.copyStepRows(f.attention, t.attention, rows);
  }

  override resetState(state: StepState, row?: number): void {
    const s = this.ownState(state, AttentionDecoderStepState);
    super.resetState(s, row);
    this.cell.resetState(s.cell, row);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      units: this.units,
      cell: this.cellType,
      attention: this.attentionType,
      recurrentDropout: this.recurrentDropout,
    };
  }
}

registerLayer(
  'AttentionDecoder',
  (config) => new AttentionDecoder(config as unknown as AttentionDecoderArgs),
);
