/**
 * Many generation requests on one model, stepped together: every live stream is one row of a shared Stepper, so
 * one batched recurrent step advances all of them by one character. The cost of a step grows much more slowly than
 * its batch (the weights are read once per step, not once per stream), so throughput grows with concurrency instead
 * of requests queueing behind each other. What `recur serve` runs.
 *
 * Each stream gives exactly the text `TextGenerator.generate` gives for the same prime, length, sampling options and
 * seed (the stateful mode, without a window): it feeds the prime one character per step from zero state, then feeds
 * back each sampled character, drawing from its own seeded Random. The wasm kernels compute a row the same way at
 * every batch size, so the numbers agree bit for bit (the reference kernels may differ in the last float bit).
 *
 * Streams come and go between steps: the batch is the smallest power of two (up to `maxBatch`) that holds them, with
 * one cached Stepper per size; when it changes, the live rows' states are copied into the other Stepper
 * (Stepper.copyRow). Requests beyond `maxBatch` wait their turn.
 */
import { Random } from '../core/random.js';
import { InvalidInputError } from '../core/errors.js';
import type { Sequential } from '../models/sequential.js';
import { Stepper } from '../models/stepper.js';
import { checkSampleOptions, checkSeed, sampleFromLogits, type SampleOptions } from './sampling.js';
import type { Vocabulary } from './vocabulary.js';

export interface StreamRequest extends SampleOptions {
  prime: string;
  length: number;
  /** Seed of the stream's sampling; default: random. */
  seed?: number;
  /** Receives the characters generated since the last call, between batched steps (streaming output). */
  onText?: (text: string) => void;
  /** Aborting ends the stream after the current step; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface BatcherOptions {
  /** Most streams stepped together (default 64); more requests wait. */
  maxBatch?: number;
  /** Longest run of steps before yielding to the event loop, in ms (default 4): bounds streaming latency. */
  sliceMs?: number;
  /** How to yield to the event loop (default: a macrotask via setTimeout(0)). */
  yieldFn?: () => Promise<void>;
}

interface Stream {
  req: StreamRequest;
  ids: Int32Array;
  fed: number;
  next: number;
  out: number[];
  pending: string;
  rng: Random;
  sampling: SampleOptions;
  resolve: (text: string) => void;
  reject: (e: unknown) => void;
}

export class GenerationBatcher {
  private readonly maxBatch: number;
  private readonly sliceMs: number;
  private readonly yieldFn: () => Promise<void>;
  private readonly steppers = new Map<number, Stepper>();
  private stepper: Stepper | null = null;
  /** Live streams; stream i is row i of `stepper`. */
  private rows: Stream[] = [];
  private readonly waiting: Stream[] = [];
  private running: Promise<void> | null = null;
  private readonly scratch: Float64Array<ArrayBuffer>;
  /** Batched steps taken and characters generated (for benchmarks and logs). */
  readonly stats = { steps: 0, chars: 0, maxRows: 0 };

  constructor(
    readonly model: Sequential,
    readonly vocabulary: Vocabulary,
    readonly lowercase = true,
    opts: BatcherOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 64;
    if (!(Number.isInteger(this.maxBatch) && this.maxBatch >= 1))
      throw new Error(`maxBatch must be a positive integer, got ${opts.maxBatch}`);
    this.sliceMs = opts.sliceMs ?? 4;
    this.yieldFn = opts.yieldFn ?? (() => new Promise((r) => setTimeout(r, 0)));
    this.scratch = new Float64Array(vocabulary.size);
  }

  /** Streams generating or waiting. */
  get active(): number {
    return this.rows.length + this.waiting.length;
  }

  /** Resolves when no stream is generating or waiting. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Generates `length` characters after `prime`; resolves with the generated part. Bad options or a prime with
   * characters outside the vocabulary are an InvalidInputError, thrown before anything is queued.
   */
  generate(req: StreamRequest): Promise<string> {
    try {
      checkSampleOptions(req);
      checkSeed(req.seed);
    } catch (e) {
      throw new InvalidInputError((e as Error).message);
    }
    if (!(Number.isInteger(req.length) && req.length >= 0))
      throw new InvalidInputError(`length must be a non-negative integer, got ${req.length}`);
    const p = this.lowercase ? req.prime.toLowerCase() : req.prime;
    if (p.length === 0) throw new InvalidInputError('the prime text is empty; give at least one character');
    const unknown = [...new Set(Array.from(p).filter((c) => !this.vocabulary.has(c)))];
    if (unknown.length > 0)
      throw new InvalidInputError(
        `the prime has characters the model never saw: ${unknown.map((c) => JSON.stringify(c)).join(', ')}`,
      );
    const ids = this.vocabulary.encode(p);
    if (req.length === 0) return Promise.resolve('');
    return new Promise<string>((resolve, reject) => {
      this.waiting.push({
        req,
        ids,
        fed: 0,
        next: 0,
        out: [],
        pending: '',
        rng: new Random(req.seed ?? (Math.random() * 2 ** 32) >>> 0),
        sampling: { temperature: req.temperature, topK: req.topK, topP: req.topP },
        resolve,
        reject,
      });
      this.running ??= this.loop().finally(() => (this.running = null));
    });
  }

