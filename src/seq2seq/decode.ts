/**
 * Decoding an encoder–decoder step by step on its layers' own `step` (src/models/graph_stepper.ts): the encoder runs
 * once per batch of sources, then each output token costs one decoder step for all rows — never a re-run of the
 * prefix. Batched: many sources decode together as rows of one stepper, in order of source length (decodingOrder), so
 * a batch's rows finish at about the same step instead of all waiting for the longest word of a mixed batch (G2P
 * greedy decoding: 1.6× faster than batches in input order). Outputs come back in the sources' order.
 *
 * Greedy: each row takes its most likely token until <end> or maxLength tokens.
 * Beam search (width W): each source keeps its W best prefixes by log-probability; every step extends each by every
 * token, keeps the W best non-finished extensions and sets aside the ones ending in <end>. A hypothesis finishes with
 * <end> or at maxLength tokens (truncated); its score is log P / lp(L) with L its scored tokens and the length penalty
 * lp(L) = ((5 + L) / 6)^α of Wu et al. (2016) (α = 0: plain log-probability). The search stops when no open prefix
 * can beat the best finished one (log-probabilities only fall and lp only grows, so an open prefix's best is its score
 * / lp(maxLength)), or at maxLength. <pad>, <start> and <unk> are never emitted.
 *
 * Seed ensembles: given several models (members trained on one split), both searches read the log of the members'
 * MEAN next-token probability, log((1/K) Σ_k p_k), instead of one model's log p. Every member keeps its own stepper
 * (its states and attention memory), all fed the same tokens and reordered with the same beam parents in lock-step.
 *
 * Both target orders: members that write the target right to left (settings.targetOrder 'reversed') cannot share a
 * search with left-to-right ones, so an ensemble of both orders decodes by agreement (agreementDecode): each side's
 * n-best list (nBestDecode) is rescored by both sides, teacher-forced (scoreTargets).
 */
import { kernels } from '../core/backend.js';
import { STEP_GEMM_ROWS } from '../layers/step_weights.js';
import { withFrozenWeights } from '../layers/frozen_weights.js';
import type { Functional } from '../models/functional.js';
import { GraphStepper } from '../models/graph_stepper.js';
import { sourceBatch } from './data.js';
import { END, SPECIAL_TOKENS, START } from './tokenizer.js';

export interface DecodeOptions {
  /** Most output tokens (before <end>). */
  maxLength: number;
  /** Sources decoded together (rows of one stepper; × width for beam search). Default 64. */
  batchSize?: number;
  /**
   * Steppers kept from call to call (a model whose weights no longer change, decoded again and again: an inference
   * worker's); default: the call builds its own and gives them back at its end.
   */
  steppers?: StepperCache;
}

export interface BeamOptions extends DecodeOptions {
  width: number;
  /** Length-penalty exponent α (0 = none). Default 0.6. */
  lengthPenalty?: number;
}

export interface Decoded {
  /** Output token ids, without <end>. */
  ids: Int32Array;
  /** Score: log-probability (greedy) or the length-normalised beam score. */
  score: number;
  /**
   * log P(ids + <end>) under the searched model when the search ended the output with <end> (not when it cut it at
   * maxLength): the sum its steps made, the same to the bit as scoreTargets' (both step on the GEMM kernel's rows).
   */
  logProb?: number;
}

/**
 * Tokens a decoder may output: <end>, then every id past the special tokens (<pad>, <start> and <unk> never). Both
 * searches visit them in this order, so ties keep the lower id.
 */
const FIRST_TOKEN = SPECIAL_TOKENS.length;

export const DECODE_DEFAULTS = { batchSize: 64, lengthPenalty: 0.6 } as const;

/** The model decoded: one, or the members of a seed ensemble (their next-token probabilities averaged). */
export type DecodeModels = Functional | readonly Functional[];

/** The models of `m`, as a list. */
export function decodeMembers(m: DecodeModels): readonly Functional[] {
  const list = Array.isArray(m) ? (m as readonly Functional[]) : [m as Functional];
  if (list.length === 0) throw new Error('decode: no models');
  return list;
}

/**
 * The members' steppers over the same rows, stepped in lock-step; each step gives the log of the members' mean
 * next-token probabilities per row (one member: its log-softmax).
 */
class MemberSteppers {
  private readonly steppers: GraphStepper[];
  readonly outputSize: number;
  /** The step's log-probabilities [rows × outputSize] (reused: read before the next step). */
  private readonly logp: Float64Array;
  /** Member k's log-softmax of the step (members after the first only). */
  private readonly memberLogp: Float64Array[];

