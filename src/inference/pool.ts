/**
 * A forward-only inference pool: N workers, each holding its own copy of every loaded model (posted once as
 * model.json's text and the weight bytes), running jobs off the calling thread so it stays free (recur serve's event
 * loop answers other requests while long generations run).
 *
 *  - generation: each new stream goes to the worker with the fewest active streams; a worker batches its streams
 *    into shared stateful steps (GenerationBatcher), and characters stream back as they are sampled. A stream's text
 *    depends only on its model, prime, options and seed, so it equals the one-thread text.
 *  - classify / decode: the inputs are split into contiguous shards, one per worker, cut where the one-thread run cuts
 *    its batches (classify: its batches in order of token length; decode: its batches in input order), so every worker
 *    computes exactly the batches the one-thread run would, and the re-joined results are identical to it.
 *
 * Generic over the worker API (InferencePort): src/node/inference_pool.ts spawns Node worker threads,
 * src/web/inference_pool.ts Web Workers. A worker that dies (crash, out of memory) fails the jobs it was running with
 * a clear error and is replaced, with every model loaded again, so later jobs still run.
 */
import { parseClassifierMetadata, type ClassifierMetadata } from '../classify/metadata.js';
import type { TextClassification } from '../classify/predict.js';
import { Tokenizer as ClassifyTokenizer } from '../classify/tokenizer.js';
import { kernels } from '../core/backend.js';
import { InvalidInputError } from '../core/errors.js';
import { DECODE_DEFAULTS } from '../seq2seq/decode.js';
import type { Seq2SeqPrediction, Translation } from '../seq2seq/seq2seq.js';
import type {
  DecodeJob,
  GenerationJob,
  InferenceReply,
  InferenceRequest,
  InferenceResult,
  ModelPayload,
} from './protocol.js';

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
}

interface ModelEntry extends PooledModel {
  payload: ModelPayload;
  classifier?: { meta: ClassifierMetadata; tokenizer: ClassifyTokenizer };
}

