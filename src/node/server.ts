/**
 * The HTTP side of `recur serve`: a fastify app serving the page's static files (with the cross-origin-isolation
 * headers the page's worker pool needs) and a JSON API over the models it was given.
 *
 *   GET  /v1/models     the served models, their kind and what they expect
 *   POST /v1/generate   text models: {model, prime, length, temperature, top_k, top_p, seed, stream} → {text}, or with
 *                       stream: true a Server-Sent Events stream of {text} chunks ending in an `event: done`
 *   POST /v1/predict    forecasters: {model, values?} → the ensemble forecast of the next `horizon` points;
 *                       classifiers: {model, texts | text} → label and class probabilities per text;
 *                       seq2seq models: {model, sources, beam?, max_length?, length_penalty?} → the decoded output per source
 *                       (the same answers as `recur classify predict --json` / `recur seq2seq predict --json`)
 *
 * Concurrent generation requests on a model share batched stateful steps (src/text/batch_generation.ts). With an
 * inference pool (src/inference/pool.ts; `recur serve --threads N`, N > 1) text, classifier and seq2seq models run
 * on its worker threads (attachInferencePool), so the event loop only routes requests and streams characters; with
 * none (--threads 1) they run here on the event loop, as before. Forecasters always run here. Every
 * request body (decoded first if sent with Content-Encoding gzip, deflate or br) is checked by a zod schema; a bad one is a 4xx with `{error}` naming the field and what was expected.
 * Limits (body size, characters, prime length, texts per request, beam width, streams in flight) are 4xx too, never
 * a crash. A known path asked with a method it does not answer is a 405 with Allow; there is no CORS (same-origin).
 * Kept apart from the CLI so tests can start it on port 0 (createServeApp + app.listen).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ClassifierMetadata } from '../classify/metadata.js';
import type { ClassifierModels } from '../classify/ensemble.js';
import { ensembleProbabilities } from '../classify/ensemble.js';
import {
  DEFAULT_THRESHOLD,
  classificationsOf,
  labelsAtThreshold,
  type TextClassification,
} from '../classify/predict.js';
import { Tokenizer as ClassifyTokenizer } from '../classify/tokenizer.js';
import { InvalidInputError, noSuchPath } from '../core/errors.js';
import { parseJsonText } from '../core/json_text.js';
import { datesAfter, valueRangeProblem } from '../forecast/series.js';
import type { RNNForecaster } from '../forecast/network.js';
import { forecastSaved, minHistory, savedIntervals, type SavedSeries } from '../forecast/saved.js';
import type { MonthlySeries } from '../forecast/series.js';
import {
  CMUDICT_DATA,
  DECODE_MARGIN,
  greedyRanksCandidates,
  isBlankSource,
  limitUnit,
  sourceProblemOf,
  sourceTokenizer,
  typedSources,
  type Seq2Seq,
  type Seq2SeqMetadata,
  type Seq2SeqPrediction,
} from '../seq2seq/seq2seq.js';
import { StepperCache } from '../seq2seq/decode.js';
import type { TargetOrder } from '../seq2seq/model.js';
import type { Tokenizer as Seq2SeqTokenizer } from '../seq2seq/tokenizer.js';
import { decodingRuns, type InferencePool, type PooledModel } from '../inference/pool.js';
import type { DecodeJob, ModelPayload } from '../inference/protocol.js';
import { isBlankText } from '../text/blank.js';
import { GenerationBatcher } from '../text/batch_generation.js';
import {
  parseTextMetadata,
  parseTextModelMetadata,
  vocabularyOf,
  type TextMetadata,
} from '../text/metadata.js';
import './forecast.js';
import { loadForecasterDir } from './forecaster_io.js';
import { isEnsembleDir, loadClassifierDir, readClassifierDir } from './classifier_dir.js';
import { claimedEnsembleFormat } from './seed_ensemble_dir.js';
import { loadSeq2SeqDir, readJointNgram, readJointNgramHeader, readSeq2SeqDir } from './seq2seq_dir.js';
import { readModelPayload } from './inference_pool.js';
import { loadModel, readModelMetadata } from './model_io.js';

/** Request limits: wide enough for real use, narrow enough that one request cannot hold the server. */
export const SERVE_LIMITS = {
  /** Bytes of a request body. */
  bodyBytes: 1 << 20,
  /** Characters one request may generate. */
  length: 20_000,
  /** Characters of a prime. */
  primeChars: 10_000,
  /** Generation streams in flight (generating or waiting) per server. */
  streams: 256,
  /** Streams stepped together per model (bench/serve.ts: 64 rows per step gave no more characters/s than 32). */
  maxBatch: 32,
  /** Values a /v1/predict request may send. */
  values: 1_000_000,
  /** Texts (classifiers) or sources (seq2seq) one /v1/predict request may send. */
  texts: 256,
  /** Characters of one text or source. */
  textChars: 10_000,
  /** Widest beam a seq2seq request may ask for (beam search costs width × the greedy decode). */
  beam: 16,
  /** Most output tokens a seq2seq request may ask for. */
  maxLength: 1_000,
  /**
   * Milliseconds a request's headers and body may take to arrive (then 408): a client that stops sending mid-body must
   * not hold its connection, and SIGTERM's drain, for ever (fastify's default is no limit).
   */
  requestMs: 60_000,
};
export type ServeLimits = typeof SERVE_LIMITS;

export interface TextServed {
  kind: 'text';
  name: string;
  dir: string;
  /**
   * What its loader noted (a default taken, weights not verified: loadModel's notes), for `recur serve` to say once;
   * for a model on the inference pool, its workers' (attachInferencePool).
   */
  notes?: readonly string[];
  meta: TextMetadata;
  /** The model on this thread; none when it was loaded for the inference pool only (loadServedModel's `onPool`). */
  batcher?: GenerationBatcher;
  /** The model in the inference pool (attachInferencePool); unset: served on this thread by `batcher`. */
  pooled?: PooledModel;
}
export interface ForecasterServed {
  kind: 'forecaster';
  name: string;
  dir: string;
  /** See TextServed's. */
  notes?: readonly string[];
  /** The saved series: its method, members and calibrated interval half-widths per level and step. */
  series: SavedSeries;
  networks: ReadonlyMap<string, RNNForecaster>;
  history: MonthlySeries;
  /** The fewest points of history it forecasts from (as `recur forecast predict` asks). */
  minHistory: number;
}
export interface ClassifierServed {
  kind: 'classify';
  name: string;
  dir: string;
  /** See TextServed's. */
  notes?: readonly string[];
  /** The model, or a seed ensemble's members (their class probabilities averaged); none when loaded `onPool`. */
  model?: ClassifierModels;
  meta: ClassifierMetadata;
  tokenizer: ClassifyTokenizer;
  pooled?: PooledModel;
}
export interface Seq2SeqServed {
  kind: 'seq2seq';
  name: string;
  dir: string;
  /** See TextServed's. */
  notes?: readonly string[];
  /** Its metadata (an ensemble's: member 1's): settings, tokens, data. */
  meta: Seq2SeqMetadata;
  /** What its sources are checked with (sourceProblemOf). */
  source: Seq2SeqTokenizer;
  /** Each member's target order, and the joint n-gram's weight (0: none): whether greedy decoding ranks candidates. */
  memberOrders: readonly TargetOrder[];
  ngramWeight: number;
  /** The model on this thread; none when it was loaded for the inference pool only (loadServedModel's `onPool`). */
  app?: Seq2Seq;
  /**
   * `app`'s decoding steppers, kept from request to request (its weights never change); given back when a reload
   * retires the model, or the server closes.
   */
  steppers?: StepperCache;
  pooled?: PooledModel;
}
/** A model directory recur can list but not serve (a task this version does not know). */
export interface OtherServed {
  kind: string;
  name: string;
  dir: string;
  /** See TextServed's. */
  notes?: readonly string[];
}
export type Served = TextServed | ForecasterServed | ClassifierServed | Seq2SeqServed | OtherServed;