  constructor(
    models: readonly Functional[],
    readonly rows: number,
  ) {
    this.steppers = models.map((m) => new GraphStepper(m, rows, { stepInput: 'previous' }));
    this.outputSize = this.steppers[0].outputSize;
    for (const [k, s] of this.steppers.entries())
      if (s.outputSize !== this.outputSize)
        throw new Error(
          `decode: ensemble member ${k + 1} has ${s.outputSize} output tokens, member 1 ${this.outputSize}`,
        );
    this.logp = new Float64Array(rows * this.outputSize);
    this.memberLogp = this.steppers.slice(1).map(() => new Float64Array(rows * this.outputSize));
  }

  start(sources: readonly Int32Array[], rowSource?: Int32Array): void {
    const batch = sourceBatch(sources);
    for (const s of this.steppers) s.start([batch], rowSource);
  }

  /** Starts every member on the encoder outputs `from`'s last start computed (GraphStepper.startFrom). */
  startFrom(from: MemberSteppers, rowSource: Int32Array): void {
    this.steppers.forEach((s, k) => s.startFrom(from.steppers[k], rowSource));
  }

  /** Feeds one token per row to every member; returns log((1/K) Σ_k p_k) for every row and token. */
  step(ids: Int32Array): Float64Array {
    const V = this.outputSize;
    const K = this.steppers.length;
    const first = this.steppers[0].step(ids);
    for (let r = 0; r < this.rows; r++) logSoftmax(first, r * V, V, this.logp, r * V);
    if (K === 1) return this.logp;
    for (let k = 1; k < K; k++) {
      const logits = this.steppers[k].step(ids);
      for (let r = 0; r < this.rows; r++) logSoftmax(logits, r * V, V, this.memberLogp[k - 1], r * V);
    }
    // log-mean-exp over the members, from the largest term (exact for probabilities far below 1).
    const logK = Math.log(K);
    for (let i = 0; i < this.logp.length; i++) {
      let max = this.logp[i];
      for (const m of this.memberLogp) max = Math.max(max, m[i]);
      if (max === -Infinity) continue;
      let sum = Math.exp(this.logp[i] - max);
      for (const m of this.memberLogp) sum += Math.exp(m[i] - max);
      this.logp[i] = max + Math.log(sum) - logK;
    }
    return this.logp;
  }

  /** Row r continues from row parents[r], in every member. */
  reorder(parents: Int32Array): void {
    for (const s of this.steppers) s.reorder(parents);
  }

  dispose(): void {
    for (const s of this.steppers) s.dispose();
  }

  /** Row i of `to` continues from rows[i] here, in every member (GraphStepper.narrowInto). */
  narrowInto(to: MemberSteppers, rows: Int32Array): void {
    this.steppers.forEach((s, k) => s.narrowInto(to.steppers[k], rows));
  }
}

/**
 * A cache of member steppers by row count (a stepper allocates its buffers and packs its weights once), least
 * recently used first.
 */
class Steppers {
  private readonly byRows = new Map<number, MemberSteppers>();
  constructor(readonly models: readonly Functional[]) {}
  get(rows: number): MemberSteppers {
    let s = this.byRows.get(rows);
    if (s) this.byRows.delete(rows);
    else s = new MemberSteppers(this.models, rows);
    this.byRows.set(rows, s);
    return s;
  }
  /** Disposes of all but the `keep` most recently used. */
  trim(keep: number): void {
    for (const [rows, s] of this.byRows) {
      if (this.byRows.size <= keep) break;
      s.dispose();
      this.byRows.delete(rows);
    }
  }
  dispose(): void {
    this.trim(0);
  }
}

/**
 * Row counts of one role's steppers a StepperCache keeps between calls: a G2P call (batches of 64, greedy or beam 5)
 * steps on about this many, so calls after the first build few (each keeps its model's step weights packed).
 */
const KEPT_ROW_COUNTS = 24;

/**
 * Steppers kept across decoding calls of one model whose weights no longer change (an inference worker decodes job
 * after job: building a job's steppers, packing every layer's weights for each row count, cost ≈ 4 % of its time).
 * Reusing one changes no output: every start() begins its rows afresh, as it does from batch to batch of one call.
 * Keyed by the models themselves: a model replaced (a reload) is another key, and `dispose` gives the steppers back.
 */
export class StepperCache {
  private readonly kept: { role: 'search' | 'score'; steppers: Steppers }[] = [];

  /** The steppers of `models` for one role of a call (a search's, or the candidates' scoring). */
  steppers(models: DecodeModels, role: 'search' | 'score'): Steppers {
    const list = decodeMembers(models);
    const same = (a: readonly Functional[]): boolean =>
      a.length === list.length && a.every((m, i) => m === list[i]);
    let e = this.kept.find((k) => k.role === role && same(k.steppers.models));
    if (!e) this.kept.push((e = { role, steppers: new Steppers(list) }));
    return e.steppers;
  }