export class InferencePool {
  private readonly slots: Slot[] = [];
  private readonly jobs = new Map<number, Job>();
  private readonly models: ModelEntry[] = [];
  private nextId = 1;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
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
    const slot: Slot = { index, port: this.spawn(), streams: 0, jobs: new Set(), alive: true };
    slot.port.onMessage((r) => this.receive(r));
    slot.port.onExit((err) => this.died(slot, err));
    slot.port.hold(false);
    return slot;
  }

  /** A dead worker fails its jobs with a clear error and is replaced, with every model loaded again. */
  private died(slot: Slot, err: Error): void {
    if (!slot.alive) return;
    slot.alive = false;
    const why = `inference worker ${slot.index + 1} stopped (${err.message}); the request was not completed`;
    for (const id of slot.jobs) {
      const job = this.jobs.get(id)!;
      this.jobs.delete(id);
      if (job.stream) this.streamEnded(slot);
      job.reject(new Error(why));
    }
    slot.jobs.clear();
    if (this.closed) return;
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
   * model is not used.
   */
  async load(payload: ModelPayload): Promise<PooledModel> {
    const id = this.models.length + 1;
    const entry: ModelEntry = { id, kind: payload.kind, file: payload.file, payload };
    if (payload.kind === 'classify') {
      let meta: ClassifierMetadata;
      try {
        const raw = JSON.parse(payload.json) as { userDefinedMetadata?: Record<string, unknown> };
        meta = parseClassifierMetadata(raw.userDefinedMetadata ?? {}, payload.file);
      } catch (e) {
        throw e instanceof InvalidInputError
          ? e
          : new InvalidInputError(`${payload.file}: ${(e as Error).message}`);
      }
      entry.classifier = { meta, tokenizer: ClassifyTokenizer.fromJSON(meta.tokenizer) };
    }
    await Promise.all(
      this.slots.map((s) =>
        this.post(s, (jid) => ({
          type: 'load',
          id: jid,
          modelId: id,
          model: payload,
          kernels: this.kernelsName,
        })),
      ),
    );
    this.models.push(entry);
    return { id, kind: entry.kind, file: entry.file };
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
    const slot = this.slots.reduce((a, b) => (b.streams < a.streams ? b : a));
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
   * Labels `texts` with a classifier, in their order: the texts are sorted by token length as `classifyTexts` does,
   * cut into its batches, and whole batches are dealt to the workers in contiguous runs, so each worker runs
   * `classifyTexts` on exactly the batches the one-thread call would — the same numbers.
   */
  async classify(
    model: PooledModel,
    texts: readonly string[],
    batchSize = 128,
  ): Promise<TextClassification[]> {
    const { meta, tokenizer } = this.entry(model, 'classify').classifier!;
    if (!(Number.isInteger(batchSize) && batchSize > 0))
      throw new InvalidInputError(`batchSize must be a positive integer, got ${batchSize}`);
    const lengths = texts.map(
      (t) => tokenizer.encode(t, meta.settings.maxLength, meta.settings.truncating).length,
    );
    const order = Array.from(texts, (_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
    const shards = shardRuns(order.length, batchSize, this.threads);
    const parts = await Promise.all(
      shards.map(([from, to], w) => {
        const rows = order.slice(from, to);
        const slot = this.slots[w];
        return this.post(slot, (id) => ({
          type: 'classify',
          id,
          modelId: model.id,
          texts: rows.map((r) => texts[r]),
          batchSize,
        })).then((res) => ({ rows, res: res as TextClassification[] }));
      }),
    );
    const out = new Array<TextClassification>(texts.length);
    for (const { rows, res } of parts) rows.forEach((r, i) => (out[r] = res[i]));
    return out;
  }

  /**
   * Decodes `sources` with a seq2seq model (greedy, or beam search with `beam` > 1), in their order: contiguous
   * shards of whole decoding batches, one per worker, each decoded by `Seq2Seq.predict` — the one-thread answers.
   */
  async decode(
    model: PooledModel,
    sources: readonly string[],
    opts: DecodeJob = {},
  ): Promise<Seq2SeqPrediction[]> {
    return (await this.decodeShards(model, sources, opts, false)) as Seq2SeqPrediction[];
  }

  /** `Seq2Seq.translate` (the sources as given, with output tokens: what evaluation scores) over the workers. */
  async translate(
    model: PooledModel,
    sources: readonly string[],
    opts: DecodeJob = {},
  ): Promise<Translation[]> {
    return (await this.decodeShards(model, sources, opts, true)) as Translation[];
  }

  private async decodeShards(
    model: PooledModel,
    sources: readonly string[],
    opts: DecodeJob,
    raw: boolean,
  ): Promise<Seq2SeqPrediction[] | Translation[]> {
    this.entry(model, 'seq2seq');
    const batchSize = opts.batchSize ?? DECODE_DEFAULTS.batchSize;
    if (!(Number.isInteger(batchSize) && batchSize > 0))
      throw new InvalidInputError(`batchSize must be a positive integer, got ${batchSize}`);
    const shards = shardRuns(sources.length, batchSize, this.threads);
    const parts = await Promise.all(
      shards.map(([from, to], w) =>
        this.post(this.slots[w], (id) => ({
          type: 'decode',
          id,
          modelId: model.id,
          sources: sources.slice(from, to),
          opts: { ...opts, batchSize },
          raw,
        })),
      ),
    );
    return (parts as Seq2SeqPrediction[][]).flat();
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

/**
 * Contiguous runs [from, to) of n items for at most `workers` workers, cut only at multiples of `batch` (whole
 * batches), as even as whole batches allow; empty runs are left out.
 */
export function shardRuns(n: number, batch: number, workers: number): [number, number][] {
  const batches = Math.ceil(n / batch);
  const per = Math.floor(batches / workers);
  const extra = batches % workers;
  const runs: [number, number][] = [];
  let b = 0;
  for (let w = 0; w < workers && b < batches; w++) {
    const take = per + (w < extra ? 1 : 0);
    if (take === 0) continue;
    runs.push([b * batch, Math.min(n, (b + take) * batch)]);
    b += take;
  }
  return runs;
}
