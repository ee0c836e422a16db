/**
 * A forward-only inference pool: N workers, each holding its own copy of every loaded model (posted once as
 * model.json's text and the weight bytes), running jobs off the calling thread so it stays free (recur serve's event
 * loop answers other requests while long generations run).
 *
 *  - generation: each new stream goes to the worker with the fewest active streams; a worker batches its streams
 *    into shared stateful steps (GenerationBatcher), and characters stream back as they are sampled. A stream's text
 *    depends only on its model, prime, options and seed, so it equals the one-thread text.
 *  - classify / decode: the inputs are cut into the batches the one-thread run cuts (classify: its batches in order of
 *    token length; decode: its batches in input order), jobs of whole batches dealt to whichever worker is free,
 *    costliest first; every batch is computed exactly as the one-thread run computes it, so the re-joined
 *    results are identical to it.
 *
 * Generic over the worker API (InferencePort): src/node/inference_pool.ts spawns Node worker threads,
 * src/web/inference_pool.ts Web Workers. A worker that dies (crash, out of memory) fails the jobs it was running with
 * a clear error and is replaced, with every model loaded again, so later jobs still run. One whose workers die
 * START_ATTEMPTS times in a row before answering anything (a script that does not load or throws on import) could not
 * start: it is not replaced again (each replacement would die the same way, endlessly) and gets no more jobs, and
 * once no worker is left every job fails naming the cause.
 */
import { parseClassifierMetadata, type ClassifierMetadata } from '../classify/metadata.js';
import { classificationsOf, type TextClassification } from '../classify/predict.js';
import { Tokenizer as ClassifyTokenizer } from '../classify/tokenizer.js';
import { kernels } from '../core/backend.js';
import { InvalidInputError } from '../core/errors.js';
import { DECODE_DEFAULTS, decodingOrder } from '../seq2seq/decode.js';
import { Tokenizer as Seq2SeqTokenizer, type TokenMode } from '../seq2seq/tokenizer.js';
import {
  parseSeq2SeqMetadata,
  typedSources,
  type Seq2SeqMetadata,
  type Seq2SeqPrediction,
  type Translation,
} from '../seq2seq/seq2seq.js';
import type {
  DecodeJob,
  GenerationJob,
  InferenceReply,
  InferenceRequest,
  InferenceResult,
  ModelPayload,
} from './protocol.js';
import { metadataName } from './protocol.js';

/** A worker as the pool sees it, whatever the worker API. */
export interface InferencePort {
  postMessage(msg: InferenceRequest): void;
  onMessage(fn: (reply: InferenceReply) => void): void;
  /** The worker failed or exited on its own. */
  onExit(fn: (err: Error) => void): void;
  /** Keep the process alive while the worker has work (Node: ref/unref); a no-op where that means nothing. */
  hold(busy: boolean): void;
  terminate(): Promise<unknown>;
}

/** A model loaded into every worker of a pool. */
export interface PooledModel {
  readonly id: number;
  readonly kind: ModelPayload['kind'];
  readonly file: string;
  /**
   * What its files' readers noted (a default taken, weights not verified), as loadModel's notes: the first worker's
   * (every worker reads the same files), for the caller to say once.
   */
  readonly notes: readonly string[];
}

export interface PooledGeneration extends GenerationJob {
  /** Characters generated since the last call, as the worker sends them. */
  onText?: (text: string) => void;
  /** Aborting ends the stream after the worker's current step; `done` then rejects with the signal's reason. */
  signal?: AbortSignal;
}

interface Job {
  worker: Slot;
  resolve: (r: InferenceResult) => void;
  reject: (e: unknown) => void;
  onStarted?: () => void;
  onText?: (text: string) => void;
  stream: boolean;
}

interface Slot {
  index: number;
  port: InferencePort;
  /** Generation streams this worker is running or queueing. */
  streams: number;
  jobs: Set<number>;
  alive: boolean;
  /**
   * Rebuilding a model one worker at a time (load's `oneWorkerAtATime`), or waiting for its streams to end first: new
   * jobs go to the others meanwhile.
   */
  loading: boolean;
  /** Woken when this worker's last stream ends (a reload waiting to rebuild it). */
  drained: (() => void)[];
  /** The worker has sent a reply: it started. */
  answered: boolean;
  /** Set when this place's workers could not start (START_ATTEMPTS in a row died unanswering): what its jobs get. */
  failure?: Error;
}