  /** A call is done with its steppers: each role keeps its KEPT_ROW_COUNTS most recently used row counts. */
  settle(): void {
    for (const k of this.kept) k.steppers.trim(KEPT_ROW_COUNTS);
  }

  /** Gives every kept stepper's kernel memory back (the model is let go of); the cache may be used again after. */
  dispose(): void {
    for (const k of this.kept.splice(0)) k.steppers.dispose();
  }
}

/**
 * Runs `fn` on steppers of `models` per role: the cache's (trimmed after), or fresh ones disposed of after, so that a
 * server decoding request after request keeps its kernel memory flat either way.
 */
function withSteppers<T>(
  cache: StepperCache | undefined,
  fn: (steppers: (models: DecodeModels, role: 'search' | 'score') => Steppers) => T,
): T {
  const own = cache ?? new StepperCache();
  try {
    return fn((models, role) => own.steppers(models, role));
  } finally {
    if (cache) cache.settle();
    else own.dispose();
  }
}

/**
 * The order sources are decoded in: by token length, ties by position (a stable sort). Batches are its runs of
 * `batchSize`; the inference pool cuts the same runs, so its workers decode exactly these batches.
 */
export function decodingOrder(sources: readonly Int32Array[]): Int32Array {
  return Int32Array.from(sources, (_, i) => i).sort((a, b) => sources[a].length - sources[b].length || a - b);
}

/**
 * Natural-log softmax of one row of logits (from offset o) into out (from offset at), in float64. The exponentials'
 * sum is the sumExp kernel's: the plain loop's number to the bit, two exponentials at a time (a 6,000-word row spent
 * most of its time in Math.exp).
 */
function logSoftmax(logits: Float32Array, o: number, V: number, out: Float64Array, at: number): void {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[o + v]);
  const lse = max + Math.log(kernels().sumExp(V, logits, o, max));
  for (let v = 0; v < V; v++) out[at + v] = logits[o + v] - lse;
}

function checkOptions(o: DecodeOptions): number {
  if (!(Number.isInteger(o.maxLength) && o.maxLength >= 1))
    throw new Error(`decode: maxLength must be a positive integer, got ${o.maxLength}`);
  const bs = o.batchSize ?? DECODE_DEFAULTS.batchSize;
  if (!(Number.isInteger(bs) && bs >= 1))
    throw new Error(`decode: batchSize must be a positive integer, got ${bs}`);
  return bs;
}

/**
 * Decodes `sources` in batches of `batchSize` in decoding order (decodingOrder), each by `decodeBatch` (its results
 * in the batch's order), and answers in the sources' order. The steppers give their kernel memory back at the end:
 * a server decoding request after request would otherwise outgrow it.
 */
function decodeInBatches<R>(
  model: DecodeModels,
  sources: readonly Int32Array[],
  batchSize: number,
  cache: StepperCache | undefined,
  decodeBatch: (steppers: Steppers, batch: Int32Array[]) => R[],
): R[] {
  return withSteppers(cache, (steppersOf) => {
    const steppers = steppersOf(model, 'search');
    const out = new Array<R>(sources.length);
    const order = decodingOrder(sources);
    // Weights are fixed while decoding: a word-level encoder's folded Embedding projects each word once.
    withFrozenWeights(() => {
      for (let i = 0; i < sources.length; i += batchSize) {
        const picked = order.subarray(i, i + batchSize);
        const decoded = decodeBatch(
          steppers,
          Array.from(picked, (j) => sources[j]),
        );
        picked.forEach((j, r) => (out[j] = decoded[r]));
      }
    });
    return out;
  });
}

/**
 * The rows a greedy batch with `open` unfinished rows steps on: the next power of two, at least STEP_GEMM_ROWS, so
 * every step product stays on the GEMM kernel and narrowing never changes an output.
 */
function narrowedRows(open: number): number {
  let rows = STEP_GEMM_ROWS;
  while (rows < open) rows *= 2;
  return rows;
}

/** A stepper's rows mid-decode: the next step's token per row, and what each row decodes (-1: an idle row). */
interface SteppedRows {
  stepper: MemberSteppers;
  ids: Int32Array<ArrayBuffer>;
  rowOf: Int32Array<ArrayBuffer>;
}

/**
 * `at` as it goes on: when its `open` rows (those whose rowOf passes `isOpen`) fit in half its rows or fewer, they
 * continue first in a stepper of narrowedRows(open) rows (GraphStepper.narrowInto; the rest idle, repeating the first
 * one's token), else `at` itself.
 */
