/**
 * Monotone alignment of source tokens to chunks of target tokens, learned by expectation–maximisation — what turns
 * grapheme-to-phoneme pairs into graphone sequences for the joint n-gram (joint_ngram.ts):
 *
 *   p h o n e      source tokens s_1 … s_S
 *   F - OW1 N -    each s_i emits a chunk c_i of 0 … maxChunk target tokens, in order: c_1 … c_S = the target
 *
 * The model is a table p(chunk | source token) (Jiampojamarn et al. 2007's many-to-many aligner, with one source
 * token per step). EM: the E step sums over every segmentation of the target by forward–backward,
 *
 *   α[i][j] = Σ_k α[i−1][j−k] · p(t[j−k, j) | s_i)      (k = 0 … maxChunk)
 *   β[i][j] = Σ_k p(t[j, j+k) | s_{i+1}) · β[i+1][j+k]
 *
 * and counts each chunk by its posterior α[i−1][j−k] · p · β[i][j] / α[S][T]; the M step renormalises the counts per
 * source token. The final alignment of a pair is its most probable segmentation (Viterbi). A pair with more than
 * maxChunk target tokens per source token has none (align returns null).
 *
 * Cost: O(S · T · maxChunk) per pair and iteration; the table holds V_source × (1 + V + V² …) numbers for maxChunk 2.
 */

/** Chunks are keyed by their tokens: 0 is the empty chunk, then one token (1 + a), then two (1 + V + a·V + b). */
function chunkKey(target: Int32Array, from: number, length: number, V: number): number {
  if (length === 0) return 0;
  if (length === 1) return 1 + target[from];
  return 1 + V + target[from] * V + target[from + 1];
}

function keyTokens(key: number, V: number): number[] {
  if (key === 0) return [];
  if (key <= V) return [key - 1];
  const k = key - 1 - V;
  return [Math.floor(k / V), k % V];
}

export interface AlignerOptions {
  /** Most target tokens one source token emits: 1 or 2 (default 2: x → K S). */
  maxChunk?: number;
  /** EM iterations (default 10). */
  iterations?: number;
}

export const ALIGNER_DEFAULTS = { maxChunk: 2, iterations: 10 } as const;

/**
 * The most numbers the aligner's table may hold (it is allocated twice: the table and the E step's counts). G2P's is
 * 31 × 5,403; word vocabularies (translation) would need 10^11 and are not what the aligner is for.
 */
export const ALIGNER_MAX_TABLE = 2 ** 24;

/** The numbers the aligner's table holds for these vocabularies: one row of chunk probabilities per source token. */
export function alignerTableSize(
  sourceVocab: number,
  targetVocab: number,
  maxChunk: number = ALIGNER_DEFAULTS.maxChunk,
): number {
  const V = targetVocab;
  return sourceVocab * (maxChunk === 1 ? 1 + V : 1 + V + V * V);
}

export interface AlignablePair {
  source: Int32Array;
  target: Int32Array;
}

export class ChunkAligner {
  private constructor(
    /** Source vocabulary size (token ids are below it). */
    readonly sourceVocab: number,
    /** Target vocabulary size. */
    readonly targetVocab: number,
    readonly maxChunk: number,
    /** p(chunk key | source token), row-major [sourceVocab, keys]. */
    private readonly table: Float64Array,
  ) {}

  private get keys(): number {
    const V = this.targetVocab;
    return this.maxChunk === 1 ? 1 + V : 1 + V + V * V;
  }

  /** Learns the table from pairs by EM, from a uniform start (deterministic: the same pairs give the same table). */
  static fit(
    pairs: readonly AlignablePair[],
    sourceVocab: number,
    targetVocab: number,
    opts: AlignerOptions = {},
  ): ChunkAligner {
    const maxChunk = opts.maxChunk ?? ALIGNER_DEFAULTS.maxChunk;
    const iterations = opts.iterations ?? ALIGNER_DEFAULTS.iterations;
    if (maxChunk !== 1 && maxChunk !== 2)
      throw new Error(`ChunkAligner: maxChunk must be 1 or 2, got ${maxChunk}`);
    const V = targetVocab;
    const K = maxChunk === 1 ? 1 + V : 1 + V + V * V;
    const size = alignerTableSize(sourceVocab, targetVocab, maxChunk);
    if (size > ALIGNER_MAX_TABLE)
      throw new Error(
        `ChunkAligner: ${sourceVocab} source and ${targetVocab} target tokens need a table of ${size} numbers (at most ${ALIGNER_MAX_TABLE}); the aligner is for small symbol sets`,
      );
    const table = new Float64Array(size).fill(1 / K);
    const aligner = new ChunkAligner(sourceVocab, targetVocab, maxChunk, table);
    const counts = new Float64Array(sourceVocab * K);
    for (let it = 0; it < iterations; it++) {
      counts.fill(0);
      for (const p of pairs) aligner.expect(p, counts);
      for (let s = 0; s < sourceVocab; s++) {
        let total = 0;
        for (let k = 0; k < K; k++) total += counts[s * K + k];
        // A token the pairs never have keeps its (uniform) row.
        if (total > 0) for (let k = 0; k < K; k++) table[s * K + k] = counts[s * K + k] / total;
      }
    }
    return aligner;
  }

