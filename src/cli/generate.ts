/**
 * `recur generate <model>` — streams generated text to stdout as it is produced. The model is a recur text model
 * directory, or a Keras character model (.h5/.keras, e.g. the Keras tutorial's) with its vocabulary rebuilt from
 * --corpus (or --chars), which the Keras file does not carry.
 */
import { corpusWindow, kerasCharacterModel } from '../keras/text_model.js';
import type { Sequential } from '../models/sequential.js';
import { loadAnyModel, modelFormatOf } from '../node/keras_io.js';
import { readTextFile } from '../node/text_file.js';
import { startStepHelper } from '../node/step_helper.js';
import { TextGenerator } from '../text/generator.js';
import { Vocabulary } from '../text/vocabulary.js';
import { stdoutChunks, UsageError, type Output } from './output.js';
import { vocabularyOf, type TextMetadata } from '../text/metadata.js';
import { loadTextModel } from './text_model.js';

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

/** A Keras character model with the tutorial's vocabulary, said on stderr. */
async function kerasTextModel(path: string, o: GenerateCliOptions, out: Output): Promise<TextModelParts> {
  if (o.corpus === undefined && o.chars === undefined)
    throw new UsageError(
      `${path}: a Keras model carries no vocabulary; give the training text with --corpus FILE (or the characters with --chars)`,
    );
  if (o.corpus !== undefined && o.chars !== undefined)
    throw new UsageError('give --corpus or --chars, not both');
  const loaded = await loadAnyModel(path);
  for (const n of loaded.notes) out.info(`note: ${n}`);
  const {
    model,
    vocabulary: v,
    window,
  } = kerasCharacterModel(
    loaded.model,
    o.corpus !== undefined ? { corpus: readTextFile(o.corpus), corpusName: o.corpus } : { chars: o.chars },
    path,
  );
  out.info(`vocabulary: ${v.chars.length} characters, ${v.how}`);
  let defaultPrime = o.prime;
  if (defaultPrime === undefined) {
    if (v.text.length === 0)
      throw new UsageError('give --prime: with --chars there is no text to start from');
    // The tutorial starts from a random window of the corpus.
    const w = corpusWindow(v, window, o.seed ?? 0);
    defaultPrime = w.prime;
    out.info(`prime: a ${Array.from(w.prime).length}-character window of the corpus at ${w.start}`);
  }
  return {
    model,
    vocab: Vocabulary.fromJSON(v.chars),
    lowercase: v.lowercase,
    defaultPrime: defaultPrime!,
    window,
  };
}

function recurTextModel(
  dir: string,
  o: GenerateCliOptions,
  out: Output,
): TextModelParts & { meta: TextMetadata } {
  if (o.corpus !== undefined || o.chars !== undefined)
    throw new UsageError(
      '--corpus and --chars are for Keras models (.h5, .keras); a recur model has its vocabulary',
    );
  const { model, meta, notes } = loadTextModel(dir);
  for (const n of notes) out.info(`note: ${n}`);
  return {
    model,
    meta,
    vocab: vocabularyOf(meta),
    lowercase: meta.settings.lowercase,
    defaultPrime: meta.defaultPrime,
    window: meta.settings.recipe === 'keras' ? meta.settings.maxlen : null,
  };
}

export async function generate(
  dir: string,
  o: GenerateCliOptions,
  out: Output,
  json: boolean,
): Promise<number> {
  const parts =
    modelFormatOf(dir) === 'recur' ? recurTextModel(dir, o, out) : await kerasTextModel(dir, o, out);
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
