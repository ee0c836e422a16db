/**
 * Loading a text model for `recur generate`, `evaluate` and `train --resume`. The recipes, the model builder and the
 * metadata schema are library code (src/text/recipes.ts, src/text/metadata.ts); what stays here is the CLI's reading
 * of a model, where a model that cannot be used is bad input (exit 2).
 */
import { InvalidInputError } from '../core/errors.js';
import { chainAsSequential } from '../keras/chain.js';
import { corpusWindow, kerasCharacterModel } from '../keras/text_model.js';
import { Sequential } from '../models/sequential.js';
import { loadAnyModel, modelFormatOf } from '../node/keras_io.js';
import { loadModel, refuseOtherTask } from '../node/model_io.js';
import { readTextFile } from '../node/text_file.js';
import {
  parseTextMetadata,
  parseTextModelMetadata,
  vocabularyOf,
  type TextMetadata,
} from '../text/metadata.js';
import { Vocabulary } from '../text/vocabulary.js';
import { UsageError, type Output } from './output.js';

/** loadModel for a command's input: a damaged or foreign model directory is bad input (exit 2), not a failure. */
export function loadModelInput(dir: string): ReturnType<typeof loadModel> {
  try {
    return loadModel(dir);
  } catch (e) {
    if (e instanceof Error && !(e instanceof UsageError) && !(e as NodeJS.ErrnoException).code)
      throw new UsageError(e.message);
    throw e;
  }
}

/** A text model and its metadata from a model directory; a directory that does not hold one is bad input (exit 2). */
export function loadTextModel(dir: string): { model: Sequential; meta: TextMetadata; notes: string[] } {
  const loaded = loadModelInput(dir);
  return {
    model: loaded.model,
    meta: parseTextModelMetadata(loaded.model, loaded.metadata, dir),
    notes: loaded.notes,
  };
}

/** Where the vocabulary of a model that carries none comes from: its training text (a file), or its characters. */
export interface VocabularyFlags {
  corpus?: string;
  chars?: string;
}

/** A character model ready to generate or be scored, with its vocabulary. */
export interface CharacterModel {
  model: Sequential;
  vocab: Vocabulary;
  lowercase: boolean;
  /** The model's own text metadata (a recur text model, or one converted to Keras and back), else null. */
  meta: TextMetadata | null;
  /** For a model that carries no vocabulary: the text it was rebuilt from ('' from --chars) and the model's window. */
  rebuilt: {
    text: string;
    window: number | null;
    prime: (seed: number) => { prime: string; start: number };
  } | null;
}

/**
 * A character model from any file recur reads — a recur model directory, a Keras .h5/.keras — with its vocabulary:
 * the one in its metadata, or, for a model that carries none (a Keras model, or a directory converted from one),
 * rebuilt from `--corpus` or `--chars`, which are refused when the model has its own (they could disagree).
 */
export async function loadCharacterModel(
  path: string,
  flags: VocabularyFlags,
  out: Output,
): Promise<CharacterModel> {
  if (flags.corpus !== undefined && flags.chars !== undefined)
    throw new UsageError('give --corpus or --chars, not both');
  // A classifier or seq2seq model would otherwise be refused as "carries no vocabulary; give --corpus".
  if (modelFormatOf(path) === 'recur') refuseOtherTask(path, 'text');
  const loaded = await loadAnyModel(path);
  for (const n of loaded.notes) out.note(n);
  const given = flags.corpus !== undefined ? '--corpus' : flags.chars !== undefined ? '--chars' : null;
  const carried =
    loaded.metadata.task === 'text' || 'vocabulary' in loaded.metadata
      ? parseTextMetadata(loaded.metadata, path)
      : null;
  if (carried && !given) {
    const model = loaded.model instanceof Sequential ? loaded.model : chainAsSequential(loaded.model);
    if (!model)
      throw new InvalidInputError(
        `${path}: a functional model with branches, several inputs or outputs; a text model is one chain of layers ending in a softmax over its characters`,
      );
    parseTextModelMetadata(model, loaded.metadata, path);
    return {
      model,
      vocab: vocabularyOf(carried),
      lowercase: carried.settings.lowercase,
      meta: carried,
      rebuilt: null,
    };
  }
  if (!given)
    throw new UsageError(
      `${path}: ${modelFormatOf(path) === 'recur' ? 'the model carries no vocabulary (no text metadata: converted from Keras, or not trained by recur train)' : 'a Keras model carries no vocabulary'}; give the training text with --corpus FILE (or the characters with --chars)`,
    );
  const {
    model,
    vocabulary: v,
    window,
  } = kerasCharacterModel(
    loaded.model,
    flags.corpus !== undefined
      ? { corpus: readTextFile(flags.corpus), corpusName: flags.corpus }
      : { chars: flags.chars },
    path,
  );
  // A model that carries its vocabulary takes --corpus (whose windows then prime it, as for any Keras file) only when
  // the text gives that same vocabulary: a different one would read the model's outputs as other characters.
  if (carried && v.chars.join('') !== carried.vocabulary.join('')) {
    const own = carried.vocabulary;
    // As many characters but other ones: "18 characters, not the 18" read as no difference at all.
    const at = v.chars.findIndex((c, i) => c !== own[i]);
    const differs =
      v.chars.length === own.length
        ? `other characters than the ${own.length} ${path} carries (${JSON.stringify(v.chars[at])} where it has ${JSON.stringify(own[at])})`
        : `${v.chars.length} characters, not the ${own.length} ${path} carries`;
    throw new UsageError(
      `${given}: it gives ${differs}; leave out --corpus and --chars to use the model's own`,
    );
  }
  out.info(`vocabulary: ${v.chars.length} characters, ${v.how}`);
  return {
    model,
    vocab: Vocabulary.fromJSON(v.chars),
    lowercase: v.lowercase,
    meta: null,
    rebuilt: { text: v.text, window, prime: (seed) => corpusWindow(v, window, seed) },
  };
}
