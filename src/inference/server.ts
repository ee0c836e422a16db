/**
 * The worker side of the inference pool, for any worker API (the entries src/node/inference_worker.ts and
 * src/web/inference_worker.ts only connect it to their message port). A worker holds its own copy of each model it
 * is sent (rebuilt from model.json's text and the weight bytes, as a model directory is loaded) on its own kernels
 * instance, and runs forward-only jobs on it: generation streams (all of a model's streams on this worker are rows of
 * one GenerationBatcher, stepped together), labelling a shard of texts, decoding a shard of sources.
 *
 * Why its own kernels and not the training pool's shared wasm memory: inference workers share nothing with the
 * caller while they run (no weights to keep in step, no gradients to sum), so a private memory per worker costs one
 * copy of the weights (small for RNNs) and needs no coordination; the kernels are the process default (wasm SIMD, or
 * the reference kernels under RECUR_KERNELS=reference), exactly those a one-thread run uses.
 */
import type { ClassifierModels } from '../classify/ensemble.js';
import { ensembleProbabilities } from '../classify/ensemble.js';
import {
  checkClassifierFits,
  parseClassifierMetadata,
  type ClassifierMetadata,
} from '../classify/metadata.js';
import { kernels, setKernels } from '../core/backend.js';
import { InvalidInputError } from '../core/errors.js';
import { referenceKernels } from '../core/reference_kernels.js';
import { createWasmKernels } from '../core/wasm/load.js';
import { deserializeFunctional, parseFunctionalModelJson } from '../models/functional_serialization.js';
import { parseModelJson } from '../models/model_file.js';
import { deserializeModel } from '../models/serialization.js';
import { FrozenWeights } from '../layers/frozen_weights.js';
import { StepperCache } from '../seq2seq/decode.js';
import { jointNgramFromJson } from '../seq2seq/joint_ngram.js';
import { Seq2Seq, checkSeq2SeqFits, parseSeq2SeqMetadata } from '../seq2seq/seq2seq.js';
import { GenerationBatcher } from '../text/batch_generation.js';
import { parseTextModelMetadata, vocabularyOf } from '../text/metadata.js';
import {
  metadataName,
  type InferenceReply,
  type InferenceRequest,
  type InferenceResult,
  type ModelFiles,
  type ModelPayload,
} from './protocol.js';

/**
 * A worker's models are never trained: each holds one frozen-weights scope open for its life, so what its layers
 * derive from their weights (a classifier's projected word rows) is made once, not once per job; a seq2seq model
 * also keeps its decoding steppers (their packed weights) from job to job. Unloading gives both back.
 */
type Held = HeldModel & { frozen: FrozenWeights; notes: string[] };
type HeldModel =
  | { kind: 'text'; batcher: GenerationBatcher }
  | { kind: 'classify'; model: ClassifierModels; meta: ClassifierMetadata }
  | { kind: 'seq2seq'; app: Seq2Seq; steppers: StepperCache };

/**
 * Runs `build`; any problem is bad input (an InvalidInputError) naming a model: a message that already names one of
 * `models` (its model.json, or its directory, with which its metadata checks start) is kept as it is, else it is
 * given the first one's file.
 */
function namingFile<T>(models: ModelFiles[], build: () => T): T {
  try {
    return build();
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    const named = models.some((m) => message.includes(m.file) || message.startsWith(metadataName(m)));
    throw new InvalidInputError(named ? message : `${models[0].file}: ${message}`);
  }
}

/**
 * Rebuilds a model from its payload, with the notes its files' readers gave (as loadModel's: a default taken, weights
 * not verified); every problem names the model's file (bad input: an InvalidInputError).
 */
export function holdModel(p: ModelPayload): Held {
  return { ...namingFile([p, ...(p.ensemble ?? [])], () => rebuild(p)), frozen: new FrozenWeights() };
}

