/**
 * Text generation from a character model, stateful: the prime text is fed once to warm up the recurrent state, then
 * each new character costs one recurrent step (the Keras recipe instead re-runs the whole 40-character window for
 * every character). Several samples — e.g. the recipe's four temperatures — run together as one batch.
 */
import { InvalidInputError, describeValue } from '../core/errors.js';
import { Random } from '../core/random.js';
import { Stepper, type StepAheadRunner } from '../models/stepper.js';
import type { Sequential } from '../models/sequential.js';
import { snapshotModel } from '../models/serialization.js';
import { checkSampleOptions, checkSeed, sampleFromLogits, type SampleOptions } from './sampling.js';
import type { Vocabulary } from './vocabulary.js';

export interface GenerateOptions extends SampleOptions {
  /** Text to start from (at least one character, all in the vocabulary). */
  prime: string;
  /** Characters to generate. */
  length: number;
  /** Seed for reproducible samples. */
  seed?: number;
  /** Called with each generated character as soon as it exists (streaming output). */
  onChar?: (c: string) => void;
  /**
   * A second thread for one-stream generation (`startStepHelper` of recur/node): it computes each step's recurrent
   * product while this thread samples. The same text, faster; ignored for batched streams (several temperatures, a
   * window), whose steps run on the GEMM.
   */
  helper?: StepAheadRunner | null;
}

export class TextGenerator {
  /**
   * @param window for models trained on fixed windows (the Keras recipe's `maxlen`): when set, each sample runs as
   *   `window` staggered streams, stream j restarting from zero state at every position ≡ j (mod window), so every
   *   character is predicted from a fresh state over exactly the last `window` characters — the same numbers as the
   *   recipe's re-run of the window, computed as one batched step per character instead of `window` sequential
   *   steps. Without it, generation is purely stateful: one recurrent step of one stream per character, the state
   *   carried indefinitely (right for stream-trained models; for window-trained ones the state drifts past what the
   *   model saw in training, usually harmlessly on prose).
   */
  constructor(
    readonly model: Sequential,
    readonly vocabulary: Vocabulary,
    readonly lowercase = true,
    readonly window?: number,
  ) {
    if (window !== undefined && !(Number.isInteger(window) && window >= 1)) {
      throw new Error(`window must be a positive integer, got ${window}`);
    }
  }

  private primeIds(prime: string): Int32Array {
    if (typeof prime !== 'string')
      throw new InvalidInputError(
        `prime must be a string (the text to start from, at least one character), got ${describeValue(prime)}`,
      );
    const p = this.lowercase ? prime.toLowerCase() : prime;
    if (Array.from(p).length === 0)
      throw new InvalidInputError('the prime text is empty; give at least one character');
    return this.vocabulary.encode(p);
  }

  /** Generates `length` characters after `prime`; returns only the generated part. */
  generate(opts: GenerateOptions): string {
    return this.generateMany([opts.temperature ?? 1], opts)[0];
  }

  /** The recipe's API: `length` characters at `temperature`, from a prime. */
  generateText(length: number, temperature: number, prime: string, seed?: number): string {
    return this.generate({ length, temperature, prime, seed });
  }

  /**
   * One sample per temperature, all from the same prime, computed as a batch. `onChar` (if given) receives the
   * characters of the first sample.
   */
  generateMany(temperatures: number[], opts: GenerateOptions): string[] {
    checkSampleOptions(opts);
    checkSeed(opts.seed);
    for (const t of temperatures) checkSampleOptions({ temperature: t });
    if (!(Number.isInteger(opts.length) && opts.length >= 0))
      throw new Error(`length must be a non-negative integer, got ${opts.length}`);
    const ids = this.primeIds(opts.prime);
    // Its kernel memory goes back when the samples are done: generating again and again stays flat.
    const stepper = new Stepper(this.model, temperatures.length * (this.window ?? 1));
    if (opts.helper) stepper.useHelper(opts.helper);
    try {
      const out: number[][] = temperatures.map(() => []);
      const steps = this.sample(stepper, temperatures, opts, ids, out);
      while (!steps.next().done);
      return out.map((o) => this.vocabulary.decode(o));
    } finally {
      stepper.dispose();
    }
  }