/** Runs a loader, turning what it throws into bad input (the CLI's exit 2). */
function loading<T>(load: () => T): T {
  try {
    return load();
  } catch (e) {
    throw e instanceof InvalidInputError ? e : new InvalidInputError((e as Error).message);
  }
}

/**
 * Loads the model directories `recur serve` is given: text models (model.json with a text vocabulary), forecasters
 * (forecaster.json), classifiers and seq2seq models (model.json with task 'classify' / 'seq2seq'; a classifier or
 * seq2seq seed ensemble's ensemble.json), and any other recur
 * model (listed with its task, refused by the endpoints). Names are the
 * directories' base names, made unique with a suffix. A directory that holds no model is an InvalidInputError.
 */
export function loadServedModels(
  dirs: readonly string[],
  limits: ServeLimits = SERVE_LIMITS,
  opts: Pick<ServedLoading, 'onPool' | 'ngramWeight'> = {},
): Served[] {
  const names = new Set<string>();
  return dirs.map((dir) => {
    let name = basename(resolve(dir)) || 'model';
    for (let i = 2; names.has(name); i++) name = `${basename(resolve(dir))}-${i}`;
    names.add(name);
    return loadServedModel(dir, name, limits, opts);
  });
}

/** How loadServedModel reads a model directory. */
export interface ServedLoading {
  /** Read for an inference pool to run: metadata and vocabularies only. */
  onPool?: boolean;
  /** false: a seq2seq model comes without its joint n-gram. */
  jointNgram?: boolean;
  /**
   * `recur serve --ngram-weight`: the weight seq2seq models decode with their joint n-gram (default: each one's own,
   * saved with it); at 0 its file is not read, and a positive weight for a model without one is refused.
   */
  ngramWeight?: number;
}

/**
 * Loads one model directory as `name` (see loadServedModels); a reload (SIGUSR2) loads each again by this
 * (reloadServedModel). `onPool`: a text, classifier or seq2seq model is read for an inference pool to run
 * (attachInferencePool), its metadata and vocabularies only, which is all this thread then needs: the workers build
 * the networks and check they fit. `jointNgram: false`: a seq2seq model comes without its joint n-gram.
 */
export function loadServedModel(
  dir: string,
  name: string,
  limits: ServeLimits = SERVE_LIMITS,
  opts: ServedLoading = {},
): Served {
  if (!existsSync(dir)) throw new InvalidInputError(noSuchPath(dir, 'a model directory'));
  if (!statSync(dir).isDirectory())
    throw new InvalidInputError(
      `${dir}: is a file, not a model directory; recur serve serves directories (\`recur convert ${dir} DIR\` makes one of a Keras file)`,
    );
  if (existsSync(join(dir, 'forecaster.json'))) return loadServedForecaster(dir, name);
  if (isEnsembleDir(dir) && claimedEnsembleFormat(dir) === 'recur-seq2seq-ensemble')
    return servedSeq2Seq(dir, name, opts);
  if (isEnsembleDir(dir)) return servedClassifier(dir, name, opts);
  const file = join(dir, 'model.json');
  if (!existsSync(file))
    throw new InvalidInputError(`${dir}: no model.json or forecaster.json here; not a recur model directory`);
  const task = (
    parseJsonText(readFileSync(file, 'utf8'), file) as { userDefinedMetadata?: { task?: unknown } }
  )?.userDefinedMetadata?.task;
  if (task === 'classify') return servedClassifier(dir, name, opts);
  if (task === 'seq2seq') return servedSeq2Seq(dir, name, opts);
  if (task !== 'text') return { kind: typeof task === 'string' ? task : 'unknown', name, dir };
  if (opts.onPool)
    return { kind: 'text', name, dir, meta: loading(() => parseTextMetadata(readModelMetadata(dir), dir)) };
  const loaded = loading(() => loadModel(dir));
  const meta = parseTextModelMetadata(loaded.model, loaded.metadata, dir);
  const batcher = new GenerationBatcher(loaded.model, vocabularyOf(meta), meta.settings.lowercase, {
    maxBatch: limits.maxBatch,
    yieldFn: () => new Promise((r) => setImmediate(r)),
  });
  return { kind: 'text', name, dir, meta, batcher, notes: loaded.notes };
}

function servedClassifier(dir: string, name: string, opts: { onPool?: boolean }): ClassifierServed {
  if (opts.onPool) {
    const c = loading(() => readClassifierDir(dir));
    return { kind: 'classify', name, dir, meta: c.meta, tokenizer: c.tokenizer };
  }
  const c = loading(() => loadClassifierDir(dir));
  return {
    kind: 'classify',
    name,
    dir,
    model: c.models,
    meta: c.meta,
    tokenizer: c.tokenizer,
    notes: c.notes,
  };
}

function servedSeq2Seq(dir: string, name: string, opts: ServedLoading): Seq2SeqServed {
  const weight = opts.ngramWeight;
  // As `seq2seq predict --ngram-weight` refuses it: ignored, the weight would leave the user believing it took part.
  if (weight !== undefined && weight > 0 && loading(() => readJointNgramHeader(dir)) === null)
    throw new InvalidInputError(
      `--ngram-weight ${weight}: ${dir} has no joint n-gram to weigh (fit one with 'recur seq2seq ngram ${dir}'); leave the flag out, or serve it apart`,
    );
  // At weight 0 no request can use the n-gram: its file is not read, so a damaged or missing one stops nothing.
  const jointNgram = opts.jointNgram !== false && weight !== 0;
  if (opts.onPool) {
    const { meta, memberOrders, ngramWeight } = loading(() => readSeq2SeqDir(dir, { jointNgram }));
    return {
      kind: 'seq2seq',
      name,
      dir,
      meta,
      source: sourceTokenizer(meta),
      memberOrders,
      ngramWeight: weight ?? ngramWeight,
    };
  }
  const loaded = loading(() => loadSeq2SeqDir(dir, { jointNgram }));
  return seq2seqOnThisThread(name, dir, loaded.app, loaded.notes, weight);
}

/**
 * loadServedModel for a reload while serving: with `pause` (a turn of the event loop) before the model and, for one
 * built on this thread, between its network and its joint n-gram (the longest build: a large one takes most of a
 * second), so that the served models' requests and streams go on between the parts.
 */
