/**
 * A text as index data for character models, streamed as batches so memory stays bounded by the text itself (one
 * byte per character for vocabularies up to 256): windows are cut on the fly, never materialised, and no one-hot
 * tensor is ever built.
 *
 * Two ways to cut batches:
 *  - `windows` — the Keras recipe: windows of `maxlen` characters every `step` characters, each predicting the next
 *    character; shuffled every epoch by a keyed permutation (no index array either).
 *  - `streams` — char-rnn style: the text split into `batchSize` parallel streams read in consecutive chunks of
 *    `seqLength`, every position predicting the next character; for stateful models that carry state across batches.
 *
 * A validation split holds out the *end* of the text as a contiguous block, so no window straddles the boundary and
 * nothing leaks from training to validation through overlapping windows.
 */
import { InvalidInputError } from '../core/errors.js';
import { IndexTensor } from '../core/tensor.js';
import { mixSeed } from '../layers/dropout.js';
import type { Batch, BatchDataset } from '../models/sequential.js';
import { isHighSurrogate, isLowSurrogate, Vocabulary } from './vocabulary.js';

export interface CorpusOptions {
  /** Lowercase the text first (the Keras recipe does). Default true. */
  lowercase?: boolean;
  /** Use this vocabulary instead of the text's own (e.g. a trained model's). */
  vocabulary?: Vocabulary;
  /** With a given vocabulary, characters outside it: an error naming them (default), or left out. */
  unknown?: 'error' | 'skip';
}

export interface WindowOptions {
  maxlen: number;
  step: number;
  batchSize: number;
  /** Shuffle windows every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffling permutation. */
  seed?: number;
  /** Skip this many batches of the first epoch served (exact resume mid-epoch). */
  skipBatches?: number;
  /** Cap the batches of each epoch (quick runs). */
  maxBatches?: number;
  /**
   * Serve the windows (unshuffled) sorted by their characters, block by block of ALIKE_BLOCK windows, so that
   * windows beginning alike share a batch: inference then steps each distinct prefix once (src/models/prefix_steps.ts).
   * For scoring, where the order of the windows does not matter.
   */
  alikeTogether?: boolean;
}

/** Windows sorted together by alikeTogether: 65,536 (256 KB of window numbers at a time, whatever the text's size). */
export const ALIKE_BLOCK = 65_536;

export interface StreamOptions {
  seqLength: number;
  batchSize: number;
  /** Cap the batches of each epoch (quick runs): the streams keep their places in the text, only the first are read. */
  maxBatches?: number;
}

/** A dataset whose batches are produced synchronously. */
export interface SyncBatchDataset extends BatchDataset {
  batches(epoch: number): Iterable<Batch>;
}

export class TextCorpus {
  readonly vocabulary: Vocabulary;
  /** The encoded text (indices into the vocabulary). */
  readonly data: Uint8Array | Uint16Array | Int32Array;

  private constructor(vocabulary: Vocabulary, data: Uint8Array | Uint16Array | Int32Array) {
    this.vocabulary = vocabulary;
    this.data = data;
  }

  static fromText(text: string, opts: CorpusOptions = {}): TextCorpus {
    return TextCorpus.fromChunks(() => [text], opts);
  }