  private stepperFor(size: number): Stepper {
    let s = this.steppers.get(size);
    if (!s) {
      s = new Stepper(this.model, size);
      if (s.outputSize !== this.vocabulary.size)
        throw new Error(
          `the model outputs ${s.outputSize} values per step but the vocabulary has ${this.vocabulary.size} characters`,
        );
      this.steppers.set(size, s);
    }
    return s;
  }

  /** Admits waiting streams, drops finished ones, and picks the Stepper size for the live rows. */
  private arrange(): void {
    // Compact: finished or aborted rows are replaced by the last live row (its state moves with it).
    const cur = this.stepper;
    for (let r = 0; r < this.rows.length;) {
      const s = this.rows[r];
      if (s.req.signal?.aborted && s.out.length < s.req.length) this.finish(s, false);
      if (this.done(s)) {
        const last = this.rows.length - 1;
        if (r !== last) {
          this.rows[r] = this.rows[last];
          cur!.copyRow(last, cur!, r);
        }
        this.rows.pop();
      } else r++;
    }
    const live = this.rows.length;
    while (this.waiting.length > 0 && this.rows.length < this.maxBatch) this.rows.push(this.waiting.shift()!);
    if (this.rows.length === 0) return;
    let size = 1;
    while (size < this.rows.length) size *= 2;
    size = Math.min(size, this.maxBatch);
    const next = this.stepperFor(size);
    if (cur && next !== cur) for (let r = 0; r < live; r++) cur.copyRow(r, next, r);
    // New streams start from zero state.
    for (let r = live; r < this.rows.length; r++) next.resetRow(r);
    this.stepper = next;
    this.stats.maxRows = Math.max(this.stats.maxRows, this.rows.length);
  }

  private done(s: Stream): boolean {
    return s.out.length >= s.req.length || s.req.signal?.aborted === true;
  }

  private finish(s: Stream, ok: boolean): void {
    this.flush(s);
    if (ok) s.resolve(this.vocabulary.decode(s.out));
    else s.reject(s.req.signal?.reason ?? new Error('generation aborted'));
  }

  private flush(s: Stream): void {
    if (s.pending && s.req.onText) s.req.onText(s.pending);
    s.pending = '';
  }

  /** One batched step: every live row feeds its next prime character or its last sample. */
  private step(): void {
    const stepper = this.stepper!;
    const input = new Int32Array(stepper.batch);
    this.rows.forEach((s, r) => (input[r] = s.fed < s.ids.length ? s.ids[s.fed] : s.next));
    const logits = stepper.step(input);
    this.stats.steps++;
    const V = this.vocabulary.size;
    this.rows.forEach((s, r) => {
      if (s.fed < s.ids.length) s.fed++;
      if (s.fed < s.ids.length || this.done(s)) return;
      s.next = sampleFromLogits(logits, r * V, V, s.sampling, s.rng, this.scratch);
      s.out.push(s.next);
      s.pending += this.vocabulary.chars[s.next];
      this.stats.chars++;
      if (s.out.length === s.req.length) this.finish(s, true);
    });
  }

  private async loop(): Promise<void> {
    // Start after the caller's synchronous code: it may still be setting up where onText writes.
    await Promise.resolve();
    try {
      for (;;) {
        this.arrange();
        if (this.rows.length === 0) return;
        const t0 = Date.now();
        do {
          this.step();
          if (this.rows.some((s) => this.done(s))) this.arrange();
        } while (this.rows.length > 0 && Date.now() - t0 < this.sliceMs);
        for (const s of this.rows) this.flush(s);
        await this.yieldFn();
      }
    } catch (e) {
      for (const s of [...this.rows, ...this.waiting]) s.reject(e);
      this.rows = [];
      this.waiting.length = 0;
      this.stepper = null;
    }
  }
}