function narrowed(
  steppers: Steppers,
  at: SteppedRows,
  open: number,
  isOpen: (row: number) => boolean,
): SteppedRows {
  const rows = narrowedRows(open);
  if (2 * rows > at.stepper.rows) return at;
  const live = Int32Array.from(at.rowOf.keys()).filter((k) => at.rowOf[k] >= 0 && isOpen(at.rowOf[k]));
  const next = steppers.get(rows);
  at.stepper.narrowInto(next, live);
  const ids = new Int32Array(rows).fill(at.ids[live[0]]);
  const rowOf = new Int32Array(rows).fill(-1);
  live.forEach((k, j) => {
    ids[j] = at.ids[k];
    rowOf[j] = at.rowOf[k];
  });
  return { stepper: next, ids, rowOf };
}

/**
 * Greedy decoding of every source (token ids, no padding). Once at most half a batch's rows are still open, they go
 * on in a stepper of fewer rows (GraphStepper.narrowInto; powers of two), so rows that ended stop costing steps: on
 * G2P batches of 64 that cuts the row-steps by 15 % (the time by less: smaller batches multiply less efficiently).
 */
export function greedyDecode(
  model: DecodeModels,
  sources: readonly Int32Array[],
  opts: DecodeOptions,
): Decoded[] {
  return decodeInBatches(
    model,
    sources,
    checkOptions(opts),
    opts.steppers,
    (steppers, batch) => greedyBatch(steppers, batch, opts.maxLength).decoded,
  );
}

/** Greedy decoding of one batch; `started`: the steppers that ran its encoder (startFrom can reuse them). */
function greedyBatch(
  steppers: Steppers,
  batch: readonly Int32Array[],
  maxLength: number,
): { decoded: Decoded[]; started: MemberSteppers } {
  const B = batch.length;
  // Fewer than STEP_GEMM_ROWS rows would step on the GEMV, whose sums round differently: a short batch is padded
  // with copies of its first source, so a source's output and score never depend on how many decode with it.
  const R = Math.max(B, STEP_GEMM_ROWS);
  const started = steppers.get(R);
  let stepper = started;
  stepper.start(batch, R === B ? undefined : Int32Array.from({ length: R }, (_, r) => (r < B ? r : 0)));
  const V = stepper.outputSize;
  // rowOf[i]: the batch row that stepper row i decodes (-1: a padding row).
  let rowOf = Int32Array.from({ length: R }, (_, r) => (r < B ? r : -1));
  let ids = new Int32Array(R).fill(START);
  const tokens: number[][] = batch.map(() => []);
  const scores = new Float64Array(B);
  const done = new Uint8Array(B);
  let open = B;
  for (let t = 0; t < maxLength && open > 0; t++) {
    const logp = stepper.step(ids);
    for (let i = 0; i < stepper.rows; i++) {
      const r = rowOf[i];
      if (r < 0 || done[r]) continue;
      // The most likely token a decoder may output (the first of equals).
      const o = i * V;
      let best = END;
      let bestLogp = logp[o + END];
      for (let v = FIRST_TOKEN; v < V; v++)
        if (logp[o + v] > bestLogp) {
          best = v;
          bestLogp = logp[o + v];
        }
      scores[r] += bestLogp;
      ids[i] = best;
      if (best === END) {
        done[r] = 1;
        open--;
      } else tokens[r].push(best);
    }
    if (open > 0)
      ({ stepper, ids, rowOf } = narrowed(steppers, { stepper, ids, rowOf }, open, (r) => !done[r]));
  }
  const decoded = tokens.map((t, r) => ({
    ids: Int32Array.from(t),
    score: scores[r],
    ...(done[r] ? { logProb: scores[r] } : {}),
  }));
  return { decoded, started };
}

/** The GNMT length penalty ((5 + L) / 6)^α. */
export function lengthPenalty(length: number, alpha: number): number {
  return alpha === 0 ? 1 : Math.pow((5 + length) / 6, alpha);
}

/** The k best (score, beam, token) offered, kept sorted by insertion (k is small: twice the beam width). */
class TopK {
  private readonly score: Float64Array;
  private readonly beam: Int32Array;
  private readonly token: Int32Array;
  private n = 0;
  constructor(readonly k: number) {
    this.score = new Float64Array(k);
    this.beam = new Int32Array(k);
    this.token = new Int32Array(k);
  }
  clear(): void {
    this.n = 0;
  }
  offer(score: number, beam: number, token: number): void {
    if (this.n === this.k && score <= this.score[this.n - 1]) return;
    let i = this.n < this.k ? this.n++ : this.n - 1;
    // Ties keep the earlier offer first (a stable order, as a stable sort of all candidates gives).
    while (i > 0 && this.score[i - 1] < score) {
      this.score[i] = this.score[i - 1];
      this.beam[i] = this.beam[i - 1];
      this.token[i] = this.token[i - 1];
      i--;
    }
    this.score[i] = score;
    this.beam[i] = beam;
    this.token[i] = token;
  }
  sorted(): { k: number; v: number; logp: number }[] {
    return Array.from({ length: this.n }, (_, i) => ({
      k: this.beam[i],
      v: this.token[i],
      logp: this.score[i],
    }));
  }
}