interface ModelEntry extends PooledModel {
  notes: readonly string[];
  payload: ModelPayload;
  classifier?: { meta: ClassifierMetadata; tokenizer: ClassifyTokenizer };
  /** A seq2seq model's source side: what decoding's length order is computed from. */
  seq2seq?: { meta: Seq2SeqMetadata; source: Seq2SeqTokenizer };
}

/**
 * Classify and decode jobs per worker: each job pays a fixed cost (a message each way, its sources' encoding; a
 * worker keeps a seq2seq model's steppers from job to job), so a job is several batches, but enough jobs that a free
 * worker can take over from a slow one.
 */
const JOBS_PER_WORKER = 4;

/** Workers in a row that die before answering anything, at one place of the pool, before it is given up. */
export const START_ATTEMPTS = 3;

export class InferencePool {
  private readonly slots: Slot[] = [];
  private readonly jobs = new Map<number, Job>();
  private readonly models: ModelEntry[] = [];
  private nextId = 1;
  private nextModelId = 1;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** Per place: its workers in a row that died before answering anything (see START_ATTEMPTS). */
  private readonly startFailures: number[] = [];
  /** The kernels every worker runs: this thread's, so pooled answers equal one-thread answers. */
  private readonly kernelsName = kernels().name;

  /** Starts `threads` workers from `spawn`. */
  constructor(
    private readonly spawn: () => InferencePort,
    readonly threads: number,
  ) {
    if (!(Number.isInteger(threads) && threads >= 1))
      throw new InvalidInputError(`threads must be a positive integer, got ${threads}`);
    for (let i = 0; i < threads; i++) this.slots.push(this.start(i));
  }

  /** Generation streams running or queued, over all workers. */
  get activeStreams(): number {
    return this.slots.reduce((n, s) => n + s.streams, 0);
  }