export async function reloadServedModel(
  dir: string,
  name: string,
  limits: ServeLimits,
  opts: { onPool?: boolean; ngramWeight?: number },
  pause: () => Promise<void>,
): Promise<Served> {
  await pause();
  if (opts.onPool) return loadServedModel(dir, name, limits, opts);
  const served = loadServedModel(dir, name, limits, { ...opts, jointNgram: false });
  const app = served.kind === 'seq2seq' ? (served as Seq2SeqServed).app : undefined;
  if (!app || opts.ngramWeight === 0) return served;
  await pause();
  const ngram = loading(() => readJointNgram(dir, app.metadata()));
  return ngram
    ? seq2seqOnThisThread(name, dir, app.withJointNgram(ngram), served.notes, opts.ngramWeight)
    : served;
}

/**
 * The served entry of a seq2seq model that runs on this thread; `notes`: its loader's; `ngramWeight`: the weight it
 * decodes with its joint n-gram (ServedLoading's; default: the n-gram's own).
 */
export function seq2seqOnThisThread(
  name: string,
  dir: string,
  app: Seq2Seq,
  notes: readonly string[] = [],
  ngramWeight?: number,
): Seq2SeqServed {
  return {
    kind: 'seq2seq',
    name,
    dir,
    notes,
    meta: app.metadata(),
    source: app.source,
    memberOrders: app.memberOrders,
    ngramWeight: ngramWeight ?? app.jointNgram?.weight ?? 0,
    app,
    steppers: new StepperCache(),
  };
}

/**
 * Loads every text, classifier and seq2seq model of `served` into the inference pool (each worker rebuilds it from
 * the same files), so createServeApp runs their requests there; rejects with the error of the first model that does
 * not load. Forecasters stay on this thread: their predict is an ensemble with statistical baselines, not one
 * batched forward pass.
 */
export async function attachInferencePool(
  served: Served[],
  pool: InferencePool,
  limits: ServeLimits = SERVE_LIMITS,
): Promise<void> {
  const failed = (await loadIntoInferencePool(served, pool, limits)).find((e) => e !== null);
  if (failed) throw failed;
}

/**
 * attachInferencePool, each model all or nothing: resolves with, per model of `served`, why it did not load (its
 * files, or a worker that cannot build it), or null. `oneWorkerAtATime`: InferencePool.loadEach's (a reload, the pool
 * serving meanwhile: each worker rebuilds every model in one turn).
 */
export async function loadIntoInferencePool(
  served: Served[],
  pool: InferencePool,
  limits: ServeLimits = SERVE_LIMITS,
  opts: { oneWorkerAtATime?: boolean } = {},
): Promise<(Error | null)[]> {
  const errors = served.map((): Error | null => null);
  const pooled: { at: number; payload: ModelPayload }[] = [];
  served.forEach((s, at) => {
    if (s.kind !== 'text' && s.kind !== 'classify' && s.kind !== 'seq2seq') return;
    try {
      pooled.push({
        at,
        payload: readModelPayload(s.dir, s.kind, s.kind === 'text' ? limits.maxBatch : undefined, {
          // A seq2seq model decoding at n-gram weight 0 (recur serve --ngram-weight 0) never uses its n-gram.
          jointNgram: s.kind !== 'seq2seq' || (s as Seq2SeqServed).ngramWeight > 0,
        }),
      });
    } catch (e) {
      errors[at] = e as Error;
    }
  });
  const loaded = await pool.loadEach(
    pooled.map((p) => p.payload),
    opts,
  );
  loaded.forEach((r, i) => {
    const { at } = pooled[i];
    if (r.status === 'fulfilled') Object.assign(served[at], { pooled: r.value, notes: r.value.notes });
    else errors[at] = r.reason as Error;
  });
  return errors;
}

/** The model of `m` on this thread, for a request the pool does not run; one loaded `onPool` has none. */
function onThisThread<T>(m: Served, model: T | undefined): T {
  if (model === undefined)
    throw new Error(`model '${m.name}' was loaded for an inference pool, and the server was given none`);
  return model;
}

const GENERATE_BODY = (limits: ServeLimits) =>
  z.strictObject({
    model: z.string().optional(),
    prime: z.string().max(limits.primeChars).optional(),
    length: z.number().int().min(0).max(limits.length).default(400),
    temperature: z.number().min(0).max(100).default(0.5),
    top_k: z.number().int().min(1).max(65_536).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .optional(),
    stream: z.boolean().default(false),
  });

const PREDICT_BODY = (limits: ServeLimits) => {
  // As `recur classify predict` refuses a blank argument: nothing to classify.
  const text = z
    .string()
    .max(limits.textChars)
    .refine((s) => !isBlankText(s), {
      message: 'a text must not be empty or only whitespace or invisible characters',
    });
  // As `recur seq2seq predict` refuses a blank argument: a decoder would invent an output for nothing.
  const source = z
    .string()
    .max(limits.textChars)
    .refine((s) => !isBlankSource(s), {
      message: 'a source must not be empty or only whitespace or invisible characters',
    });
  // As `recur forecast` refuses a value beyond ±1e30: a bad value of the request (400, `values.0`), not of the model.
  const value = z.number().superRefine((v, ctx) => {
    const problem = valueRangeProblem(v);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: `${v} is ${problem}` });
  });
  return z.strictObject({
    model: z.string().optional(),
    values: z.array(value).min(1).max(limits.values).optional(),
    text: text.optional(),
    texts: z.array(text).min(1).max(limits.texts).optional(),
    sources: z.array(source).min(1).max(limits.texts).optional(),
    threshold: z.number().min(0).max(1).optional(),
    beam: z.number().int().min(1).max(limits.beam).optional(),
    max_length: z.number().int().min(1).max(limits.maxLength).optional(),
    // As `seq2seq predict --length-penalty`'s range.
    length_penalty: z.number().min(0).max(10).optional(),
  });
};
type PredictBody = z.infer<ReturnType<typeof PREDICT_BODY>>;

/** The /v1/predict fields each kind of model takes; a field meant for another kind is a 400 naming it. */
const PREDICT_FIELDS: Record<string, readonly (keyof PredictBody)[]> = {
  forecaster: ['values'],
  classify: ['text', 'texts', 'threshold'],
  seq2seq: ['sources', 'beam', 'max_length', 'length_penalty'],
};

/**
 * The kind of model a /v1/predict body without `model` is meant for, from the fields only that kind takes
 * (`texts`/`text` first, then `sources`, then `values`); null when it sends none, which any kind could answer.
 */
function predictKind(body: PredictBody): string | null {
  for (const kind of ['classify', 'seq2seq', 'forecaster'])
    if (PREDICT_FIELDS[kind].some((field) => body[field] !== undefined)) return kind;
  return null;
}

/**
 * The model a /v1/predict body that names none and sends no field of one kind (`{}`) is for: the one model served
 * that /v1/predict answers (a forecaster then forecasts from its own history); with several, the request is
 * ambiguous, a 400 naming them.
 */