  /**
   * A corpus from a text given in pieces, so a large file is never one string (src/node/text_file.ts
   * `textFileChunks`): the text costs only its index array, one byte per character for up to 256 characters.
   * `chunks()` is called twice — count the characters (and collect the vocabulary unless one is given), then encode
   * — and must yield the same pieces both times. Pieces are lowercased one by one, so they should end at whitespace
   * (lowercasing depends on context only within a word: Greek final sigma).
   */
  static fromChunks(chunks: () => Iterable<string>, opts: CorpusOptions = {}): TextCorpus {
    const lowercase = opts.lowercase ?? true;
    const piece = (s: string): string => (lowercase ? s.toLowerCase() : s);
    // First pass: the length in characters (code points) and, without a given vocabulary, the characters used —
    // one-unit characters marked in a table, surrogate pairs in a set (a Set per character is ≈ 10 s on 100 MB).
    const collect = !opts.vocabulary;
    const units = collect ? new Uint8Array(65536) : null;
    const pairs = new Set<string>();
    let length = 0;
    for (const chunk of chunks()) {
      const t = piece(chunk);
      for (let k = 0; k < t.length; k++) {
        const u = t.charCodeAt(k);
        if (isHighSurrogate(u) && k + 1 < t.length && isLowSurrogate(t.charCodeAt(k + 1))) {
          if (collect) pairs.add(t.slice(k, k + 2));
          k++;
        } else if (units) units[u] = 1;
        length++;
      }
    }
    const vocabulary =
      opts.vocabulary ??
      new Vocabulary(
        [...units!.keys()]
          .filter((u) => units![u])
          .map((u) => String.fromCharCode(u))
          .concat([...pairs]),
      );
    const V = vocabulary.size;
    const data =
      V <= 256 ? new Uint8Array(length) : V <= 65536 ? new Uint16Array(length) : new Int32Array(length);
    const unknown = opts.unknown ?? 'error';
    let at = 0;
    let position = 0; // of the piece's first character, for errors (which stop at the first unknown one)
    for (const chunk of chunks()) {
      const t = piece(chunk);
      const end = vocabulary.encodeAt(data, at, t, unknown, position);
      position += end - at;
      at = end;
    }
    if (unknown === 'error' ? at !== length : at > length)
      throw new Error(`the text changed while it was read (${length} characters, then ${at})`);
    // Characters left out (unknown: 'skip') leave the end of the array unused.
    return new TextCorpus(vocabulary, at < length ? data.subarray(0, at) : data);
  }

  /**
   * A corpus over a text already encoded with `vocabulary` — by fromChunks on another thread, as
   * src/node/corpus_file.ts does. The array is used as it is, not copied; an index outside the vocabulary is refused.
   */
  static fromEncoded(vocabulary: Vocabulary, data: Uint8Array | Uint16Array | Int32Array): TextCorpus {
    const V = vocabulary.size;
    for (let i = 0; i < data.length; i++) {
      const c = data[i];
      if (!(c >= 0 && c < V))
        throw new Error(
          `encoded text: index ${c} at character ${i} is outside the vocabulary of ${V} characters`,
        );
    }
    return new TextCorpus(vocabulary, data);
  }

  get length(): number {
    return this.data.length;
  }

  /** Splits off the last `fraction` of the text as a validation corpus (same vocabulary). */
  split(fraction: number): { train: TextCorpus; validation: TextCorpus | null } {
    if (!(fraction >= 0 && fraction < 1))
      throw new Error(`validation split must be in [0, 1), got ${fraction}`);
    if (fraction === 0) return { train: this, validation: null };
    const cut = Math.floor(this.length * (1 - fraction));
    return {
      train: new TextCorpus(this.vocabulary, this.data.subarray(0, cut)),
      validation: new TextCorpus(this.vocabulary, this.data.subarray(cut)),
    };
  }

  /** Number of (window, next char) samples at maxlen/step: ⌈(length − maxlen) / step⌉. */
  windowCount(maxlen: number, step: number): number {
    return Math.max(0, Math.ceil((this.length - maxlen) / step));
  }

  /** The text of window i (for seeds and display). */
  windowText(i: number, maxlen: number, step: number): string {
    return this.vocabulary.decode(this.data.subarray(i * step, i * step + maxlen));
  }

  /** Keras-recipe batches: x [B, maxlen] indices, y [B] next-character indices. */
  windows(opts: WindowOptions): SyncBatchDataset {
    const { maxlen, step, batchSize } = opts;
    const n = this.windowCount(maxlen, step);
    if (n < 1) {
      throw new InvalidInputError(
        `the text has ${this.length} characters; it needs at least maxlen + 1 = ${maxlen + 1}`,
      );
    }
    const perEpoch = Math.ceil(n / batchSize);
    const batches = Math.min(perEpoch, opts.maxBatches ?? Infinity);
    const data = this.data;
    const shuffle = opts.shuffle ?? true;
    if (shuffle && opts.alikeTogether)
      throw new Error('windows: alikeTogether serves the windows unshuffled');
    const seed = opts.seed ?? 0;
    let skip = opts.skipBatches ?? 0;
    const alike = opts.alikeTogether ? new AlikeOrder(data, n, maxlen, step) : null;
    return {
      batchesPerEpoch: batches,
      samplesPerEpoch: Math.min(n, batches * batchSize),
      *batches(epoch: number): Iterable<Batch> {
        const perm = new Permutation(n, mixSeed(seed, epoch, 0x7e57));
        const first = skip;
        skip = 0;
        for (let b = first; b < batches; b++) {
          const start = b * batchSize;
          const B = Math.min(batchSize, n - start);
          const x = new Int32Array(B * maxlen);
          const y = new Int32Array(B);
          for (let r = 0; r < B; r++) {
            const w = shuffle ? perm.at(start + r) : alike ? alike.at(start + r) : start + r;
            const off = w * step;
            for (let t = 0; t < maxlen; t++) x[r * maxlen + t] = data[off + t];
            y[r] = data[off + maxlen];
          }
          yield { xs: new IndexTensor(x, [B, maxlen]), ys: new IndexTensor(y, [B]) };
        }
      },
    };
  }

