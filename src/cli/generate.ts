/**
 * `recur generate <model>` — streams generated text to stdout as it is produced. The model is a recur text model
 * (a directory, or a .keras/.h5 recur wrote from one, which keeps its metadata), or a character model without a
 * vocabulary (a Keras model such as the Keras tutorial's, or a directory converted from one) with its vocabulary
 * rebuilt from --corpus (or --chars).
 */
import type { Sequential } from '../models/sequential.js';
import { startStepHelper } from '../node/step_helper.js';
import { TextGenerator } from '../text/generator.js';
import { Vocabulary } from '../text/vocabulary.js';
import { stdoutChunks, UsageError, type Output } from './output.js';
import { loadCharacterModel } from './text_model.js';

export interface GenerateCliOptions {
  length: number;
  temperature: number;
  prime?: string;
  topK?: number;
  topP?: number;
  seed?: number;
  exactWindow?: boolean;
  /** Keras models: the training corpus, to rebuild the vocabulary. */
  corpus?: string;
  /** Keras models: the vocabulary's characters. */
  chars?: string;
  /** Threads (default: all cores); 2 or more start a step helper for one-stream generation. */
  threads?: number;
}

/** Below this many characters a helper thread would not start in time to pay for itself. */
const HELPER_MIN_LENGTH = 2000;

/** What generation needs of a model: the model, its vocabulary and settings. */
interface TextModelParts {
  model: Sequential;
  vocab: Vocabulary;
  lowercase: boolean;
  defaultPrime: string;
  /** Window length of window-trained models (for --exact-window), if known. */
  window: number | null;
}

/**
 * The model with its vocabulary: its own (a recur text model), or rebuilt from --corpus/--chars (a Keras model or a
 * directory converted from one), said on stderr with the prime it starts from.
 */
async function textModel(path: string, o: GenerateCliOptions, out: Output): Promise<TextModelParts> {
  const m = await loadCharacterModel(path, o, out);
  if (m.meta) {
    const s = m.meta.settings;
    return {
      model: m.model,
      vocab: m.vocab,
      lowercase: m.lowercase,
      defaultPrime: m.meta.defaultPrime,
      window: s.recipe === 'keras' ? s.maxlen : null,
    };
  }
  const r = m.rebuilt!;
  let defaultPrime = o.prime;
  if (defaultPrime === undefined) {
    if (r.text.length === 0)
      throw new UsageError('give --prime: with --chars there is no text to start from');
    // The tutorial starts from a random window of the corpus.
    const w = r.prime(o.seed ?? 0);
    defaultPrime = w.prime;
    out.info(`prime: a ${Array.from(w.prime).length}-character window of the corpus at ${w.start}`);
  }
  return { model: m.model, vocab: m.vocab, lowercase: m.lowercase, defaultPrime, window: r.window };
}

export async function generate(
  dir: string,
  o: GenerateCliOptions,
  out: Output,
  json: boolean,
): Promise<number> {
  // An empty prime is a usage error, found before the model loads (the generator could start from nothing).
  if (o.prime === '') throw new UsageError('--prime is empty; give at least one character to start from');
  const parts = await textModel(dir, o, out);
  const { model, vocab } = parts;
  const prime = o.prime ?? parts.defaultPrime;
  const lowered = parts.lowercase ? prime.toLowerCase() : prime;
  const unknown = [...new Set(Array.from(lowered).filter((c) => !vocab.has(c)))];
  if (unknown.length > 0) {
    throw new UsageError(
      `--prime has characters the model never saw: ${unknown.map((c) => JSON.stringify(c)).join(', ')}`,
    );
  }
  if (o.exactWindow && parts.window === null)
    throw new UsageError('--exact-window applies to models trained on windows (the keras recipe)');
  const gen = new TextGenerator(model, vocab, parts.lowercase, o.exactWindow ? parts.window! : undefined);
  if (!json) process.stdout.write(lowered);
  const t0 = Date.now();
  const streamed = stdoutChunks();
  // One stream of one sample: its recurrent products can run on a second core (the window's streams run batched).
  const helper = !o.exactWindow && o.length >= HELPER_MIN_LENGTH ? startStepHelper(o.threads) : null;
  let text: string;
  try {
    text = gen.generate({
      helper,
      prime,
      length: o.length,
      temperature: o.temperature,
      topK: o.topK,
      topP: o.topP,
      seed: o.seed,
      onChar: json ? undefined : (c) => streamed.add(c),
    });
  } finally {
    helper?.close();
    streamed.flush();
  }
  if (json) out.json({ prime: lowered, text, temperature: o.temperature, seconds: (Date.now() - t0) / 1000 });
  else process.stdout.write('\n');
  return 0;
}