function onlyPredictor(served: readonly Served[]): Served {
  const answering = served.filter((s) => PREDICT_FIELDS[s.kind] !== undefined);
  if (answering.length === 1) return answering[0];
  throw new HttpError(
    400,
    answering.length === 0
      ? 'no forecaster, classify or seq2seq model is served'
      : `model: several models answer /v1/predict (${answering.map((s) => s.name).join(', ')}); name one, or send the fields of its kind (values, texts or text, sources)`,
  );
}

/** Batch sizes of the predict commands' defaults (`recur classify predict`, `recur seq2seq predict`). */
const CLASSIFY_BATCH = 128;
const SEQ2SEQ_BATCH = 64;

/**
 * A saved single-series forecaster as `recur forecast predict` reads it, whatever its method (a network, ETS, Theta,
 * SARIMA, a combination…); a panel, or one that reads regressors, is refused: /v1/predict takes a history alone.
 */
function loadServedForecaster(dir: string, name: string): ForecasterServed {
  const d = loadForecasterDir(dir);
  const s = d.manifest.series[0];
  if (d.manifest.kind !== 'series' || !d.manifest.history)
    throw new InvalidInputError(
      `${dir}: a panel forecaster; /v1/predict forecasts one series (forecast a panel with 'recur forecast predict ${dir} CSV')`,
    );
  if (s.members.some((m) => m.covariates))
    throw new InvalidInputError(
      `${dir}: the forecaster reads regressors, which /v1/predict does not take (forecast with 'recur forecast predict ${dir} CSV')`,
    );
  const networks = d.networks.get(s.id) ?? new Map<string, RNNForecaster>();
  const h = d.manifest.history;
  return {
    kind: 'forecaster',
    name,
    dir,
    series: s,
    networks,
    history: {
      name: s.id,
      dates: h.dates,
      values: h.values,
      ...(s.frequency ? { frequency: s.frequency } : {}),
    },
    minHistory: minHistory(s, networks),
    notes: d.notes,
  };
}

/** The status a request whose client went away is logged with (nginx's; no client reads it). */
const CLIENT_CLOSED_REQUEST = 499;

/** An error the API answers with `status` and `{error}`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Headers the answer carries (429's Retry-After). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The request fields whose limits are sizes: beyond them a request is answered 413. */
const SIZE_FIELDS = new Set(['length', 'prime', 'text', 'texts', 'sources', 'values', 'beam', 'max_length']);

/** How many unknown fields a 400 names. */
const UNKNOWN_FIELDS_NAMED = 5;

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'the request body must be a JSON object');
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.length ? issue.path.join('.') : '(body)';
    // 413 is for what makes a request too large to serve (README: the size limits); a value merely out of its
    // range (temperature, top_p, seed) is a bad request.
    const tooBig = issue.code === 'too_big' && SIZE_FIELDS.has(String(issue.path[0]));
    // Unknown fields are named, but only the first few: 50,000 of them must not make a 500 KB answer.
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys
            .slice(0, UNKNOWN_FIELDS_NAMED)
            .map((k) => JSON.stringify(k))
            .join(', ')}${issue.keys.length > UNKNOWN_FIELDS_NAMED ? ` … (${issue.keys.length} in all)` : ''}`
        : issue.message;
    throw new HttpError(tooBig ? 413 : 400, `${field}: ${message}`);
  }
  return r.data;
}

function pick(served: readonly Served[], name: string | undefined, want: string): Served {
  if (name === undefined) {
    const of = served.filter((s) => s.kind === want);
    if (of.length === 1) return of[0];
    throw new HttpError(
      400,
      of.length === 0
        ? `no ${want} model is served`
        : `model: several ${want} models are served (${of.map((s) => s.name).join(', ')}); name one`,
    );
  }
  const m = served.find((s) => s.name === name);
  if (!m)
    throw new HttpError(
      404,
      `model: unknown model '${name}'; served: ${served.map((s) => s.name).join(', ') || '(none)'}`,
    );
  return m;
}

/** The kinds recur serve answers requests for; a model of another kind is listed, with why it is not served. */
const SERVED_KINDS: ReadonlySet<string> = new Set(['text', 'forecaster', 'classify', 'seq2seq']);

/** A model's kind in words, for errors ("a tagger model"; a model.json naming no task: "a model with no recur task"). */
function kindInWords(kind: string): string {
  return kind === 'unknown' ? 'a model with no recur task' : `a ${kind} model`;
}

/** Why recur serve lists a model but does not serve it (at start-up and in GET /v1/models), or null when it serves it. */
export function notServedReason(s: Served): string | null {
  if (SERVED_KINDS.has(s.kind)) return null;
  // Most often a Keras file converted to a directory, which carries no vocabulary (README, "Bring a Keras model").
  if (s.kind === 'unknown')
    return `its model.json names no recur task (a model converted from Keras, or saved by the library), so recur serve does not serve it; \`recur train TEXT --from ${s.dir}\` makes a character model a text model it serves`;
  return `recur serve does not serve ${s.kind} models`;
}

function describe(s: Served): Record<string, unknown> {
  if (s.kind === 'text') {
    const t = s as TextServed;
    const st = t.meta.settings;
    return {
      name: s.name,
      kind: s.kind,
      endpoint: '/v1/generate',
      vocabulary: t.meta.vocabulary.length,
      recipe: st.recipe,
      cell: st.cell,
      units: st.units,
      layers: st.layers,
      lowercase: st.lowercase,
      default_prime: t.meta.defaultPrime,
    };
  }
  if (s.kind === 'classify') {
    const c = s as ClassifierServed;
    return {
      name: s.name,
      kind: s.kind,
      endpoint: '/v1/predict',
      expects: 'texts',
      classes: c.meta.classes,
      multi_label: c.meta.settings.multiLabel,
      level: c.meta.tokenizer.options.level,
      max_tokens: c.meta.settings.maxLength,
    };
  }
  if (s.kind === 'seq2seq') {
    const a = (s as Seq2SeqServed).meta;
    return {
      name: s.name,
      kind: s.kind,
      endpoint: '/v1/predict',
      expects: 'sources',
      source_mode: a.settings.sourceMode,
      target_mode: a.settings.targetMode,
      g2p: a.data === CMUDICT_DATA,
      default_max_length: a.longestTarget + DECODE_MARGIN,
      // The longest source it decodes (a longer one is a 400), in what it counts: words, characters or symbols.
      max_source_length: a.settings.maxSourceLength,
      max_source_unit: limitUnit(a.settings.sourceMode),
      // The weight it decodes with its joint n-gram (0: without one, or recur serve --ngram-weight 0).
      ngram_weight: (s as Seq2SeqServed).ngramWeight,
    };
  }
  if (s.kind === 'forecaster') {
    const f = s as ForecasterServed;
    return {
      name: s.name,
      kind: s.kind,
      endpoint: '/v1/predict',
      horizon: f.series.horizon,
      method: f.series.method,
      season: f.series.season,
      levels: f.series.intervals.map((w) => w.level * 100),
      min_history: f.minHistory,
      history_points: f.history.values.length,
    };
  }
  return {
    name: s.name,
    kind: s.kind,
    endpoint: null,
    note: notServedReason(s),
  };
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
};

