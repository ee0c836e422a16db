/**
 * Decoding many sources from the CLI (`seq2seq eval`, `predict`, a training run's test scores) with a progress bar:
 * on the inference pool when there are threads and work for it, otherwise on this thread in the pool's own runs of
 * whole batches, which give the outputs of one call over all the sources.
 */
import { DECODE_RUN_BATCHES, decodingRuns, type InferencePool, type PooledModel } from '../inference/pool.js';
import { CountProgress } from '../node/callbacks.js';
import { withInferencePool } from '../node/inference_pool.js';
import { DECODE_DEFAULTS, StepperCache } from '../seq2seq/decode.js';
import type { Example } from '../seq2seq/pairs.js';
import {
  typedSources,
  type Seq2Seq,
  type Seq2SeqPrediction,
  type Seq2SeqScores,
  type Seq2SeqTokenizers,
  type TranslateOptions,
  type Translation,
} from '../seq2seq/seq2seq.js';

/**
 * The sources' progress bar: on a terminal, unless the command is quiet or prints JSON, and only for more than one
 * batch of sources (a few words would only flash it).
 */
function sourcesProgress(total: number, batchSize: number, show: boolean): CountProgress {
  return new CountProgress(
    total,
    'sources',
    process.stderr,
    show && total > batchSize && process.stderr.isTTY === true,
  );
}

/**
 * Decodes the sources with `decodeRun` (given indices into them): in one call, or — when the bar shows — run after
 * run of a few batches, reporting each, the bar drawing between them. Every run decodes on the same `steppers`
 * (the model's weights do not change meanwhile): a run building its own would pack every layer's weights again.
 */
async function decodeHere<T>(
  ids: readonly Int32Array[],
  batchSize: number,
  decodeRun: (run: Int32Array, steppers: StepperCache) => T[],
  progress: CountProgress,
): Promise<T[]> {
  const out = new Array<T>(ids.length);
  const steppers = new StepperCache();
  try {
    if (!progress.shown) {
      const all = Int32Array.from(ids, (_, i) => i);
      decodeRun(all, steppers).forEach((t, i) => (out[i] = t));
      return out;
    }
    for (const run of decodingRuns(ids, batchSize, 1, DECODE_RUN_BATCHES)) {
      decodeRun(run, steppers).forEach((t, k) => (out[run[k]] = t));
      progress.add(run.length);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return out;
  } finally {
    steppers.dispose();
  }
}

/**
 * Batches of sources each worker must have when the user gave no --threads: a pool of two pays ≈ 1.2 s to start its
 * workers and load an ensemble with its n-gram into each (≈ 0.45 s for one model), which decoding 16 batches of 64
 * words on the second core about repays (BENCHMARKS.md, "Small decodes stay on one thread").
 */
export const DECODE_POOL_MIN_BATCHES = 16;

export interface PooledDecoding {
  /** The model's directory, which the pool's workers load. */
  dir: string;
  threads: number;
  /**
   * The user asked for `threads` (--threads): that many workers, however little the work. Otherwise the pool starts
   * only with DECODE_POOL_MIN_BATCHES batches for each of its workers.
   */
  threadsGiven: boolean;
  /**
   * The model on this thread, with its networks and joint n-gram (only loaded when this thread decodes), and its
   * loader's notes.
   */
  here: () => { app: Seq2Seq; notes: readonly string[] };
  /** Says the model's load notes: this thread's loader's, or the pool's (its first worker's); once either way. */
  sayNotes: (notes: readonly string[]) => void;
  /** The pool's workers load the model's joint n-gram (false: decoding gives it no weight, so none is built). */
  jointNgram: boolean;
  /** The bar's visibility (on a terminal only). */
  show: boolean;
}

/**
 * Decodes `texts` (`read`: as the model reads them) on the pool with `pooled`, or here run by run with `decodeRun`.
 */
async function decodeAll<T>(
  texts: readonly string[],
  read: readonly string[],
  batchSize: number,
  where: PooledDecoding,
  pooled: (pool: InferencePool, model: PooledModel, onDecoded?: (n: number) => void) => Promise<T[]>,
  decodeRun: (model: Seq2Seq, texts: string[], steppers: StepperCache) => T[],
): Promise<T[]> {
  const progress = sourcesProgress(texts.length, batchSize, where.show);
  try {
    const work = {
      threads: where.threads,
      items: texts.length,
      batchSize,
      ...(where.threadsGiven ? {} : { minBatchesPerWorker: DECODE_POOL_MIN_BATCHES }),
    };
    const fromPool = await withInferencePool(
      where.dir,
      'seq2seq',
      work,
      (pool, m) => {
        where.sayNotes(m.notes);
        return pooled(pool, m, progress.shown ? (n) => progress.add(n) : undefined);
      },
      { jointNgram: where.jointNgram },
    );
    if (fromPool) return fromPool;
    const { app: model, notes } = where.here();
    where.sayNotes(notes);
    const ids = read.map((t) => model.source.encode(t, 'unk'));
    return await decodeHere(
      ids,
      batchSize,
      (run, steppers) =>
        decodeRun(
          model,
          Array.from(run, (i) => texts[i]),
          steppers,
        ),
      progress,
    );
  } finally {
    progress.stop();
  }
}

/** `Seq2Seq.translate` of the texts as given (what evaluation scores). */
export function translateAll(
  texts: readonly string[],
  decode: TranslateOptions,
  where: PooledDecoding,
): Promise<Translation[]> {
  return decodeAll(
    texts,
    texts,
    decode.batchSize ?? DECODE_DEFAULTS.batchSize,
    where,
    (pool, m, onDecoded) => pool.translate(m, texts, decode, onDecoded),
    (model, run, steppers) => model.translate(run, { ...decode, steppers }),
  );
}

/** `Seq2Seq.predict` of sources as a user types them (what `predict` prints). */
export function predictAll(
  app: Seq2SeqTokenizers,
  texts: readonly string[],
  decode: TranslateOptions,
  where: PooledDecoding,
): Promise<Seq2SeqPrediction[]> {
  return decodeAll(
    texts,
    typedSources(app.data, texts),
    decode.batchSize ?? DECODE_DEFAULTS.batchSize,
    where,
    (pool, m, onDecoded) => pool.decode(m, texts, decode, onDecoded),
    (model, run, steppers) => model.predict(run, { ...decode, steppers }),
  );
}

/** `app.evaluate(examples)` on this thread (greedy), with the bar. */
export async function evaluateHere(
  app: Seq2Seq,
  examples: readonly Example[],
  show: boolean,
): Promise<Seq2SeqScores> {
  const started = Date.now();
  const batchSize = DECODE_DEFAULTS.batchSize;
  const progress = sourcesProgress(examples.length, batchSize, show);
  try {
    const texts = examples.map((e) => e.source);
    const ids = texts.map((t) => app.source.encode(t, 'unk'));
    const out = await decodeHere(
      ids,
      batchSize,
      (run, steppers) =>
        app.translate(
          Array.from(run, (i) => texts[i]),
          { steppers },
        ),
      progress,
    );
    return app.score(examples, out, {}, started);
  } finally {
    progress.stop();
  }
}
