/**
 * Text generation from a character model, stateful: the prime text is fed once to warm up the recurrent state, then
 * each new character costs one recurrent step (the Keras recipe instead re-runs the whole 40-character window for
 * every character). Several samples — e.g. the recipe's four temperatures — run together as one batch.
 */
import { Random } from '../core/random.js';
import { Stepper } from '../models/stepper.js';
import type { Sequential } from '../models/sequential.js';
import { checkSampleOptions, sampleFromLogits, type SampleOptions } from './sampling.js';
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
}

export class TextGenerator {
  constructor(
    readonly model: Sequential,
    readonly vocabulary: Vocabulary,
    readonly lowercase = true,
  ) {}

  private primeIds(prime: string): Int32Array {
    const p = this.lowercase ? prime.toLowerCase() : prime;
    if (Array.from(p).length === 0) throw new Error('the prime text is empty; give at least one character');
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
    for (const t of temperatures) checkSampleOptions({ temperature: t });
    if (!(Number.isInteger(opts.length) && opts.length >= 0))
      throw new Error(`length must be a non-negative integer, got ${opts.length}`);
    const B = temperatures.length;
    const V = this.vocabulary.size;
    const ids = this.primeIds(opts.prime);
    const stepper = new Stepper(this.model, B);
    if (stepper.outputSize !== V) {
      throw new Error(
        `the model outputs ${stepper.outputSize} values per step but the vocabulary has ${V} characters`,
      );
    }
    const rng = new Random(opts.seed ?? (Math.random() * 2 ** 32) >>> 0);
    const input = new Int32Array(B);
    let logits: Float32Array | null = null;
    for (const id of ids) {
      input.fill(id);
      logits = stepper.step(input);
    }
    const out: number[][] = temperatures.map(() => []);
    const scratch = new Float64Array(V);
    for (let i = 0; i < opts.length; i++) {
      for (let b = 0; b < B; b++) {
        const next = sampleFromLogits(
          logits!,
          b * V,
          V,
          { ...opts, temperature: temperatures[b] },
          rng,
          scratch,
        );
        out[b].push(next);
        input[b] = next;
      }
      opts.onChar?.(this.vocabulary.chars[input[0]]);
      if (i + 1 < opts.length) logits = stepper.step(input);
    }
    return out.map((o) => this.vocabulary.decode(o));
  }
}