/** The static files under dir, read once: a request can only ever get one of these (no path reaches outside). */
function staticFiles(dir: string): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else
        files.set('/' + relative(dir, p).split(sep).join('/'), {
          body: readFileSync(p),
          type: CONTENT_TYPES[extname(p)] ?? 'application/octet-stream',
        });
    }
  };
  walk(dir);
  return files;
}

export interface ServeAppOptions {
  served: Served[];
  /** The built page (npm run build:web); null: API only. */
  staticDir?: string | null;
  limits?: ServeLimits;
  /** Log requests (fastify's logger) on stderr. */
  log?: boolean;
  /** Runs the models attachInferencePool loaded into it; the caller terminates it after close(). */
  pool?: InferencePool | null;
  /**
   * Where an internal error (a 500) is reported when `log` is off, one line each (default: stderr): the operator
   * learns of a failure even without the request log.
   */
  reportInternalError?: (line: string) => void;
}

export interface ServeApp {
  app: FastifyInstance;
  /** Streams generating now, over all models. */
  inFlight(): number;
  /** The models served now (swap replaces them). */
  models(): readonly Served[];
  /**
   * Serves `next` from the next request on (a reload, SIGHUP): requests already running finish on the models they
   * started with, and a replaced model's copy in the inference pool is unloaded once its last request has finished.
   */
  swap(next: Served[]): void;
  /**
   * Stops accepting requests and resolves when every in-flight request (streams included) has finished: the graceful
   * shutdown of SIGTERM.
   */
  close(): Promise<void>;
}

/** The headers that make the page cross-origin isolated (SharedArrayBuffer for its pool), sent with every response. */
const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
} as const;

/**
 * Aborts `abort` when the client goes away before its response is finished — also when it went while the request was
 * being read (its 'close' already fired: a listener alone would miss it, and the generation would run to its end).
 * Returns what stops watching, called once the request's work has ended: a client gone is then logged (--log) with
 * nginx's 499, since fastify logs only responses that finished.
 */
function abortWhenClientGoes(reply: FastifyReply, abort: AbortController): () => void {
  const res = reply.raw;
  const onClose = (): void => {
    if (!res.writableFinished) abort.abort(new Error('the client went away'));
  };
  if (res.destroyed || reply.request.raw.socket.destroyed) onClose();
  else res.on('close', onClose);
  return () => {
    res.off('close', onClose);
    if (abort.signal.aborted)
      reply.log.info(
        { res: { statusCode: CLIENT_CLOSED_REQUEST }, responseTime: reply.elapsedTime },
        'request completed',
      );
  };
}

/**
 * Runs a request's `work` with a signal that aborts when its client goes away (abortWhenClientGoes); work it stops
 * then ends the request as a 499: nobody is left to answer, and nothing failed (not an internal error).
 */
async function untilClientGoes<T>(
  reply: FastifyReply,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const abort = new AbortController();
  const stopWatching = abortWhenClientGoes(reply, abort);
  try {
    return await work(abort.signal);
  } catch (e) {
    if (abort.signal.aborted) throw new HttpError(CLIENT_CLOSED_REQUEST, 'the client went away');
    throw e;
  } finally {
    stopWatching();
  }
}

/**
 * Runs `batch` on each of `runs` in turn on this thread (--threads 1), the event loop turning between two, so that
 * other requests are answered meanwhile and a client that went away is seen: `signal` aborted, no further run starts.
 */
async function inTurns<R>(runs: readonly R[], signal: AbortSignal, batch: (run: R) => void): Promise<void> {
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  for (const run of runs) {
    signal.throwIfAborted();
    batch(run);
    // Two turns: a client's leaving, read in a turn's poll phase, closes its response only in that turn's close
    // phase, after the setImmediate of one turn has already resumed (and started the next batch).
    await turn();
    await turn();
  }
}

/** The API's paths and the methods each answers (HEAD with every GET, as fastify answers it). */
const API_METHODS: Readonly<Record<string, readonly string[]>> = {
  '/v1/models': ['GET', 'HEAD'],
  '/v1/generate': ['POST'],
  '/v1/predict': ['POST'],
};
/** The API path a request's path names: one trailing slash is ignored, as the router ignores it. */
function apiPath(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
/** What a page file answers. */
const STATIC_METHODS: readonly string[] = ['GET', 'HEAD'];

/** The page file a URL names (a directory's index.html), or null where its path is not a valid percent-encoding. */
function staticPath(url: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(url.split('?')[0]);
  } catch {
    return null;
  }
  return path.endsWith('/') ? path + 'index.html' : path;
}

/** The content codings a request body may be sent in (RFC 9110 §8.4), and their decoders. */
const BODY_DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};
/** A 415's Accept-Encoding (RFC 7694): the codings a body may come in. */
const ACCEPTED_ENCODINGS = 'gzip, deflate, br';

/**
 * A request body sent with `Content-Encoding`, decoded, for fastify to read as it reads a plain one: the body limit
 * holds for the decoded bytes (a small gzip of zeros must not inflate to gigabytes: decoding stops at the limit, a
 * 413), and data that is not of its coding is a 400 saying so. `receivedEncodedLength` is fastify's name for the bytes
 * that arrived, which it checks against Content-Length.
 */
function decodedBody(payload: Readable, coding: string, limit: number): Readable {
  const decoder = BODY_DECODERS[coding]();
  let decoded = 0;
  const body = new Transform({
    transform(chunk: Buffer, _encoding, next) {
      decoded += chunk.length;
      if (decoded > limit)
        return next(
          new HttpError(
            413,
            `the request body is larger than ${limit} bytes once decoded (content-encoding ${coding})`,
          ),
        );
      next(null, chunk);
    },
  }) as Transform & { receivedEncodedLength: number };
  body.receivedEncodedLength = 0;
  payload.on('data', (chunk: Buffer) => (body.receivedEncodedLength += chunk.length));
  payload.on('error', (e) => body.destroy(e));
  decoder.on('error', (e) =>
    body.destroy(new HttpError(400, `the request body is not valid ${coding} data (${e.message})`)),
  );
  // Stops decoding (and reading) once the body has failed: at the limit, or on bad data.
  body.on('error', () => {
    payload.unpipe(decoder);
    decoder.destroy();
  });
  payload.pipe(decoder).pipe(body);
  return body;
}

