/**
 * `recur generate <model>` — streams generated text to stdout as it is produced. The model is a recur text model
 * directory, or a Keras character model (.h5/.keras, e.g. the Keras tutorial's) with its vocabulary rebuilt from
 * --corpus (or --chars), which the Keras file does not carry.
 */
import { Random } from '../core/random.js';
import { tutorialVocabulary, vocabularyFromChars, type TutorialVocabulary } from '../keras/vocabulary.js';
import { chainAsSequential } from '../keras/chain.js';
import { Sequential } from '../models/sequential.js';
import { loadAnyModel, modelFormatOf } from '../node/keras_io.js';
import { readTextFile } from '../node/text_file.js';
import { TextGenerator } from '../text/generator.js';
import { Vocabulary } from '../text/vocabulary.js';
import { UsageError, type Output } from './output.js';
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
}

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
  const model = loaded.model instanceof Sequential ? loaded.model : chainAsSequential(loaded.model);
  if (!model)
    throw new UsageError(
      `${path}: a functional model with branches, several inputs or outputs, or returned states; recur generate runs character models that are one chain of layers (Sequential, or functional without branches)`,
    );
  const input = model.inputShape();
  const output = input ? model.outputShape() : [];
  const size = output[output.length - 1];
  if (
    !input ||
    typeof size !== 'number' ||
    model.layers[model.layers.length - 1].outputActivation() !== 'softmax'
  )
    throw new UsageError(`${path}: not a character model (it should end in a softmax over the characters)`);
  let v: TutorialVocabulary;
  if (o.corpus !== undefined) v = tutorialVocabulary(readTextFile(o.corpus), size, o.corpus);
  else v = vocabularyFromChars(o.chars!, size);
  const features = input[input.length - 1];
  if (model.layers[0].className !== 'Embedding' && features !== null && features !== size)
    throw new UsageError(
      `${path}: its input has ${features} features per step but it predicts ${size} characters`,
    );
  out.info(`vocabulary: ${v.chars.length} characters, ${v.how}`);
  const window = typeof input[0] === 'number' && input.length === 2 ? input[0] : null;
  let defaultPrime = o.prime;
  if (defaultPrime === undefined) {
    const chars = Array.from(v.text);
    const n = window ?? 40;
    if (chars.length === 0) throw new UsageError('give --prime: with --chars there is no text to start from');
    // The tutorial starts from a random window of the corpus.
    const start = Math.floor(new Random(o.seed ?? 0).next() * Math.max(1, chars.length - n));
    defaultPrime = chars.slice(start, start + n).join('');
    out.info(`prime: a ${Array.from(defaultPrime).length}-character window of the corpus at ${start}`);
  }
  return { model, vocab: Vocabulary.fromJSON(v.chars), lowercase: v.lowercase, defaultPrime, window };
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
  const text = gen.generate({
    prime,
    length: o.length,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    seed: o.seed,
    onChar: json ? undefined : (c) => process.stdout.write(c),
  });
  if (json) out.json({ prime: lowered, text, temperature: o.temperature, seconds: (Date.now() - t0) / 1000 });
  else process.stdout.write('\n');
  return 0;
}