interface Hyp {
  tokens: number[];
  logp: number;
}

/** Beam-search decoding of every source; width 1 is greedy. */
export function beamDecode(
  model: DecodeModels,
  sources: readonly Int32Array[],
  opts: BeamOptions,
): Decoded[] {
  return nBestDecode(model, sources, opts, 1).map((list) => list[0]);
}

/**
 * Beam search keeping each source's `nBest` (≤ width) best finished hypotheses, best first: it stops once every open
 * prefix's bound is below the nBest-th finished score (nBest 1: below the best, beamDecode's rule). A source that
 * finished nothing gets one empty output scored −∞.
 */
export function nBestDecode(
  model: DecodeModels,
  sources: readonly Int32Array[],
  opts: BeamOptions,
  nBest: number,
): Decoded[][] {
  const bs = checkOptions(opts);
  const W = opts.width;
  if (!(Number.isInteger(W) && W >= 1))
    throw new Error(`decode: beam width must be a positive integer, got ${W}`);
  if (!(Number.isInteger(nBest) && nBest >= 1 && nBest <= W))
    throw new Error(`decode: nBest must be an integer from 1 to the beam width ${W}, got ${nBest}`);
  const alpha = opts.lengthPenalty ?? DECODE_DEFAULTS.lengthPenalty;
  if (!(alpha >= 0)) throw new Error(`decode: lengthPenalty must be ≥ 0, got ${alpha}`);
  const search = { maxLength: opts.maxLength, width: W, alpha, nBest };
  return decodeInBatches(
    model,
    sources,
    bs,
    opts.steppers,
    (steppers, batch) => nBestBatch(steppers, batch, search).decoded,
  );
}

/** A beam search's settings, checked (nBestDecode). */
interface NBestSearch {
  maxLength: number;
  width: number;
  alpha: number;
  nBest: number;
}

/** nBestDecode of one batch; `started`: the steppers that ran its encoder (startFrom can reuse them). */
function nBestBatch(
  steppers: Steppers,
  batch: readonly Int32Array[],
  { maxLength: maxLen, width: W, alpha, nBest }: NBestSearch,
): { decoded: Decoded[][]; started: MemberSteppers } {
  const B = batch.length;
  const rows = B * W;
  // As greedy does: at least STEP_GEMM_ROWS rows (padding rows after the beams', idle), for the GEMM's sums.
  const R = Math.max(rows, STEP_GEMM_ROWS);
  const stepper = steppers.get(R);
  stepper.start(
    batch,
    Int32Array.from({ length: R }, (_, r) => (r < rows ? Math.floor(r / W) : 0)),
  );
  const V = stepper.outputSize;
  // Open prefixes per source (row b·W + k holds beams[b][k]), and finished hypotheses, best first.
  let beams: Hyp[][] = batch.map(() => [{ tokens: [], logp: 0 }]);
  const best: { hyp: Hyp; score: number; ended: boolean }[][] = batch.map(() => []);
  const ids = new Int32Array(R).fill(START);
  const parents = new Int32Array(R);
  const top = new TopK(2 * W);
  for (let t = 0; t < maxLen && beams.some((b) => b.length > 0); t++) {
    const logp = stepper.step(ids);
    const next: Hyp[][] = [];
    for (let b = 0; b < B; b++) {
      // The best 2W extensions suffice: at most W of them end (one <end> per prefix) before W open ones are kept.
      top.clear();
      beams[b].forEach((h, k) => {
        const o = (b * W + k) * V;
        top.offer(h.logp + logp[o + END], k, END);
        for (let v = FIRST_TOKEN; v < V; v++) top.offer(h.logp + logp[o + v], k, v);
      });
      const cands = top.sorted();
      const kept: Hyp[] = [];
      const done = best[b];
      /** A finished hypothesis scored over `scored` tokens (its own, plus <end> when it emitted one). */
      const finish = (hyp: Hyp, scored: number, ended: boolean): void => {
        const score = hyp.logp / lengthPenalty(scored, alpha);
        if (done.length === nBest && score <= done[nBest - 1].score) return;
        // Ties keep the earlier finished first.
        let i = done.length < nBest ? done.length : nBest - 1;
        done[i] = { hyp, score, ended };
        while (i > 0 && done[i - 1].score < score) {
          [done[i - 1], done[i]] = [done[i], done[i - 1]];
          i--;
        }
      };
      for (const c of cands) {
        if (kept.length === W) break;
        const parent = beams[b][c.k];
        if (c.v === END) {
          finish({ tokens: parent.tokens, logp: c.logp }, parent.tokens.length + 1, true);
          continue;
        }
        const hyp = { tokens: [...parent.tokens, c.v], logp: c.logp };
        if (hyp.tokens.length === maxLen) {
          finish(hyp, maxLen, false); // truncated at maxLength: scored over its tokens
          continue;
        }
        parents[b * W + kept.length] = b * W + c.k;
        ids[b * W + kept.length] = c.v;
        kept.push(hyp);
      }
      // An open prefix can at best keep its log-probability and reach the longest length: stop when none beats
      // the nBest-th finished hypothesis.
      const bound = (h: Hyp): number => h.logp / lengthPenalty(maxLen, alpha);
      const full = done.length === nBest;
      next.push(full && kept.every((h) => bound(h) <= done[nBest - 1].score) ? [] : kept);
      for (let k = next[b].length; k < W; k++) {
        parents[b * W + k] = b * W; // idle rows: any valid state and token
        ids[b * W + k] = END;
      }
    }
    beams = next;
    stepper.reorder(parents);
  }
  const decoded = best.map((list) =>
    list.length > 0
      ? list.map((r) => ({
          ids: Int32Array.from(r.hyp.tokens),
          score: r.score,
          ...(r.ended ? { logProb: r.hyp.logp } : {}),
        }))
      : [{ ids: new Int32Array(0), score: -Infinity }],
  );
  return { decoded, started: stepper };
}