function rebuild(p: ModelPayload): HeldModel & { notes: string[] } {
  if (p.kind === 'seq2seq') {
    const functional = (m: ModelFiles) =>
      deserializeFunctional(parseFunctionalModelJson(m.json, m.file), m.weights, m.file);
    const loaded = functional(p);
    const notes = [...loaded.notes];
    // A seed ensemble's other members (the caller's loader checked they share tokens, split and data).
    const others = (p.ensemble ?? []).map((m) =>
      namingFile([m], () => {
        const other = functional(m);
        notes.push(...other.notes);
        return {
          model: other.model,
          targetOrder: parseSeq2SeqMetadata(other.metadata, metadataName(m)).settings.targetOrder,
        };
      }),
    );
    const meta = parseSeq2SeqMetadata(loaded.metadata, metadataName(p));
    checkSeq2SeqFits(loaded.model, meta, metadataName(p));
    const ngram = p.jointNgram
      ? jointNgramFromJson(p.jointNgram.json, meta.sourceTokens, meta.targetTokens, p.jointNgram.file)
      : null;
    return {
      kind: 'seq2seq',
      app: Seq2Seq.fromMetadata(loaded.model, meta, others, ngram),
      steppers: new StepperCache(),
      // Each once, as loadClassifierDir's and loadSeq2SeqDir's on the calling thread.
      notes: [...new Set(notes)],
    };
  }
  const loaded = deserializeModel(parseModelJson(p.json, p.file), p.weights, p.file);
  if (p.kind === 'classify') {
    const meta = parseClassifierMetadata(loaded.metadata, metadataName(p));
    checkClassifierFits(loaded.model, meta, metadataName(p));
    // An ensemble's other members (the caller's loader checked they share classes and tokenizer).
    const notes = [...loaded.notes];
    const others = (p.ensemble ?? []).map((m) =>
      namingFile([m], () => {
        const other = deserializeModel(parseModelJson(m.json, m.file), m.weights, m.file);
        notes.push(...other.notes);
        return other.model;
      }),
    );
    return {
      kind: 'classify',
      model: others.length > 0 ? [loaded.model, ...others] : loaded.model,
      meta,
      // Each once, as loadClassifierDir's and loadSeq2SeqDir's on the calling thread.
      notes: [...new Set(notes)],
    };
  }
  const meta = parseTextModelMetadata(loaded.model, loaded.metadata, metadataName(p));
  const batcher = new GenerationBatcher(loaded.model, vocabularyOf(meta), meta.settings.lowercase, {
    maxBatch: p.maxBatch,
  });
  return { kind: 'text', batcher, notes: loaded.notes };
}

/**
 * Makes this worker's kernels the ones named (the calling thread's), so a row is computed here exactly as there:
 * the reference kernels, or wasm with the same variant (relaxed SIMD's fused multiply-add rounds differently).
 */
function useKernels(name: string): void {
  if (kernels().name === name) return;
  const k =
    name === referenceKernels.name
      ? referenceKernels
      : createWasmKernels(name === 'wasm-simd' ? 'simd' : 'relaxed');
  if (!k || k.name !== name)
    throw new Error(
      `inference worker: cannot run the ${name} kernels the calling thread uses (got ${k?.name ?? 'none'})`,
    );
  setKernels(k);
}

/** Handles the pool's requests; `send` posts a reply to the calling thread. Returns the message handler. */
export function inferenceServer(send: (reply: InferenceReply) => void): (msg: InferenceRequest) => void {
  const models = new Map<number, Held>();
  /** Aborts of the generation streams in flight, by job id. */
  const streams = new Map<number, AbortController>();

  const fail = (id: number, e: unknown): void =>
    send({
      type: 'error',
      id,
      message: (e as Error).message ?? String(e),
      invalid: e instanceof InvalidInputError,
    });

  function held<K extends Held['kind']>(modelId: number, kind: K): Extract<Held, { kind: K }> {
    const m = models.get(modelId);
    if (!m) throw new Error(`inference worker: no model ${modelId} was loaded`);
    if (m.kind !== kind)
      throw new Error(`inference worker: model ${modelId} is a ${m.kind} model, not ${kind}`);
    return m as Extract<Held, { kind: K }>;
  }

  function generate(id: number, modelId: number, msg: Extract<InferenceRequest, { type: 'generate' }>): void {
    const { batcher } = held(modelId, 'text');
    const abort = new AbortController();
    // Throws an InvalidInputError (bad prime or options) before anything is queued.
    const done = batcher.generate({
      ...msg.job,
      signal: abort.signal,
      onText: (text) => send({ type: 'text', id, text }),
    });
    streams.set(id, abort);
    send({ type: 'started', id });
    done
      .then(
        (text) => send({ type: 'done', id, result: text }),
        (e: unknown) => fail(id, e),
      )
      .finally(() => streams.delete(id));
  }

  return (msg) => {
    try {
      let result: InferenceResult;
      switch (msg.type) {
        case 'load': {
          useKernels(msg.kernels);
          const m = holdModel(msg.model);
          models.set(msg.modelId, m);
          result = m.notes;
          break;
        }
        case 'unload': {
          // A stream running on it holds its batcher, and finishes; the worker lets go of the model after. Jobs
          // that use the frozen scope or the steppers run to their end before the next message: they are done.
          const m = models.get(msg.modelId);
          models.delete(msg.modelId);
          if (m?.kind === 'seq2seq') m.steppers.dispose();
          m?.frozen.close();
          result = null;
          break;
        }
        case 'abort':
          streams.get(msg.id)?.abort(new Error('the request was cancelled'));
          return;
        case 'generate':
          generate(msg.id, msg.modelId, msg);
          return;
        case 'classify': {
          const c = held(msg.modelId, 'classify');
          result = c.frozen.run(() =>
            ensembleProbabilities(c.model, msg.sequences, c.meta.classes.length, msg.batchSize),
          );
          break;
        }
        case 'decode': {
          const { app, frozen, steppers } = held(msg.modelId, 'seq2seq');
          const opts = { ...msg.opts, steppers };
          result = frozen.run(() =>
            msg.raw ? app.translate(msg.sources, opts) : app.predict(msg.sources, opts),
          );
          break;
        }
      }
      send({ type: 'done', id: msg.id, result });
    } catch (e) {
      fail(msg.id, e);
    }
  };
}