/** The fastify app of `recur serve` (not yet listening). */
export function createServeApp(opts: ServeAppOptions): ServeApp {
  const limits = opts.limits ?? SERVE_LIMITS;
  let served = opts.served;
  /** Requests running on each model; a model swapped out is `retired` until its last one has finished. */
  const uses = new Map<Served, number>();
  const retired = new Set<Served>();
  const release = (m: Served): void => {
    retired.delete(m);
    const pooled = (m as { pooled?: PooledModel }).pooled;
    if (pool && pooled) void pool.unload(pooled).catch(() => {});
    if (m.kind === 'seq2seq') (m as Seq2SeqServed).steppers?.dispose();
  };
  /** Runs one request on `m`, counted, so that a swap lets it finish on `m`. */
  async function using<T>(m: Served, run: () => Promise<T>): Promise<T> {
    uses.set(m, (uses.get(m) ?? 0) + 1);
    try {
      return await run();
    } finally {
      const left = uses.get(m)! - 1;
      if (left > 0) uses.set(m, left);
      else {
        uses.delete(m);
        if (retired.has(m)) release(m);
      }
    }
  }
  // The log goes to stderr, as the CLI's --log promises: stdout is `recur serve --json`'s events.
  const app = Fastify({
    bodyLimit: limits.bodyBytes,
    requestTimeout: limits.requestMs,
    // Node looks for requests past their time every this many ms (its default, 30 s, would stretch the limit).
    http: {
      headersTimeout: limits.requestMs,
      connectionsCheckingInterval: Math.min(1_000, limits.requestMs),
    },
    logger: opts.log ? { stream: process.stderr } : false,
    // `/v1/models/` is `/v1/models` (as with every API path; apiPath): a client that adds the slash gets the answer.
    routerOptions: { ignoreTrailingSlash: true },
    // Answered by the onRequest hook below instead, in the API's `{error}` and with the isolation headers.
    return503OnClosing: false,
    // A URL fastify cannot route (a bad percent-escape) is answered before any hook: give it the isolation headers
    // and the API's `{error}` here.
    // A request Node cannot parse (headers over its 16 KB, a malformed request line) is answered before fastify sees
    // it: in the API's `{error}` with the isolation headers too, not fastify's own {error, message, statusCode}.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, error] =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'the request headers are larger than the server takes (16 KB)']
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'the request took too long to arrive']
            : [400, `not a valid HTTP request (${err.code ?? err.message})`];
      const body = JSON.stringify({ error });
      const headers = Object.entries(ISOLATION_HEADERS)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      if (socket.writable)
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
            `content-length: ${Buffer.byteLength(body)}\r\n${headers}connection: close\r\n\r\n${body}`,
        );
      socket.destroy(err);
    },
    frameworkErrors: (err, _req, reply) =>
      (reply as FastifyReply)
        .headers(ISOLATION_HEADERS)
        .code(400)
        .send({ error: `not a valid URL path (${err.message})` }),
  });
  // The API reads JSON only: a text/plain body (what fetch sends a string as when no content-type is given) is a 415
  // saying so, as any other type is, rather than a string refused as "not a JSON object". It also keeps a page of
  // another origin from starting a generation with a request that needs no CORS preflight.
  app.removeContentTypeParser('text/plain');
  // JSON bodies are read as recur reads JSON files: a syntax error says its line and column (fastify's says only "not
  // valid JSON"), and a `__proto__` key is a plain unknown field the schema names, not "not valid JSON" (JSON.parse
  // makes it an own property; nothing here merges a body into another object).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    // JSON is UTF-8 (RFC 8259): another charset is a 415 naming it, and bytes that are not UTF-8 a 400, where they
    // were read as UTF-8 anyway (a latin1 'é' became U+FFFD without a word).
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i
      .exec(req.headers['content-type'] ?? '')?.[1]
      .toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
      return done(new HttpError(415, `charset=${charset}: JSON bodies are UTF-8 (RFC 8259); send UTF-8`));
    let decoded: string;
    try {
      decoded = new TextDecoder('utf-8', { fatal: true }).decode(body as Buffer);
    } catch {
      return done(
        new HttpError(400, 'the request body is not valid UTF-8; JSON bodies are UTF-8 (RFC 8259)'),
      );
    }
    // A byte order mark (what Windows editors save a file.json with, sent by `curl -d @file.json`) is ignored, as RFC
    // 8259 allows, not an invisible "unexpected character" at column 1.
    const text = decoded.replace(/^\uFEFF/, '');
    if (text.trim() === '') return done(new HttpError(400, 'the request body is empty; send a JSON object'));
    try {
      done(null, parseJsonText(text, 'the request body'));
    } catch (e) {
      done(e instanceof InvalidInputError ? new HttpError(400, e.message) : (e as Error));
    }
  });
  // A body sent compressed is decoded (gzip, deflate, br); another coding is a 415 naming it, with the ones it takes.
  app.addHook('preParsing', async (req, _reply, payload) => {
    const coding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
    // Only the POSTs read a body.
    if (req.method !== 'POST' || coding === '' || coding === 'identity') return payload;
    if (!Object.hasOwn(BODY_DECODERS, coding))
      throw new HttpError(
        415,
        `content-encoding ${coding}: not a coding the API decodes; send the body as is, or as gzip, deflate or br`,
        { 'accept-encoding': ACCEPTED_ENCODINGS },
      );
    return decodedBody(payload, coding, limits.bodyBytes);
  });
  const generateBody = GENERATE_BODY(limits);
  const predictBody = PREDICT_BODY(limits);
  const pool = opts.pool ?? null;
  const files = opts.staticDir ? staticFiles(opts.staticDir) : null;
  let streams = 0;
  let closing = false;

  // Every response carries the headers that make the page cross-origin isolated (SharedArrayBuffer for the pool).
  app.addHook('onSend', async (_req, reply) => {
    reply.headers(ISOLATION_HEADERS);
  });

  /**
   * Tells the operator of an internal error — a 500, or a stream that failed after its 200 was sent: in the request
   * log with --log, else one line on stderr.
   */
  const reportInternal = (req: FastifyRequest, err: Error): void => {
    if (opts.log) req.log.error({ err }, 'internal error');
    else
      (opts.reportInternalError ?? ((line: string) => process.stderr.write(`${line}\n`)))(
        `recur serve: ${req.method} ${req.url}: internal error: ${err.message}`,
      );
  };

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof HttpError)
      return reply.code(err.status).headers(err.headers).send({ error: err.message });
    if (err instanceof InvalidInputError) return reply.code(400).send({ error: err.message });
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    const message =
      err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? `the request body must be JSON, sent with content-type: application/json (got ${req.headers['content-type'] ?? 'none'})`
        : err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? `the request body is larger than ${limits.bodyBytes} bytes`
          : status === 500
            ? `internal error: ${err.message}`
            : err.message;
    if (status === 500) reportInternal(req, err);
    return reply.code(status).send({ error: message });
  });
  // A known path asked with a method it does not answer is a 405 naming the ones it does (Allow), and OPTIONS on one is
  // a 204 with Allow, before the body is read (a POST to /v1/models is answered 405 whatever its body). No
  // Access-Control-* header is sent: the API is same-origin, as the page is, so a cross-origin preflight fails.
  app.addHook('onRequest', async (req, reply) => {
    // A request that arrives while in-flight streams finish (SIGTERM) on a connection still open.
    if (closing)
      return reply.code(503).header('connection', 'close').send({ error: 'the server is shutting down' });
    const path = req.url.split('?')[0];
    let methods = API_METHODS[apiPath(path)];
    if (!methods && files) {
      const file = staticPath(req.url);
      if (file !== null && files.has(file)) methods = STATIC_METHODS;
    }
    if (!methods || methods.includes(req.method)) return;
    const allow = [...methods, 'OPTIONS'].join(', ');
    reply.header('allow', allow);
    if (req.method === 'OPTIONS') return reply.code(204).send();
    return reply
      .code(405)
      .send({ error: `method ${req.method} is not allowed on ${path}; it answers ${allow}` });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `no such resource: ${req.method} ${req.url.split('?')[0]}` }),
  );

  app.get('/v1/models', async () => ({ models: served.map(describe) }));

  app.post('/v1/generate', async (req, reply) => {
    const body = parseBody(generateBody, req.body);
    const m = pick(served, body.model, 'text');
    if (m.kind !== 'text')
      throw new HttpError(
        422,
        `model '${m.name}' is ${kindInWords(m.kind)}; /v1/generate serves text models${m.kind === 'forecaster' ? ' (use /v1/predict)' : ''}`,
      );
    return using(m, () => generateOn(m as TextServed, body, reply));
  });

  async function generateOn(
    t: TextServed,
    body: z.infer<typeof generateBody>,
    reply: FastifyReply,
  ): Promise<Record<string, unknown> | void> {
    if (closing) throw new HttpError(503, 'the server is shutting down');
    if (streams >= limits.streams)
      // Retry-After: streams end within seconds (20,000 characters at most), and clients that honour it back off.
      throw new HttpError(429, `too many generation requests in flight (${limits.streams}); retry shortly`, {
        'retry-after': '1',
      });
    const prime = body.prime ?? t.meta.defaultPrime;
    const lowered = t.meta.settings.lowercase ? prime.toLowerCase() : prime;
    const request = {
      prime,
      length: body.length,
      temperature: body.temperature,
      topK: body.top_k,
      topP: body.top_p,
      seed: body.seed,
    };
    if (!body.stream) {
      // A client that goes away before its text is ready frees its row (and its slot of the 256), as a stream's does.
      streams++;
      try {
        return await untilClientGoes(reply, async (signal) => {
          const t0 = performance.now();
          const pending = { ...request, signal };
          const text = await (pool && t.pooled
            ? pool.generate(t.pooled, pending)
            : onThisThread(t, t.batcher).generate(pending));
          return { model: t.name, prime: lowered, text, seconds: (performance.now() - t0) / 1000 };
        });
      } finally {
        streams--;
      }
    }
    return streamGeneration(reply, t, request, lowered);
  }

  /** Server-Sent Events: `data: {"text": …}` per chunk, then `event: done` with the whole text (or `event: error`). */
  async function streamGeneration(
    reply: FastifyReply,
    t: TextServed,
    request: Parameters<GenerationBatcher['generate']>[0],
    prime: string,
  ): Promise<void> {
    const abort = new AbortController();
    const res = reply.raw;
    // Watched from before the stream starts: a client gone while a pooled stream is being accepted stops it too.
    const stopWatching = abortWhenClientGoes(reply, abort);
    // Characters that arrive before the stream's headers are written wait here (a pooled stream's could).
    let early: string[] | null = [];
    const onText = (text: string): void => {
      if (early) early.push(text);
      else res.write(`data: ${JSON.stringify({ text })}\n\n`);
    };
    const stream = { ...request, signal: abort.signal, onText };
    // Validates before the stream starts, so a bad prime is still a 400 with a JSON body.
    streams++;
    let done: Promise<string>;
    try {
      done =
        pool && t.pooled
          ? (await pool.startGeneration(t.pooled, stream)).done
          : onThisThread(t, t.batcher).generate(stream);
    } catch (e) {
      streams--;
      stopWatching();
      throw e;
    }
    reply.hijack();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Proxies (nginx) must pass each event on at once rather than buffer the stream.
      'x-accel-buffering': 'no',
      ...ISOLATION_HEADERS,
    });
    res.write(`event: start\ndata: ${JSON.stringify({ model: t.name, prime })}\n\n`);
    for (const text of early) res.write(`data: ${JSON.stringify({ text })}\n\n`);
    early = null;
    try {
      const text = await done;
      res.write(`event: done\ndata: ${JSON.stringify({ text })}\n\n`);
    } catch (e) {
      // A client that went away is no failure; anything else is reported as a 500 is (its status was already sent).
      if (!abort.signal.aborted) {
        res.write(`event: error\ndata: ${JSON.stringify({ error: (e as Error).message })}\n\n`);
        reportInternal(reply.request, e as Error);
      }
    } finally {
      streams--;
      stopWatching();
      res.end();
    }
  }

  app.post('/v1/predict', async (req, reply) => {
    const body = parseBody(predictBody, req.body);
    // Named: that model (its kind is checked below); unnamed: the one of the kind its fields ask for, or, with none
    // asked for, the one model /v1/predict answers.
    const kind = predictKind(body);
    const m =
      body.model === undefined
        ? kind === null
          ? onlyPredictor(served)
          : pick(served, undefined, kind)
        : pick(served, body.model, kind ?? 'forecaster');
    const takes = PREDICT_FIELDS[m.kind];
    if (!takes)
      throw new HttpError(
        422,
        `model '${m.name}' is ${kindInWords(m.kind)}; /v1/predict serves forecasters, classifiers and seq2seq models${m.kind === 'text' ? ' (use /v1/generate)' : ''}`,
      );
    for (const field of Object.keys(PREDICT_FIELDS).flatMap((k) => PREDICT_FIELDS[k]))
      if (body[field] !== undefined && !takes.includes(field))
        throw new HttpError(
          400,
          `${field}: not taken by ${m.kind} model '${m.name}' (it takes ${takes.join(', ')})`,
        );
    return using(m, () => predictOn(m, body, reply));
  });

  async function predictOn(
    m: Served,
    body: PredictBody,
    reply: FastifyReply,
  ): Promise<Record<string, unknown>> {
    if (m.kind === 'classify') return await predictClasses(m as ClassifierServed, body, reply);
    if (m.kind === 'seq2seq') return await predictSequences(m as Seq2SeqServed, body, reply);
    const f = m as ForecasterServed;
    const values = body.values ?? f.history.values;
    // What the request's values are well formed for (the schema's 400s) but this model cannot forecast from: a 422
    // naming the value at fault by its path, as the 400s do, and why.
    if (values.length < f.minHistory)
      throw new HttpError(
        422,
        `values: ${values.length} points are too few for this forecaster: it needs at least ${f.minHistory}`,
      );
    const transformed = f.series.members.find((member) => member.transform !== 'none');
    const notPositive = transformed ? values.findIndex((v) => !(v > 0)) : -1;
    if (transformed && notPositive >= 0)
      throw new HttpError(
        422,
        `values.${notPositive}: ${values[notPositive]}, but this forecaster forecasts through a ${transformed.transform} transform (its ${transformed.name} member), which needs every value > 0`,
      );
    // What `recur forecast predict` computes: networks as trained, statistical methods re-estimated on `values`. A
    // client that goes away stops a SARIMA re-fit (its worker terminated), which can take minutes.
    const { point } = await untilClientGoes(reply, async (signal) => {
      try {
        return await forecastSaved(f.series, values, f.networks, undefined, undefined, signal);
      } catch (e) {
        // A forecast that fails on the client's values (a method that made a non-finite forecast of them) is the
        // values' 422; on the model's own history it is the server's failure.
        if (!body.values || signal.aborted) throw e;
        throw new HttpError(
          422,
          `values: this forecaster cannot forecast from these values: ${(e as Error).message}`,
        );
      }
    });
    // The saved calibrated intervals around it; lower/upper are the widest one's (none saved: the forecast itself).
    const intervals = savedIntervals(f.series.intervals, point);
    const widest = intervals.reduce<(typeof intervals)[number] | undefined>(
      (a, b) => (a === undefined || b.level > a.level ? b : a),
      undefined,
    );
    return {
      model: m.name,
      method: f.series.method,
      horizon: point.length,
      ...(body.values ? {} : { dates: datesAfter(f.history.dates, point.length) }),
      forecast: point,
      // In percent, as `recur forecast predict --json` gives them.
      intervals: intervals.map((iv) => ({ level: iv.level * 100, lower: iv.lower, upper: iv.upper })),
      lower: widest?.lower ?? point,
      upper: widest?.upper ?? point,
    };
  }

  /**
   * `recur classify predict --json`'s objects, one per text, in order; a client that goes away stops the labelling
   * between two batches (on this thread) or two of the pool's jobs.
   */
  async function predictClasses(
    c: ClassifierServed,
    body: PredictBody,
    reply: FastifyReply,
  ): Promise<Record<string, unknown>> {
    if (body.text !== undefined && body.texts !== undefined)
      throw new HttpError(400, 'text: give text (one) or texts (several), not both');
    const texts = body.texts ?? (body.text !== undefined ? [body.text] : undefined);
    if (!texts)
      throw new HttpError(400, `texts: required for classify model '${c.name}' (an array of strings)`);
    const multiLabel = c.meta.settings.multiLabel;
    if (body.threshold !== undefined && !multiLabel)
      throw new HttpError(
        400,
        `threshold: applies to multi-label classifiers; classify model '${c.name}' is single-label`,
      );
    const predictions = await untilClientGoes(reply, (signal) =>
      pool && c.pooled
        ? pool.classify(c.pooled, texts, CLASSIFY_BATCH, undefined, signal)
        : classifyHere(c, texts, signal),
    );
    if (!multiLabel) return { model: c.name, predictions };
    // As `recur classify predict --json`: the labels at the threshold (default 0.5), and the threshold itself.
    const threshold = body.threshold ?? DEFAULT_THRESHOLD;
    return {
      model: c.name,
      predictions: predictions.map((p) => ({
        ...p,
        labels: labelsAtThreshold(p.probabilities, threshold),
        threshold,
      })),
    };
  }

  /**
   * `classifyTexts` on this thread, a batch a turn (inTurns): the batches it computes (the texts in order of token
   * length, as the pool cuts them: decodingRuns' one-batch runs), so the same numbers.
   */
  async function classifyHere(
    c: ClassifierServed,
    texts: readonly string[],
    signal: AbortSignal,
  ): Promise<TextClassification[]> {
    const model = onThisThread(c, c.model);
    const { maxLength, truncating } = c.meta.settings;
    const sequences = texts.map((t) => c.tokenizer.encode(t, maxLength, truncating));
    const batches = decodingRuns(sequences, CLASSIFY_BATCH, 1, 1);
    const K = c.meta.classes.length;
    const p = new Float32Array(texts.length * K);
    await inTurns(batches, signal, (rows) => {
      const part = ensembleProbabilities(
        model,
        Array.from(rows, (r) => sequences[r]),
        K,
        CLASSIFY_BATCH,
      );
      rows.forEach((r, i) => p.set(part.subarray(i * K, (i + 1) * K), r * K));
    });
    return classificationsOf(c.meta, texts, p);
  }

  /**
   * `Seq2Seq.predict` on this thread, a decoding batch a turn (inTurns): the runs of whole batches the pool deals,
   * which give the outputs of one call over all the sources.
   */
  async function decodeHere(
    s: Seq2SeqServed,
    sources: readonly string[],
    decode: DecodeJob & { batchSize: number },
    signal: AbortSignal,
  ): Promise<Seq2SeqPrediction[]> {
    const app = onThisThread(s, s.app);
    const ids = typedSources(app.data, sources).map((t) => app.source.encode(t, 'unk'));
    const out = new Array<Seq2SeqPrediction>(sources.length);
    await inTurns(decodingRuns(ids, decode.batchSize, 1, 1), signal, (run) =>
      app
        .predict(
          Array.from(run, (i) => sources[i]),
          { ...decode, steppers: s.steppers },
        )
        .forEach((p, k) => (out[run[k]] = p)),
    );
    return out;
  }

  /**
   * `recur seq2seq predict --json`'s objects, one per source, in order; a client that goes away stops the decoding
   * between two batches (on this thread) or two of the pool's jobs.
   */
  async function predictSequences(
    s: Seq2SeqServed,
    body: PredictBody,
    reply: FastifyReply,
  ): Promise<Record<string, unknown>> {
    if (!body.sources)
      throw new HttpError(400, `sources: required for seq2seq model '${s.name}' (an array of strings)`);
    const beam = body.beam ?? 1;
    if (
      body.length_penalty !== undefined &&
      beam === 1 &&
      !greedyRanksCandidates(s.memberOrders, s.ngramWeight)
    )
      throw new HttpError(
        400,
        `length_penalty: ranks beam search's outputs, and beam 1 decodes greedily: give beam ≥ 2, or leave length_penalty out`,
      );
    // As `recur seq2seq predict` refuses one: decoding costs in proportion to the source's length.
    const typed = typedSources(s.meta.data, body.sources);
    typed.forEach((source, i) => {
      const problem = sourceProblemOf(s.meta.settings, s.source, source);
      if (problem !== null) throw new HttpError(400, `sources.${i}: the source ${problem}`);
    });
    const decode = {
      beam,
      maxLength: body.max_length,
      batchSize: SEQ2SEQ_BATCH,
      // The weight it was served with (recur serve --ngram-weight), which may differ from its n-gram's own.
      ngramWeight: s.ngramWeight,
      ...(body.length_penalty !== undefined ? { lengthPenalty: body.length_penalty } : {}),
    };
    const sources = body.sources;
    const outputs = await untilClientGoes(reply, (signal) =>
      pool && s.pooled
        ? pool.decode(s.pooled, sources, decode, undefined, signal)
        : decodeHere(s, sources, decode, signal),
    );
    return { model: s.name, beam, outputs };
  }

  if (files) {
    app.get('/*', async (req, reply) => {
      const path = staticPath(req.url);
      if (path === null) throw new HttpError(400, `not a valid URL path: ${req.url}`);
      const f = files.get(path);
      // Named as asked (not as looked up: a path ending in '/' is looked up as its index.html).
      if (!f) throw new HttpError(404, `no such resource: ${req.method} ${req.url.split('?')[0]}`);
      return reply.type(f.type).send(f.body);
    });
  }

  return {
    app,
    inFlight: () => streams,
    models: () => served,
    swap(next) {
      const old = served;
      served = next;
      for (const m of old)
        if (!next.includes(m)) {
          if (uses.has(m)) retired.add(m);
          else release(m);
        }
    },
    async close() {
      closing = true;
      await app.close();
      for (const s of [...served, ...retired]) if (s.kind === 'text') await (s as TextServed).batcher?.idle();
      for (const s of [...served, ...retired])
        if (s.kind === 'seq2seq') (s as Seq2SeqServed).steppers?.dispose();
      await pool?.idle();
    },
  };
}