  /** Resolves when no generation stream is running or queued (graceful shutdown waits for this). */
  async idle(): Promise<void> {
    while (this.activeStreams > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /** Streams per worker (what the pool balances). */
  streamsPerWorker(): number[] {
    return this.slots.map((s) => s.streams);
  }

  private start(index: number): Slot {
    const slot: Slot = {
      index,
      port: this.spawn(),
      streams: 0,
      jobs: new Set(),
      alive: true,
      loading: false,
      drained: [],
      answered: false,
    };
    slot.port.onMessage((r) => {
      slot.answered = true;
      this.receive(r);
    });
    slot.port.onExit((err) => this.died(slot, err));
    slot.port.hold(false);
    return slot;
  }

  /**
   * A dead worker fails its jobs with a clear error and is replaced, with every model loaded again; unless it is the
   * START_ATTEMPTS-th in a row at its place to die before answering anything: then that place could not start, and
   * keeps that error for the jobs that still come to it.
   */
  private died(slot: Slot, err: Error): void {
    if (!slot.alive) return;
    slot.alive = false;
    const unstarted = slot.answered ? 0 : (this.startFailures[slot.index] ?? 0) + 1;
    this.startFailures[slot.index] = unstarted;
    if (unstarted >= START_ATTEMPTS)
      slot.failure = new Error(`inference worker ${slot.index + 1} could not start: ${err.message}`);
    const why =
      slot.failure?.message ??
      `inference worker ${slot.index + 1} stopped (${err.message}); the request was not completed`;
    for (const id of slot.jobs) {
      const job = this.jobs.get(id)!;
      this.jobs.delete(id);
      if (job.stream) this.streamEnded(slot);
      job.reject(new Error(why));
    }
    slot.jobs.clear();
    if (this.closed || slot.failure) return;
    const fresh = this.start(slot.index);
    this.slots[slot.index] = fresh;
    // Messages are handled in order, so jobs posted after these loads find their models.
    for (const m of this.models)
      this.post(fresh, (id) => ({
        type: 'load',
        id,
        modelId: m.id,
        model: m.payload,
        kernels: this.kernelsName,
      })).catch(() => {});
  }

  private streamEnded(slot: Slot): void {
    slot.streams--;
    if (slot.streams === 0) for (const wake of slot.drained.splice(0)) wake();
    if (this.activeStreams === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private receive(r: InferenceReply): void {
    const job = this.jobs.get(r.id);
    if (!job) return;
    if (r.type === 'started') return job.onStarted?.();
    if (r.type === 'text') return job.onText?.(r.text);
    this.jobs.delete(r.id);
    job.worker.jobs.delete(r.id);
    if (job.stream) this.streamEnded(job.worker);
    if (job.worker.jobs.size === 0) job.worker.port.hold(false);
    if (r.type === 'done') job.resolve(r.result);
    else job.reject(r.invalid ? new InvalidInputError(r.message) : new Error(r.message));
  }

  private post(
    slot: Slot,
    make: (id: number) => InferenceRequest,
    extra: Partial<Pick<Job, 'onStarted' | 'onText' | 'stream'>> = {},
  ): Promise<InferenceResult> {
    if (this.closed) return Promise.reject(new Error('the inference pool is shut down'));
    if (slot.failure) return Promise.reject(slot.failure);
    const id = this.nextId++;
    return new Promise<InferenceResult>((resolve, reject) => {
      this.jobs.set(id, { worker: slot, resolve, reject, stream: false, ...extra });
      slot.jobs.add(id);
      if (extra.stream) slot.streams++;
      slot.port.hold(true);
      slot.port.postMessage(make(id));
    });
  }

  /**
   * Loads a model into every worker; rejects (naming the model's file) if a worker cannot rebuild it, and then the
   * model is not used, and the workers that did load it let go of it (a reload that fails on one worker, out of
   * memory, must not leave the others holding a copy nobody can use). `oneWorkerAtATime`: see loadEach.
   */
  async load(
    payload: ModelPayload,
    opts: { oneWorkerAtATime?: boolean; streamWaitMs?: number } = {},
  ): Promise<PooledModel> {
    const [loaded] = await this.loadEach([payload], opts);
    if (loaded.status === 'rejected') throw loaded.reason;
    return loaded.value;
  }

  /**
   * Loads several models into every worker, each as `load` does, all or nothing per model: the results, in the order
   * of `payloads`, say which loaded and why the others did not (a model that fails on one worker is sent to no more
   * of them). `oneWorkerAtATime`: the workers rebuild them one after another, each all of them in one turn, new jobs
   * going to the others meanwhile, so that a pool already serving answers on (a reload: a rebuild can take seconds, a
   * large joint n-gram's most of all), and a worker running streams rebuilds only once they have ended, or
   * `streamWaitMs` has passed (then they pause for the rebuild; loadOneAtATime) — one wait per worker however many
   * models reload; else all at once, which is sooner.
   */
  async loadEach(
    payloads: readonly ModelPayload[],
    opts: { oneWorkerAtATime?: boolean; streamWaitMs?: number } = {},
  ): Promise<PromiseSettledResult<PooledModel>[]> {
    const failed = new Map<ModelEntry, unknown>();
    const entries = payloads.map((payload) => {
      const entry: ModelEntry = {
        id: this.nextModelId++,
        kind: payload.kind,
        file: payload.file,
        notes: [],
        payload,
      };
      try {
        if (payload.kind === 'classify') {
          const meta = payloadMetadata(payload, parseClassifierMetadata);
          entry.classifier = { meta, tokenizer: ClassifyTokenizer.fromJSON(meta.tokenizer) };
        }
        if (payload.kind === 'seq2seq') {
          const meta = payloadMetadata(payload, parseSeq2SeqMetadata);
          entry.seq2seq = {
            meta,
            source: new Seq2SeqTokenizer(
              meta.settings.sourceMode as TokenMode,
              meta.sourceTokens,
              meta.settings.normalization,
            ),
          };
        }
      } catch (e) {
        failed.set(entry, e);
      }
      return entry;
    });
    /** The models sent to a worker: the ones to drop again if they fail. */
    const sent = new Set<ModelEntry>();
    /** The models a worker has loaded, with the notes it gave (the first worker's: each reads the same files). */
    const noted = new Set<ModelEntry>();
    // A worker runs its messages in order: it rebuilds the models one after another, answering nothing meanwhile.
    const loadOn = async (s: Slot): Promise<void> => {
      const todo = entries.filter((e) => !failed.has(e));
      for (const e of todo) sent.add(e);
      const loads = await Promise.allSettled(
        todo.map((e) =>
          this.post(s, (jid) => ({
            type: 'load',
            id: jid,
            modelId: e.id,
            model: e.payload,
            kernels: this.kernelsName,
          })),
        ),
      );
      loads.forEach((r, i) => {
        if (r.status === 'rejected' && !failed.has(todo[i])) failed.set(todo[i], r.reason);
        if (r.status === 'fulfilled' && !noted.has(todo[i])) {
          noted.add(todo[i]);
          todo[i].notes = (r.value as string[] | null) ?? [];
        }
      });
    };
    if (entries.some((e) => !failed.has(e))) {
      if (opts.oneWorkerAtATime)
        await this.loadOneAtATime(loadOn, opts.streamWaitMs ?? RELOAD_STREAM_WAIT_MS, () =>
          entries.every((e) => failed.has(e)),
        );
      else await Promise.all(this.working().map(loadOn));
    }
    await Promise.all(
      [...failed.keys()].filter((e) => sent.has(e)).map((e) => this.dropFromWorkers(e.id).catch(() => {})),
    );
    return entries.map((e): PromiseSettledResult<PooledModel> => {
      if (failed.has(e)) return { status: 'rejected', reason: failed.get(e) };
      this.models.push(e);
      return { status: 'fulfilled', value: { id: e.id, kind: e.kind, file: e.file, notes: e.notes } };
    });
  }

  /**
   * Runs `loadOn` (all of a reload's models) on each worker in turn, the others answering jobs meanwhile (a worker runs
   * its messages in order, so one rebuilding answers nothing until it is done: its streams stop between two steps).
   * So that no running stream pauses, the workers running the fewest streams go first, and a worker still running
   * streams when its turn comes gets no new job and rebuilds once they have ended (new streams meanwhile go to the
   * others, on the old models until the caller switches), or after `streamWaitMs`, a bound for very long streams,
   * which then pause for the rebuild. A worker that died and was replaced during the round has not loaded the models
   * yet: the round goes on until every worker has, or `givenUp` (every model failed somewhere).
   */
  private async loadOneAtATime(
    loadOn: (s: Slot) => Promise<void>,
    streamWaitMs: number,
    givenUp: () => boolean,
  ): Promise<void> {
    const loaded = new Set<Slot>();
    for (
      let left = this.working();
      left.length > 0 && !givenUp();
      left = this.working().filter((s) => !loaded.has(s))
    ) {
      const slot = left.reduce((a, b) => (b.streams < a.streams ? b : a));
      slot.loading = true;
      try {
        if (slot.streams > 0) {
          await this.streamsEnded(slot, streamWaitMs);
          // It died waiting: its replacement, in its place, takes its turn.
          if (!slot.alive) continue;
        }
        await loadOn(slot);
      } finally {
        slot.loading = false;
      }
      loaded.add(slot);
    }
  }

  /** Resolves once `slot` runs no stream, or after `ms`, whichever is first. */
  private async streamsEnded(slot: Slot, ms: number): Promise<void> {
    let wake!: () => void;
    const ended = new Promise<void>((r) => (wake = r));
    slot.drained.push(wake);
    const timer = setTimeout(wake, ms);
    await ended;
    clearTimeout(timer);
    slot.drained = slot.drained.filter((w) => w !== wake);
  }

  /** The workers new jobs go to: those not loading a model, or all of them while every one is. */
  private ready(): Slot[] {
    const working = this.working();
    const free = working.filter((s) => !s.loading);
    return free.length > 0 ? free : working;
  }

  /**
   * The workers that started or are starting: not those that could not start (START_ATTEMPTS), unless no other is
   * left, and then all of them, so that a job fails with why they could not start.
   */
  private working(): Slot[] {
    const working = this.slots.filter((s) => !s.failure);
    return working.length > 0 ? working : this.slots;
  }

  /**
   * Drops a model from every worker (a reload replaced it): jobs on it must have finished, except generation streams,
   * which run to their end. A worker that replaces a dead one no longer loads it.
   */
  async unload(model: PooledModel): Promise<void> {
    const i = this.models.findIndex((m) => m.id === model.id);
    if (i < 0) return;
    this.models.splice(i, 1);
    await this.dropFromWorkers(model.id);
  }

  /** Tells every live worker to let go of a model (one that never loaded it has nothing to drop). */
  private async dropFromWorkers(modelId: number): Promise<void> {
    await Promise.all(
      this.slots.filter((s) => s.alive).map((s) => this.post(s, (id) => ({ type: 'unload', id, modelId }))),
    );
  }

  private entry(model: PooledModel, kind: ModelPayload['kind']): ModelEntry {
    const e = this.models.find((m) => m.id === model.id);
    if (!e) throw new Error(`model ${model.file} is not loaded in this inference pool`);
    if (e.kind !== kind) throw new InvalidInputError(`${e.file} is a ${e.kind} model, not a ${kind} model`);
    return e;
  }

  /**
   * Starts a generation stream on the worker with the fewest active streams. Resolves once the worker accepted the
   * request (a bad prime or option rejects with an InvalidInputError first), with `done` resolving to the generated
   * text — the text `GenerationBatcher.generate` (and `TextGenerator.generate`) gives for the same seed.
   */
  async startGeneration(
    model: PooledModel,
    req: PooledGeneration,
  ): Promise<{ done: Promise<string>; worker: number }> {
    this.entry(model, 'text');
    const slot = this.ready().reduce((a, b) => (b.streams < a.streams ? b : a));
    const { onText, signal, ...job } = req;
    let jobId = 0;
    let started!: () => void;
    const accepted = new Promise<void>((r) => (started = r));
    const done = this.post(
      slot,
      (id) => {
        jobId = id;
        return { type: 'generate', id, modelId: model.id, job };
      },
      { onStarted: () => started(), onText, stream: true },
    ) as Promise<string>;
    if (signal) {
      const abort = (): void => {
        if (slot.alive && this.jobs.has(jobId)) slot.port.postMessage({ type: 'abort', id: jobId });
      };
      if (signal.aborted) abort();
      else signal.addEventListener('abort', abort, { once: true });
      done.finally(() => signal.removeEventListener('abort', abort)).catch(() => {});
    }
    const rejectedEarly = done.then(
      () => undefined,
      (e: unknown) => {
        throw e;
      },
    );
    // A stream that is refused before it starts rejects here; one that fails later rejects `done`.
    await Promise.race([accepted, rejectedEarly]);
    return {
      worker: slot.index,
      done: done.catch((e: unknown) => {
        throw signal?.aborted ? (signal.reason ?? e) : e;
      }),
    };
  }

  /** Generates one stream and resolves with its text (startGeneration, then its `done`). */
  async generate(model: PooledModel, req: PooledGeneration): Promise<string> {
    return (await this.startGeneration(model, req)).done;
  }

  /**
   * Labels `texts` with a classifier, in their order: the texts are encoded here, sorted by token length as
   * `classifyTexts` does and cut into its batches; runs of whole batches are the workers' jobs (they return class
   * probabilities), so every batch is the one the one-thread call computes — the same numbers. `onClassified(n)`: a
   * job of n texts came back (a caller's progress; its jobs are then a few batches each, so that it moves). `signal`:
   * see deal.
   */
  async classify(
    model: PooledModel,
    texts: readonly string[],
    batchSize = 128,
    onClassified?: (count: number) => void,
    signal?: AbortSignal,
  ): Promise<TextClassification[]> {
    const { meta, tokenizer } = this.entry(model, 'classify').classifier!;
    if (!(Number.isInteger(batchSize) && batchSize > 0))
      throw new InvalidInputError(`batchSize must be a positive integer, got ${batchSize}`);
    const sequences = texts.map((t) =>
      tokenizer.encode(t, meta.settings.maxLength, meta.settings.truncating),
    );
    // Jobs of whole batches of the one-thread run, their rows in that run's order (decodingRuns: the length order
    // predictProbabilities sorts by too, so the worker's own sort keeps them as they are); a padded batch costs its
    // rows × its longest text. Jobs of a few batches only when a caller watches progress.
    const runs = decodingRuns(
      sequences,
      batchSize,
      this.threads,
      onClassified ? DECODE_RUN_BATCHES : Infinity,
    );
    const cost = (run: Int32Array): number => {
      let c = 0;
      for (let b = 0; b < run.length; b += batchSize) {
        const end = Math.min(run.length, b + batchSize);
        c += (end - b) * sequences[run[end - 1]].length;
      }
      return c;
    };
    const K = meta.classes.length;
    const parts = await this.deal(
      runs.map(cost),
      async (j, slot) => {
        const part = (await this.post(slot, (id) => ({
          type: 'classify',
          id,
          modelId: model.id,
          sequences: Array.from(runs[j], (r) => sequences[r]),
          batchSize,
        }))) as Float32Array;
        onClassified?.(runs[j].length);
        return part;
      },
      signal,
    );
    const p = new Float32Array(texts.length * K);
    parts.forEach((part, j) => runs[j].forEach((r, i) => p.set(part.subarray(i * K, (i + 1) * K), r * K)));
    return classificationsOf(meta, texts, p);
  }

  /**
   * Decodes `sources` with a seq2seq model (greedy, or beam search with `beam` > 1), in their order: runs of
   * whole decoding batches of the one-thread run are workers' `Seq2Seq.predict` calls — the one-thread answers.
   * `signal`: see deal.
   */
  async decode(
    model: PooledModel,
    sources: readonly string[],
    opts: DecodeJob = {},
    onDecoded?: (count: number) => void,
    signal?: AbortSignal,
  ): Promise<Seq2SeqPrediction[]> {
    return (await this.decodeShards(model, sources, opts, false, onDecoded, signal)) as Seq2SeqPrediction[];
  }

  /** `Seq2Seq.translate` (the sources as given, with output tokens: what evaluation scores) over the workers. */
  async translate(
    model: PooledModel,
    sources: readonly string[],
    opts: DecodeJob = {},
    onDecoded?: (count: number) => void,
  ): Promise<Translation[]> {
    return (await this.decodeShards(model, sources, opts, true, onDecoded)) as Translation[];
  }

  /** `onDecoded(n)`: a job of n sources came back (a caller's progress). */
  private async decodeShards(
    model: PooledModel,
    sources: readonly string[],
    opts: DecodeJob,
    raw: boolean,
    onDecoded?: (count: number) => void,
    signal?: AbortSignal,
  ): Promise<Seq2SeqPrediction[] | Translation[]> {
    const { meta, source } = this.entry(model, 'seq2seq').seq2seq!;
    const batchSize = opts.batchSize ?? DECODE_DEFAULTS.batchSize;
    if (!(Number.isInteger(batchSize) && batchSize > 0))
      throw new InvalidInputError(`batchSize must be a positive integer, got ${batchSize}`);
    // Decoding's own length order (src/seq2seq/decode.ts), from the ids the worker will read: jobs are runs of whole
    // batches of it, sent in that order, so the worker's stable sort keeps them and decodes exactly those batches.
    const ids = (raw ? sources : typedSources(meta.data, sources)).map((t) => source.encode(t, 'unk'));
    // Jobs of a few batches only when a caller watches progress: each job pays its messages and its set-up.
    const runs = decodingRuns(ids, batchSize, this.threads, onDecoded ? DECODE_RUN_BATCHES : Infinity);
    const parts = await this.deal(
      runs.map((run) => run.reduce((c, i) => c + ids[i].length + 1, 0)),
      async (j, slot) => {
        const part = (await this.post(slot, (id) => ({
          type: 'decode',
          id,
          modelId: model.id,
          sources: Array.from(runs[j], (i) => sources[i]),
          opts: { ...opts, batchSize },
          raw,
        }))) as (Seq2SeqPrediction | Translation)[];
        onDecoded?.(part.length);
        return part;
      },
      signal,
    );
    const out = new Array<Seq2SeqPrediction | Translation>(sources.length);
    parts.forEach((part, j) => part.forEach((p, k) => (out[runs[j][k]] = p)));
    return out as Seq2SeqPrediction[] | Translation[];
  }

  /** The ready worker with the fewest jobs outstanding (the lowest index among equals). */
  private leastBusy(): Slot {
    return this.ready().reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
  }

  /**
   * Runs one job per entry of `costs` over the workers, each worker taking the next job as soon as its last one is
   * done, costliest first: the work balances over uneven jobs and over a worker slowed by other work (a contiguous
   * half each left one worker with 69 % of a length-sorted classify run). Results come back in job order.
   * Aborting `signal` (recur serve: the client went away) deals no further job: once the jobs on the workers are done
   * (a worker runs a job to its end), the call rejects with the signal's reason, as an aborted generation's `done` does.
   */
  private async deal<R>(
    costs: readonly number[],
    run: (job: number, slot: Slot) => Promise<R>,
    signal?: AbortSignal,
  ): Promise<R[]> {
    const queue = costs.map((_, j) => j).sort((a, b) => costs[b] - costs[a] || a - b);
    const results = new Array<R>(costs.length);
    let next = 0;
    // At most one job of this call per worker at a time; each goes to the worker with the fewest jobs outstanding
    // when it is dealt, so one request's long job never holds up another request while a worker is free (a worker
    // runs its messages in order). The slot is looked up per job: a worker that died was replaced in its place.
    const lane = async (): Promise<void> => {
      while (next < queue.length && signal?.aborted !== true) {
        const job = queue[next++];
        results[job] = await run(job, this.leastBusy());
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.threads, queue.length) }, lane));
    signal?.throwIfAborted();
    return results;
  }

  /** Stops every worker; jobs still running reject. */
  async terminate(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const slots = [...this.slots];
    for (const s of slots) s.alive = false;
    for (const [id, job] of this.jobs) {
      this.jobs.delete(id);
      if (job.stream) this.streamEnded(job.worker);
      job.reject(new Error('the inference pool was shut down'));
    }
    await Promise.all(slots.map((s) => s.port.terminate()));
  }
}

/** A payload's recur metadata read by `parse`; any failure is bad input naming the model's file. */
function payloadMetadata<M>(
  payload: ModelPayload,
  parse: (meta: Record<string, unknown>, where: string) => M,
): M {
  try {
    const raw = JSON.parse(payload.json) as { userDefinedMetadata?: Record<string, unknown> };
    return parse(raw.userDefinedMetadata ?? {}, metadataName(payload));
  } catch (e) {
    throw e instanceof InvalidInputError
      ? e
      : new InvalidInputError(`${payload.file}: ${(e as Error).message}`);
  }
}

/**
 * How long a reload (load's `oneWorkerAtATime`) waits for a worker's running streams to end before rebuilding its
 * model under them (they then pause for the rebuild): a bound for streams so long, or so many queued on one worker,
 * that waiting for them would hold the reload for minutes.
 */
export const RELOAD_STREAM_WAIT_MS = 30_000;

/** At most this many decoding batches in one job when a caller shows progress, so that it moves every few batches. */
export const DECODE_RUN_BATCHES = 4;

/**
 * The decoding jobs of source ids: runs of whole batches of decoding's own length order (src/seq2seq/decode.ts), at
 * least JOBS_PER_WORKER per thread and at most `maxBatches` batches each. Each run decoded alone (a worker's
 * `Seq2Seq.predict` call, or this thread's) gives the outputs of the one call over all sources: its stable sort keeps
 * the run's order, so it decodes exactly those batches. A classifier's encoded texts are cut the same way: its batches
 * (predictProbabilities) are in the same order, token length then position.
 */
export function decodingRuns(
  ids: readonly Int32Array[],
  batchSize: number,
  threads: number,
  maxBatches = Infinity,
): Int32Array[] {
  const order = decodingOrder(ids);
  const batches = Math.ceil(ids.length / batchSize);
  const runs = Math.max(threads * JOBS_PER_WORKER, Math.ceil(batches / maxBatches));
  return shardRuns(ids.length, batchSize, runs).map(([from, to]) => order.subarray(from, to));
}

/**
 * Contiguous runs [from, to) of n items, at most `runs` of them, cut only at multiples of `batch` (whole batches), as
 * even as whole batches allow; empty runs are left out.
 */
export function shardRuns(n: number, batch: number, runs: number): [number, number][] {
  const batches = Math.ceil(n / batch);
  const per = Math.floor(batches / runs);
  const extra = batches % runs;
  const out: [number, number][] = [];
  let b = 0;
  for (let r = 0; r < runs && b < batches; r++) {
    const take = per + (r < extra ? 1 : 0);
    if (take === 0) continue;
    out.push([b * batch, Math.min(n, (b + take) * batch)]);
    b += take;
  }
  return out;
}