  private p(s: number, target: Int32Array, from: number, length: number): number {
    return this.table[s * this.keys + chunkKey(target, from, length, this.targetVocab)];
  }

  /** The forward table α [(S + 1) × (T + 1)] of a pair (α[S][T] = P(target | source)); null when T > S · maxChunk. */
  private forward(source: Int32Array, target: Int32Array): Float64Array | null {
    const S = source.length;
    const T = target.length;
    if (T > S * this.maxChunk) return null;
    const W = T + 1;
    const alpha = new Float64Array((S + 1) * W);
    alpha[0] = 1;
    for (let i = 1; i <= S; i++)
      for (let j = 0; j <= T; j++) {
        let a = 0;
        for (let k = 0; k <= this.maxChunk && k <= j; k++)
          a += alpha[(i - 1) * W + j - k] * this.p(source[i - 1], target, j - k, k);
        alpha[i * W + j] = a;
      }
    return alpha;
  }

  /** Σ log P(target | source) over the pairs that have a segmentation (EM never lowers it), and how many do not. */
  logLikelihood(pairs: readonly AlignablePair[]): { logLikelihood: number; unaligned: number } {
    let logLikelihood = 0;
    let unaligned = 0;
    for (const { source, target } of pairs) {
      const alpha = this.forward(source, target);
      const Z = alpha ? alpha[alpha.length - 1] : 0;
      if (Z > 0) logLikelihood += Math.log(Z);
      else unaligned++;
    }
    return { logLikelihood, unaligned };
  }

  /** Adds one pair's expected chunk counts (the E step); a pair with no segmentation adds nothing. */
  private expect({ source, target }: AlignablePair, counts: Float64Array): void {
    const alpha = this.forward(source, target);
    if (!alpha) return;
    const S = source.length;
    const T = target.length;
    const W = T + 1;
    const Z = alpha[S * W + T];
    if (!(Z > 0)) return;
    const beta = new Float64Array((S + 1) * W);
    beta[S * W + T] = 1;
    for (let i = S - 1; i >= 0; i--)
      for (let j = 0; j <= T; j++) {
        let b = 0;
        for (let k = 0; k <= this.maxChunk && j + k <= T; k++)
          b += this.p(source[i], target, j, k) * beta[(i + 1) * W + j + k];
        beta[i * W + j] = b;
      }
    const K = this.keys;
    for (let i = 1; i <= S; i++)
      for (let j = 0; j <= T; j++) {
        const b = beta[i * W + j];
        if (b === 0) continue;
        for (let k = 0; k <= this.maxChunk && k <= j; k++) {
          const a = alpha[(i - 1) * W + j - k];
          if (a === 0) continue;
          const key = chunkKey(target, j - k, k, this.targetVocab);
          counts[source[i - 1] * K + key] += (a * this.table[source[i - 1] * K + key] * b) / Z;
        }
      }
  }

  /**
   * The most probable segmentation of `target` over `source`: one chunk (target token ids, possibly none) per source
   * token, concatenating to the target; null when there is none (more than maxChunk target tokens per source token, or
   * chunks the table gives no probability). Ties go to the shorter chunk at the later position.
   */
  align(source: Int32Array, target: Int32Array): Int32Array[] | null {
    const S = source.length;
    const T = target.length;
    if (T > S * this.maxChunk) return null;
    const W = T + 1;
    const score = new Float64Array((S + 1) * W).fill(-Infinity);
    const step = new Int8Array((S + 1) * W);
    score[0] = 0;
    for (let i = 1; i <= S; i++)
      for (let j = 0; j <= T; j++)
        for (let k = 0; k <= this.maxChunk && k <= j; k++) {
          const prev = score[(i - 1) * W + j - k];
          if (prev === -Infinity) continue;
          const v = prev + Math.log(this.p(source[i - 1], target, j - k, k));
          if (v > score[i * W + j]) {
            score[i * W + j] = v;
            step[i * W + j] = k;
          }
        }
    if (score[S * W + T] === -Infinity) return null;
    const chunks: Int32Array[] = new Array<Int32Array>(S);
    for (let i = S, j = T; i > 0; i--) {
      const k = step[i * W + j];
      chunks[i - 1] = target.slice(j - k, j);
      j -= k;
    }
    return chunks;
  }

  /** p(chunk | source token), for tests and inspection. */
  probability(sourceToken: number, chunk: readonly number[]): number {
    if (chunk.length > this.maxChunk) return 0;
    return this.p(sourceToken, Int32Array.from(chunk), 0, chunk.length);
  }

  /** The chunks of a source token with at least `min` probability, most likely first (inspection). */
  chunksOf(sourceToken: number, min = 0.01): { tokens: number[]; p: number }[] {
    const K = this.keys;
    const out: { tokens: number[]; p: number }[] = [];
    for (let k = 0; k < K; k++) {
      const p = this.table[sourceToken * K + k];
      if (p >= min) out.push({ tokens: keyTokens(k, this.targetVocab), p });
    }
    return out.sort((a, b) => b.p - a.p);
  }
}