/**
 * log P(target + <end> | source) of every (source, target) pair under `model` (an ensemble: the log of its members'
 * mean next-token probability at every step, what its searches read), teacher-forced on the steppers: pairs run as
 * rows of `rows`, in order of source length, and come back in the pairs' order. `opts.steppers`: a cache kept from
 * call to call (as the searches take it), so that scoring again and again does not build and pack new steppers.
 */
export function scoreTargets(
  model: DecodeModels,
  sources: readonly Int32Array[],
  targets: readonly Int32Array[],
  rows: number,
  opts: Pick<DecodeOptions, 'steppers'> = {},
): Float64Array {
  if (targets.length !== sources.length)
    throw new Error(`scoreTargets: ${sources.length} sources but ${targets.length} targets`);
  if (!(Number.isInteger(rows) && rows >= 1))
    throw new Error(`scoreTargets: rows must be a positive integer, got ${rows}`);
  return withSteppers(opts.steppers, (steppersOf) => {
    const out = new Float64Array(sources.length);
    const order = decodingOrder(sources);
    const steppers = steppersOf(model, 'score');
    withFrozenWeights(() => {
      for (let i = 0; i < sources.length; i += rows) {
        const picked = order.subarray(i, i + rows);
        const R = scoringRows(picked.length, rows);
        const pairOf = Int32Array.from({ length: R }, (_, r) => picked[r < picked.length ? r : 0]);
        const stepper = steppers.get(R);
        // Rows of one source (the candidates of an n-best list: the same array) share one run of the encoder.
        const distinct: Int32Array[] = [];
        const slot = new Map<Int32Array, number>();
        const rowSource = Int32Array.from(pairOf, (j) => {
          let k = slot.get(sources[j]);
          if (k === undefined) {
            k = distinct.push(sources[j]) - 1;
            slot.set(sources[j], k);
          }
          return k;
        });
        stepper.start(distinct, rowSource);
        const scored = forceTargets(
          stepper,
          Array.from(picked, (j) => targets[j]),
        );
        picked.forEach((j, r) => (out[j] = scored[r]));
      }
    });
    return out;
  });
}

/**
 * The rows a scoring batch of n pairs steps on, given `rows` for a full one: a short batch steps on the fewest rows
 * greedy decoding would narrow it to (so each row's products are the same), so a call with a few candidates costs a
 * few rows, not `rows`; never fewer than STEP_GEMM_ROWS, as the searches step on (a `rows` below it would put the
 * products on the GEMV, whose sums round differently). Idle rows repeat the first pair.
 */
function scoringRows(n: number, rows: number): number {
  return Math.max(n < rows ? Math.min(rows, narrowedRows(n)) : rows, STEP_GEMM_ROWS);
}

/**
 * Teacher-forces targets[r] on row r of `stepper` (started; its rows past the targets' idle): log P(target + <end>)
 * of each, summed step by step. Rows are never narrowed here: a source's candidates are consecutive rows, whose
 * attention shares one product per step, and a run of another length may round that product differently.
 */