  /**
   * generate, yielding to the event loop (`yieldFn`) after every `sliceMs` of work, so that aborting `signal` (a page's
   * Stop, which a worker only receives between tasks) stops it within a slice. Resolves with the characters generated
   * until then, and whether it was stopped; the same text as generate for the same options. It steps a snapshot of
   * the weights taken when it starts: the model may train during its yields (the page trains between them), and one
   * text then still comes from one set of weights.
   */
  async generateStoppable(
    opts: GenerateOptions,
    signal: AbortSignal,
    yieldFn: () => Promise<void>,
    sliceMs = 30,
  ): Promise<{ text: string; stopped: boolean }> {
    checkSampleOptions(opts);
    checkSeed(opts.seed);
    if (!(Number.isInteger(opts.length) && opts.length >= 0))
      throw new Error(`length must be a non-negative integer, got ${opts.length}`);
    const ids = this.primeIds(opts.prime);
    const temperatures = [opts.temperature ?? 1];
    const weights = snapshotModel(this.model);
    const stepper = new Stepper(weights, this.window ?? 1);
    if (opts.helper) stepper.useHelper(opts.helper);
    const out: number[][] = [[]];
    try {
      const steps = this.sample(stepper, temperatures, opts, ids, out);
      let t0 = performance.now();
      while (!signal.aborted && !steps.next().done) {
        if (performance.now() - t0 < sliceMs) continue;
        await yieldFn();
        t0 = performance.now();
      }
      return { text: this.vocabulary.decode(out[0]), stopped: signal.aborted };
    } finally {
      stepper.dispose();
      weights.dispose();
    }
  }

  /**
   * The samples of generateMany, on `stepper` (one stream per sample, or a window's worth per sample), pushed to
   * `out`: one step per iteration, so a caller can stop between characters.
   */
  private *sample(
    stepper: Stepper,
    temperatures: number[],
    opts: GenerateOptions,
    ids: Int32Array,
    out: number[][],
  ): Generator<void, void> {
    const B = temperatures.length;
    const V = this.vocabulary.size;
    const L = this.window;
    const streams = L ?? 1;
    if (stepper.outputSize !== V) {
      throw new Error(
        `the model outputs ${stepper.outputSize} values per step but the vocabulary has ${V} characters`,
      );
    }
    const rng = new Random(opts.seed ?? (Math.random() * 2 ** 32) >>> 0);
    const input = new Int32Array(B * streams);
    let pos = 0;
    let logits: Float32Array = new Float32Array(0);
    // Feeds one character per sample; with a window, stream j of each sample restarts at positions ≡ j (mod L).
    const feed = (chars: ArrayLike<number>): void => {
      if (L !== undefined) for (let b = 0; b < B; b++) stepper.resetRow(b * L + (pos % L));
      for (let b = 0; b < B; b++) for (let s = 0; s < streams; s++) input[b * streams + s] = chars[b];
      logits = stepper.step(input);
      pos++;
    };
    // The stream whose context is exactly the last L characters (all characters while fewer than L were fed).
    const row = (b: number): number => (L === undefined ? b : b * L + (pos < L ? 0 : pos % L));
    const same = new Int32Array(B);
    for (const id of ids) {
      feed(same.fill(id));
      yield;
    }
    const scratch = new Float64Array(V);
    const next = new Int32Array(B);
    const sampling = temperatures.map((temperature) => ({ ...opts, temperature }));
    for (let i = 0; i < opts.length; i++) {
      for (let b = 0; b < B; b++) {
        next[b] = sampleFromLogits(logits, row(b) * V, V, sampling[b], rng, scratch);
        out[b].push(next[b]);
      }
      opts.onChar?.(this.vocabulary.chars[next[0]]);
      if (i + 1 < opts.length) feed(next);
      yield;
    }
  }
}
