/**
 * Pairs as model tensors, teacher-forced: the encoder reads the source ids, the decoder reads <start> + target and
 * learns target + <end>, everything padded with 0 (<pad>, masked by Embedding(maskZero); the masked loss leaves the
 * padding out). Batches are length-bucketed — sorted by source length within random pools — so a batch pads little,
 * and drawn from a generator keyed by (seed, epoch): an epoch's batches are the same every time they are asked for,
 * which exact resume needs.
 */
import { Random } from '../core/random.js';
import { IndexTensor } from '../core/tensor.js';
import type { FunctionalBatch, FunctionalDataset } from '../models/functional.js';
import { END, START, type Tokenizer } from './tokenizer.js';

export interface EncodedPairs {
  sources: Int32Array[];
  targets: Int32Array[];
}

export interface EncodeOptions {
  /** Tokens a tokenizer never saw: an error, or <unk> (held-out pairs). Default: the tokenizer's own default. */
  unknown?: 'error' | 'unk';
  /** Targets right to left, for a decoder that writes them in that order. Default false. */
  reversed?: boolean;
}

export function encodePairs(
  pairs: readonly { source: string; target: string }[],
  sourceTokenizer: Tokenizer,
  targetTokenizer: Tokenizer,
  opts: EncodeOptions = {},
): EncodedPairs {
  return {
    sources: pairs.map((p) => sourceTokenizer.encode(p.source, opts.unknown)),
    targets: pairs.map((p) => {
      const ids = targetTokenizer.encode(p.target, opts.unknown);
      return opts.reversed ? ids.reverse() : ids;
    }),
  };
}

/** Sources [B, max length], padded with 0. */
export function sourceBatch(sources: readonly Int32Array[]): IndexTensor {
  const T = sources.reduce((m, s) => Math.max(m, s.length), 1);
  const data = new Int32Array(sources.length * T);
  sources.forEach((s, i) => data.set(s, i * T));
  return new IndexTensor(data, [sources.length, T]);
}

/** One teacher-forced batch: [source, <start>+target] → target+<end>, each padded with 0. */
export function pairBatch(data: EncodedPairs, rows: ArrayLike<number>): FunctionalBatch {
  const n = rows.length;
  const srcs = Array.from({ length: n }, (_, i) => data.sources[rows[i]]);
  let T = 1;
  for (let i = 0; i < n; i++) T = Math.max(T, data.targets[rows[i]].length + 1);
  const dec = new Int32Array(n * T);
  const y = new Int32Array(n * T);
  for (let i = 0; i < n; i++) {
    const t = data.targets[rows[i]];
    dec[i * T] = START;
    dec.set(t, i * T + 1);
    y.set(t, i * T);
    y[i * T + t.length] = END;
  }
  return {
    xs: [sourceBatch(srcs), new IndexTensor(dec, [n, T])],
    ys: [new IndexTensor(y, [n, T])],
  };
}

/** Target tokens a batch trains on (target + <end> per pair): the unit of the training speed. */
export function targetTokens(data: EncodedPairs): number {
  return data.targets.reduce((s, t) => s + t.length + 1, 0);
}

export interface BucketOptions {
  batchSize: number;
  seed: number;
  /** Shuffle pairs and batches (training); false keeps the data order (evaluation). Default true. */
  shuffle?: boolean;
  /** Pairs sorted by length together: this many batches' worth (default 50). */
  poolBatches?: number;
}

/** Length-bucketed batches of encoded pairs, deterministic per epoch. */
export class PairDataset implements FunctionalDataset {
  readonly batchesPerEpoch: number;
  readonly samplesPerEpoch: number;

  constructor(
    readonly data: EncodedPairs,
    readonly opts: BucketOptions,
  ) {
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0))
      throw new Error(`PairDataset: batchSize must be a positive integer, got ${opts.batchSize}`);
    this.samplesPerEpoch = data.sources.length;
    this.batchesPerEpoch = Math.ceil(this.samplesPerEpoch / opts.batchSize);
  }

  /** The row lists of an epoch's batches. */
  batchRows(epoch: number): Int32Array[] {
    const N = this.samplesPerEpoch;
    const bs = this.opts.batchSize;
    const order = new Int32Array(N);
    for (let i = 0; i < N; i++) order[i] = i;
    const shuffle = this.opts.shuffle ?? true;
    const rng = new Random((this.opts.seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
    if (shuffle) rng.shuffle(order);
    const pool = bs * (this.opts.poolBatches ?? 50);
    const len = (i: number): number => this.data.sources[i].length * 1024 + this.data.targets[i].length;
    for (let p = 0; p < N; p += pool)
      order.subarray(p, Math.min(N, p + pool)).sort((a, b) => len(a) - len(b));
    const batches: Int32Array[] = [];
    for (let i = 0; i < N; i += bs) batches.push(order.slice(i, Math.min(N, i + bs)));
    if (shuffle) {
      const idx = new Int32Array(batches.length);
      for (let i = 0; i < idx.length; i++) idx[i] = i;
      rng.shuffle(idx);
      return Array.from(idx, (i) => batches[i]);
    }
    return batches;
  }

  *batches(epoch: number): Generator<FunctionalBatch> {
    for (const rows of this.batchRows(epoch)) yield pairBatch(this.data, rows);
  }
}