function forceTargets(stepper: MemberSteppers, targets: readonly Int32Array[]): Float64Array {
  const V = stepper.outputSize;
  const out = new Float64Array(targets.length);
  const T = targets.reduce((m, y) => Math.max(m, y.length), 0) + 1;
  const ids = new Int32Array(stepper.rows).fill(START);
  for (let t = 0; t < T; t++) {
    const logp = stepper.step(ids);
    for (let r = 0; r < targets.length; r++) {
      const y = targets[r];
      if (t > y.length) continue;
      const token = t < y.length ? y[t] : END;
      out[r] += logp[r * V + token];
      ids[r] = token;
    }
  }
  return out;
}

/**
 * Rescoring steps a batch's candidates on a multiple of this many rows: few idle rows, and few stepper sizes (each
 * packs its weights once per decode).
 */
const RESCORING_ROWS = 16;

/** The extra model's score of a candidate it gives no probability (so the decoders still rank such candidates). */
const EXTRA_SCORE_FLOOR = -1e4;

/** A model outside the decoders that proposes and scores candidates (the joint n-gram of joint_ngram.ts). */
export interface CandidateScorer {
  /** Up to `n` outputs for a source (reading order), best first. */
  propose(source: Int32Array, n: number): Int32Array[];
  /** Its log-score of a (source, output) pair. */
  score(source: Int32Array, target: Int32Array): number;
  /** What its score is multiplied by before it is added to the decoders'. */
  weight: number;
}

/** Decoders of one target order: they propose together and score together (their members averaged). */
export interface DecodingSide {
  models: DecodeModels;
  /** The decoders write right to left: their candidates are reversed to reading order, and scored reversed. */
  reversed: boolean;
}

/**
 * Decoding by rescoring candidates. Each side proposes — its greedy output (width 1) or its `width` best by beam
 * search — and so does `extra` (its best, or its `width` best). Every distinct candidate y is then scored by every
 * side (teacher-forced, members averaged as its search averages them) and the answer maximises
 *
 *   mean over sides of log P_side(y) / lp(|y| + 1)  +  extra.weight · extra.score(source, y)
 *
 * (lp: beam search's length penalty). No candidate is longer than opts.maxLength: the extra model's longer proposals
 * are dropped (the sides always propose within it). A side's log P of its own proposals is the one its search summed
 * (Decoded.logProb, the same to the bit), so only the other candidates are stepped teacher-forced — batch by batch
 * of the searches (decoding order), on the encoder outputs the side's search of the batch computed
 * (GraphStepper.startFrom): each source goes through each side's encoder once. A candidate's score is the same in any
 * batch (every product on the GEMM kernel), so the answers are those of scoring all candidates after all searches.
 * With a forward and a reversed side and no extra, this is agreement decoding
 * (Liu et al. 2016, "Agreement on target-bidirectional LSTMs"): the two orders make different mistakes. With a joint
 * n-gram as extra, it is the hybrid of Rao et al. 2015. Outputs are in reading order.
 */
export function rescoreDecode(
  sides: readonly DecodingSide[],
  sources: readonly Int32Array[],
  opts: BeamOptions,
  extra?: CandidateScorer,
): Decoded[] {
  const bs = checkOptions(opts);
  const W = opts.width;
  const alpha = opts.lengthPenalty ?? DECODE_DEFAULTS.lengthPenalty;
  if (!(alpha >= 0)) throw new Error(`decode: lengthPenalty must be ≥ 0, got ${alpha}`);
  if (sides.length === 0) throw new Error('decode: rescoring needs at least one side of decoders');
  if (!(Number.isInteger(W) && W >= 1))
    throw new Error(`decode: beam width must be a positive integer, got ${W}`);
  const search = { maxLength: opts.maxLength, width: W, alpha, nBest: W };
  const rows = bs * 2 * W;
  // Per side: the steppers its search runs on, and those scoring candidates on the encoder outputs the search's
  // start computed (startFrom): a batch's sources go through each side's encoder once.
  return withSteppers(opts.steppers, (steppersOf) => {
    const searching = sides.map((side) => steppersOf(side.models, 'search'));
    const scoring = sides.map((side) => steppersOf(side.models, 'score'));
    const out = new Array<Decoded>(sources.length);
    const order = decodingOrder(sources);
    withFrozenWeights(() => {
      for (let i = 0; i < sources.length; i += bs) {
        const picked = order.subarray(i, i + bs);
        const batch = Array.from(picked, (j) => sources[j]);
        const proposed = sides.map((_, k) => {
          if (W !== 1) return nBestBatch(searching[k], batch, search);
          const { decoded, started } = greedyBatch(searching[k], batch, opts.maxLength);
          return { decoded: decoded.map((d) => [d]), started };
        });
        decodeByRescoring(sides, batch, proposed, scoring, { ...search, rows }, extra).forEach(
          (d, r) => (out[picked[r]] = d),
        );
      }
    });
    return out;
  });
}

/**
 * rescoreDecode of one batch, given each side's proposals and the steppers its search started (whose encoder outputs
 * the candidates are scored on).
 */
