/**
 * The two rates issue #18 item 6 compares for seq2seq, shared by bench/seq2seq.ts (one model) and
 * bench/seq2seq_ensemble.ts (a seed ensemble with its joint n-gram): a model's training pairs/s with fitDataset on
 * the worker pool, and `recur seq2seq predict`'s words/s in-process and on the inference pool.
 */
import { availableParallelism } from 'node:os';
import type { FunctionalBatch } from '../src/models/functional.js';
import { withInferencePool } from '../src/node/inference_pool.js';
import { buildSeq2SeqModel, type Seq2SeqSettings } from '../src/seq2seq/model.js';
import type { Seq2Seq } from '../src/seq2seq/seq2seq.js';

export const CORES = availableParallelism();
export const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const log = (s: string): void => void process.stderr.write(s + '\n');

/** Non-padding target tokens of a batch. */
export function targetTokens(b: FunctionalBatch): number {
  const y = b.ys[0].data;
  let n = 0;
  for (let i = 0; i < y.length; i++) if (y[i] !== 0) n++;
  return n;
}

/**
 * Target tokens/s and pairs/s of fitDataset over `batches` (after the first two, which warm up: they also start the
 * pool's workers and build their replicas) with `threads`, on a fresh model of `settings`.
 */
export async function fitRates(
  settings: Seq2SeqSettings,
  sourceSize: number,
  targetSize: number,
  batches: readonly FunctionalBatch[],
  threads: number,
): Promise<{ wall: number; cpu: number; pairs: number }> {
  const m = buildSeq2SeqModel(settings, sourceSize, targetSize);
  const served = (bs: FunctionalBatch[]) => ({ batchesPerEpoch: bs.length, batches: () => bs });
  await m.fitDataset(served(batches.slice(0, 2)), { threads });
  let tokens = 0;
  let pairs = 0;
  for (const b of batches.slice(2)) {
    tokens += targetTokens(b);
    pairs += b.ys[0].shape[0];
  }
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await m.fitDataset(served(batches.slice(2)), { threads });
  const c = process.cpuUsage(c0);
  const seconds = (performance.now() - t0) / 1000;
  return { wall: tokens / seconds, cpu: tokens / ((c.user + c.system) / 1e6), pairs: pairs / seconds };
}

/**
 * `recur seq2seq predict`'s two paths: in-process on one thread, and on the inference pool with every core (timed
 * from creating the pool, so starting its workers and loading the model count, then the started pool decoding the
 * same words again, as training's rate is timed on started workers), greedy on `texts` and beam 5 on its first
 * `beamWords`; each against `trainPairsPerSec`. The pool's outputs must equal one thread's.
 */
export async function poolDecoding(
  app: Seq2Seq,
  dir: string,
  texts: readonly string[],
  beamWords: number,
  trainPairsPerSec: number,
): Promise<Record<string, number>> {
  const out: Record<string, number> = { poolWords: texts.length, beamWords, trainPairsPerSec };
  for (const beam of [1, 5]) {
    const decode = { beam, batchSize: 64 };
    const what = beam === 1 ? 'greedy' : 'beam 5';
    const words = beam === 1 ? texts : texts.slice(0, beamWords);
    let t0 = performance.now();
    const inProcess = app.predict(words, decode);
    const one = words.length / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    let warm = 0;
    const pooled = await withInferencePool(
      dir,
      'seq2seq',
      { threads: CORES, items: words.length, batchSize: 64 },
      async (pool, m) => {
        const cold = await pool.decode(m, words, decode);
        const t1 = performance.now();
        const again = await pool.decode(m, words, decode);
        warm = words.length / ((performance.now() - t1) / 1000);
        if (again.some((p, i) => p.output !== cold[i].output)) throw new Error('a second decode differs');
        return { cold, seconds: (t1 - t0) / 1000 };
      },
    );
    const key = beam === 1 ? 'Greedy' : 'Beam5';
    out[`predict${key}OneThreadWordsPerSec`] = one;
    if (!pooled) {
      log(`recur seq2seq predict, ${what}: one thread ${fmt(one)} words/s; one core, so no inference pool`);
      continue;
    }
    if (pooled.cold.some((p, i) => p.output !== inProcess[i].output))
      throw new Error(`pool decoding (${what}) differs from one thread's`);
    const all = words.length / pooled.seconds;
    log(
      `recur seq2seq predict, ${what}, ${fmt(words.length)} words: one thread ${fmt(one)} words/s, ` +
        `inference pool (${CORES} threads, start-up included) ${fmt(all)} words/s → ${(all / one).toFixed(2)}× one ` +
        `thread, ${(all / trainPairsPerSec).toFixed(2)}× training pairs/s; the started pool again ${fmt(warm)} ` +
        `words/s → ${(warm / trainPairsPerSec).toFixed(2)}× training`,
    );
    out[`predict${key}PoolWordsPerSec`] = all;
    out[`predict${key}PoolVsTraining`] = all / trainPairsPerSec;
    out[`predict${key}WarmPoolWordsPerSec`] = warm;
    out[`predict${key}WarmPoolVsTraining`] = warm / trainPairsPerSec;
  }
  return out;
}