  /** char-rnn batches: x, y [B, seqLength], y shifted one character ahead; stream b reads its own slice of text. */
  streams(opts: StreamOptions): SyncBatchDataset {
    const { seqLength, batchSize } = opts;
    const streamLen = Math.floor((this.length - 1) / batchSize);
    const full = Math.floor(streamLen / seqLength);
    const batches = Math.min(full, opts.maxBatches ?? Infinity);
    if (full < 1) {
      throw new InvalidInputError(
        `the text has ${this.length} characters; ${batchSize} streams of ${seqLength} need at least ${batchSize * seqLength + 1}`,
      );
    }
    const data = this.data;
    return {
      batchesPerEpoch: batches,
      samplesPerEpoch: batches * batchSize,
      *batches(): Iterable<Batch> {
        for (let k = 0; k < batches; k++) {
          const x = new Int32Array(batchSize * seqLength);
          const y = new Int32Array(batchSize * seqLength);
          for (let b = 0; b < batchSize; b++) {
            const off = b * streamLen + k * seqLength;
            for (let t = 0; t < seqLength; t++) {
              x[b * seqLength + t] = data[off + t];
              y[b * seqLength + t] = data[off + t + 1];
            }
          }
          yield {
            xs: new IndexTensor(x, [batchSize, seqLength]),
            ys: new IndexTensor(y, [batchSize, seqLength]),
          };
        }
      },
    };
  }
}

/**
 * A keyed pseudo-random permutation of [0, n) in O(1) memory: a 4-round Feistel network on the smallest even-bit
 * power-of-two domain ≥ n, with cycle walking to stay inside [0, n).
 */
export class Permutation {
  private readonly half: number;
  private readonly mask: number;
  constructor(
    private readonly n: number,
    private readonly key: number,
  ) {
    let bits = 2;
    while (2 ** bits < n) bits++;
    if (bits % 2) bits++;
    this.half = bits / 2;
    this.mask = 2 ** this.half - 1;
  }
  at(i: number): number {
    let x = i;
    do {
      let l = Math.floor(x / 2 ** this.half);
      let r = x & this.mask;
      for (let round = 0; round < 4; round++) {
        const f = mixSeed(r, this.key, round) & this.mask;
        [l, r] = [r, (l ^ f) & this.mask];
      }
      x = l * 2 ** this.half + r;
    } while (x >= this.n);
    return x;
  }
}

/** Window numbers sorted by the windows' characters within each block of ALIKE_BLOCK, computed a block at a time. */
class AlikeOrder {
  private block = -1;
  private order = new Int32Array(0);

  constructor(
    private readonly data: Uint8Array | Uint16Array | Int32Array,
    private readonly n: number,
    private readonly maxlen: number,
    private readonly step: number,
  ) {}

  /** The window served j-th. */
  at(j: number): number {
    const block = Math.floor(j / ALIKE_BLOCK);
    if (block !== this.block) this.sortBlock(block);
    return this.order[j - block * ALIKE_BLOCK];
  }

  private sortBlock(block: number): void {
    const { data, maxlen, step } = this;
    const first = block * ALIKE_BLOCK;
    const order = Int32Array.from({ length: Math.min(ALIKE_BLOCK, this.n - first) }, (_, i) => first + i);
    order.sort((a, b) => {
      const oa = a * step;
      const ob = b * step;
      for (let t = 0; t < maxlen; t++) {
        const d = data[oa + t] - data[ob + t];
        if (d !== 0) return d;
      }
      return a - b;
    });
    this.block = block;
    this.order = order;
  }
}