function decodeByRescoring(
  sides: readonly DecodingSide[],
  batch: readonly Int32Array[],
  proposed: readonly { decoded: Decoded[][]; started: MemberSteppers }[],
  scoring: readonly Steppers[],
  { width: W, alpha, maxLength, rows }: NBestSearch & { rows: number },
  extra: CandidateScorer | undefined,
): Decoded[] {
  // The distinct candidates of every source (its row in the batch), in reading order.
  const candRow: number[] = [];
  const candTarget: Int32Array[] = [];
  const firstCand = new Int32Array(batch.length + 1);
  // known[k][c]: side k's log P of candidate c when its own search already summed it (Decoded.logProb: the same
  // steps and products, so the same number as scoring it teacher-forced); NaN: to be scored.
  const known: number[][] = sides.map(() => []);
  batch.forEach((src, i) => {
    firstCand[i] = candTarget.length;
    // A source has a few candidates (at most sides × width + width): a scan finds a repeat without building a string
    // key per candidate.
    const offer = (ids: Int32Array): number => {
      for (let c = firstCand[i]; c < candTarget.length; c++) if (sameIds(candTarget[c], ids)) return c;
      candRow.push(i);
      candTarget.push(ids);
      for (const k of known) k.push(NaN);
      return candTarget.length - 1;
    };
    sides.forEach((side, k) => {
      for (const d of proposed[k].decoded[i]) {
        const c = offer(side.reversed ? d.ids.slice().reverse() : d.ids);
        if (d.logProb !== undefined) known[k][c] = d.logProb;
      }
    });
    // The sides' searches stop at maxLength; the extra model's proposals know no limit, so longer ones are left out.
    if (extra) for (const ids of extra.propose(src, W)) if (ids.length <= maxLength) offer(ids);
  });
  firstCand[batch.length] = candTarget.length;
  const lp = sides.map((side, k) => {
    const lpk = Float64Array.from(known[k]);
    const todo = Int32Array.from(lpk.keys()).filter((c) => Number.isNaN(lpk[c]));
    for (let at = 0; at < todo.length; at += rows) {
      const chunk = todo.subarray(at, at + rows);
      // The chunk's rows rounded up to a multiple of RESCORING_ROWS (a power of two left ≈ 30 % of the rows idle),
      // and at least STEP_GEMM_ROWS, as the searches step on: the GEMM kernel's sums, whatever the chunk's size. Idle
      // rows repeat the first candidate's source: with one source in the chunk they lengthen its run of rows (see
      // forceTargets), so there the rows are scoreTargets' own.
      const oneSource = candRow[chunk[0]] === candRow[chunk[chunk.length - 1]];
      const R = Math.max(
        oneSource
          ? scoringRows(chunk.length, rows)
          : Math.min(rows, Math.ceil(chunk.length / RESCORING_ROWS) * RESCORING_ROWS),
        STEP_GEMM_ROWS,
      );
      const stepper = scoring[k].get(R);
      stepper.startFrom(
        proposed[k].started,
        Int32Array.from({ length: R }, (_, r) => candRow[chunk[r < chunk.length ? r : 0]]),
      );
      const scored = forceTargets(
        stepper,
        Array.from(chunk, (c) => (side.reversed ? candTarget[c].slice().reverse() : candTarget[c])),
      );
      chunk.forEach((c, j) => (lpk[c] = scored[j]));
    }
    return lpk;
  });
  const extraScore = extra
    ? Float64Array.from(candTarget, (y, c) => extra.score(batch[candRow[c]], y))
    : null;
  return batch.map((_, i) => {
    let best: Decoded = { ids: new Int32Array(0), score: -Infinity };
    for (let c = firstCand[i]; c < firstCand[i + 1]; c++) {
      let sum = 0;
      for (const l of lp) sum += l[c];
      let score = sum / sides.length / lengthPenalty(candTarget[c].length + 1, alpha);
      // A candidate the extra model cannot spell at all is not ruled out: it gets a floor, below any it can.
      if (extraScore) score += extra!.weight * Math.max(extraScore[c], EXTRA_SCORE_FLOOR);
      if (score > best.score) best = { ids: candTarget[c], score };
    }
    return best;
  });
}

function sameIds(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let t = 0; t < a.length; t++) if (a[t] !== b[t]) return false;
  return true;
}

/** Agreement decoding of decoders of both target orders (rescoreDecode with the two sides). */
export function agreementDecode(
  forward: DecodeModels,
  reversed: DecodeModels,
  sources: readonly Int32Array[],
  opts: BeamOptions,
): Decoded[] {
  return rescoreDecode(
    [
      { models: forward, reversed: false },
      { models: reversed, reversed: true },
    ],
    sources,
    opts,
  );
}
