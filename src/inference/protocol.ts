/**
 * Messages between the inference pool (src/inference/pool.ts, on the calling thread) and its workers
 * (src/inference/server.ts). Every job carries an id; the worker answers each with 'done' or 'error', and a generation
 * job also with 'started' (its request was valid and queued) and 'text' (characters as they are sampled).
 */
import type { WeightFile } from '../models/serialization.js';
import type { Seq2SeqPrediction, Translation } from '../seq2seq/seq2seq.js';

/** The tasks whose models a worker can hold. Forecasters stay on the caller (see src/node/server.ts). */
export type InferenceKind = 'text' | 'classify' | 'seq2seq';

/** One saved model's files: see ModelPayload's fields of the same names. */
export type ModelFiles = Pick<ModelPayload, 'file' | 'dir' | 'json' | 'weights'>;

/**
 * How metadata errors name the model of `m` (its `dir`, else the directory of its model.json): as the calling
 * thread's loaders do, so that a worker's error names the file once, as theirs does.
 */
export function metadataName(m: Pick<ModelPayload, 'file' | 'dir'>): string {
  if (m.dir !== undefined) return m.dir;
  const cut = Math.max(m.file.lastIndexOf('/'), m.file.lastIndexOf('\\'));
  return cut < 0 ? '.' : cut === 0 ? m.file.slice(0, 1) : m.file.slice(0, cut);
}

/** A saved model as recur writes it: model.json's text and the bytes of the weights files its manifest names. */
export interface ModelPayload {
  kind: InferenceKind;
  /** How errors in the file itself name the model (its model.json path). */
  file: string;
  /**
   * How errors in its recur metadata name the model: its directory, as the calling thread's loader names it (the
   * metadata checks add 'model.json' themselves). Default: `file`'s directory.
   */
  dir?: string;
  json: string;
  weights: WeightFile[];
  /**
   * A seed ensemble (classifier or seq2seq): its members after the first (this payload's own file, json and weights
   * are member 1's); the worker averages all members' class probabilities (src/classify/ensemble.ts) or next-token
   * probabilities (src/seq2seq/decode.ts).
   */
  ensemble?: ModelFiles[];
  /** A seq2seq model's joint n-gram file (src/seq2seq/joint_ngram.ts), when it has one. */
  jointNgram?: { file: string; json: string };
  /** Streams stepped together per worker (text models; GenerationBatcher's maxBatch). */
  maxBatch?: number;
}

/** What a generation job sends: StreamRequest without the callbacks. */
export interface GenerationJob {
  prime: string;
  length: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export interface DecodeJob {
  beam?: number;
  lengthPenalty?: number;
  maxLength?: number;
  batchSize?: number;
  /** The joint n-gram's weight (a seq2seq model with one; 0 decodes without it). */
  ngramWeight?: number;
}

export type InferenceRequest =
  /** `kernels`: the calling thread's kernels' name, which the worker uses too (the first load sets them). */
  | { type: 'load'; id: number; modelId: number; model: ModelPayload; kernels: string }
  /** Drops the model: its streams still running finish; no new job names it. */
  | { type: 'unload'; id: number; modelId: number }
  | { type: 'generate'; id: number; modelId: number; job: GenerationJob }
  | { type: 'abort'; id: number }
  /** Token ids of the texts (the pool encodes them once), in the order the one-thread run batches them. */
  | { type: 'classify'; id: number; modelId: number; sequences: Int32Array[]; batchSize: number }
  /** `raw`: decode the sources as given (Seq2Seq.translate, as evaluation does), else as predict does. */
  | { type: 'decode'; id: number; modelId: number; sources: string[]; opts: DecodeJob; raw: boolean };

/** load: the notes of the model's files' readers; classify: the class probabilities [sequences × classes]. */
export type InferenceResult = null | string | string[] | Float32Array | Seq2SeqPrediction[] | Translation[];

export type InferenceReply =
  | { type: 'started'; id: number }
  | { type: 'text'; id: number; text: string }
  | { type: 'done'; id: number; result: InferenceResult }
  /** `invalid`: the request was bad input (an InvalidInputError on the worker), not a failure. */
  | { type: 'error'; id: number; message: string; invalid: boolean };
