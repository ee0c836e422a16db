/**
 * The inference pool (src/inference/pool.ts) on Node worker threads, and the payload a model directory gives it:
 * model.json's text and the weights files it names, read with the same checks as loading the model here.
 */
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { InferencePool, type InferencePort, type PooledModel } from '../inference/pool.js';
import type { InferenceKind, InferenceReply, ModelFiles, ModelPayload } from '../inference/protocol.js';
import { parseFunctionalModelJson } from '../models/functional_serialization.js';
import { classifierMemberDirs } from './classifier_dir.js';
import { modelJsonPath, readModelFiles } from './model_io.js';
import { jointNgramPath } from './run_files.js';
import { seq2seqMemberDirs } from './seq2seq_dir.js';

export { InferencePool } from '../inference/pool.js';

/** One inference worker on a Node worker thread. */
export function spawnInferenceThread(): InferencePort {
  const worker = new Worker(new URL('./inference_worker.js', import.meta.url));
  let exitFn: ((err: Error) => void) | null = null;
  let terminating = false;
  worker.on('error', (e) => exitFn?.(e));
  worker.on('exit', (code) => {
    if (!terminating) exitFn?.(new Error(`the thread exited with code ${code}`));
  });
  return {
    postMessage: (msg) => worker.postMessage(msg),
    onMessage: (fn) => worker.on('message', (r: InferenceReply) => fn(r)),
    onExit: (fn) => (exitFn = fn),
    hold: (busy) => (busy ? worker.ref() : worker.unref()),
    terminate: () => {
      terminating = true;
      return worker.terminate();
    },
  };
}

/** An inference pool of `threads` worker threads (default: the cores this process may use). */
export function createInferencePool(threads = availableParallelism()): InferencePool {
  return new InferencePool(spawnInferenceThread, threads);
}

/**
 * What a pool needs to load the model in `dir`: model.json's text and its weights files (checked as loadModel does).
 * A seed ensemble's (classifier or seq2seq) payload is member 1's, with the other members in `ensemble`. A seq2seq
 * model's joint n-gram comes with it unless `jointNgram` is false (decoding at weight 0 need not build one).
 */
export function readModelPayload(
  dir: string,
  kind: InferenceKind,
  maxBatch?: number,
  opts: { jointNgram?: boolean } = {},
): ModelPayload {
  const one = (d: string): ModelFiles => {
    const file = modelJsonPath(d);
    const { weightFiles } = readModelFiles(d, kind === 'seq2seq' ? parseFunctionalModelJson : undefined);
    return {
      file,
      dir: d,
      json: readFileSync(file, 'utf8'),
      weights: weightFiles.map((w) => ({ path: w.path, data: w.data })),
    };
  };
  const [head, ...rest] =
    kind === 'classify' ? classifierMemberDirs(dir) : kind === 'seq2seq' ? seq2seqMemberDirs(dir) : [dir];
  const ngramFile = kind === 'seq2seq' && opts.jointNgram !== false ? jointNgramPath(dir) : null;
  return {
    kind,
    ...one(head),
    ...(rest.length > 0 ? { ensemble: rest.map(one) } : {}),
    ...(ngramFile !== null ? { jointNgram: { file: ngramFile, json: readFileSync(ngramFile, 'utf8') } } : {}),
    ...(maxBatch ? { maxBatch } : {}),
  };
}

export interface PoolWork {
  threads: number;
  items: number;
  batchSize: number;
  /**
   * When the user gave no thread count: the batches each worker must have before a worker is started for them (a
   * pool costs its start-up and a model load per worker, which a few batches do not repay; measured per command in
   * BENCHMARKS.md, "Small decodes stay on one thread"). Absent: `threads` workers, however little the work.
   */
  minBatchesPerWorker?: number;
}

/** The workers a pool gets for `work`: at most one per batch, and per minBatchesPerWorker batches when set. */
export function poolWorkers(work: PoolWork): number {
  const batches = Math.ceil(work.items / work.batchSize);
  return Math.min(work.threads, Math.floor(batches / (work.minBatchesPerWorker ?? 1)));
}

/**
 * Runs `run` on a pool holding the model in `dir`, sized for `items` inputs cut into batches of `batchSize` (one
 * worker per batch at most: a batch is never split, which keeps answers identical to one thread's), and terminates
 * the pool after. Returns null, starting nothing, when that is one worker or fewer: the caller runs in-process.
 * `payload` is readModelPayload's options.
 */
export async function withInferencePool<T>(
  dir: string,
  kind: InferenceKind,
  work: PoolWork,
  run: (pool: InferencePool, model: PooledModel) => Promise<T>,
  payload: { jointNgram?: boolean } = {},
): Promise<T | null> {
  const workers = poolWorkers(work);
  if (workers <= 1) return null;
  const pool = createInferencePool(workers);
  try {
    return await run(pool, await pool.load(readModelPayload(dir, kind, undefined, payload)));
  } finally {
    await pool.terminate();
  }
}
