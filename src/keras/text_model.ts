/**
 * A Keras character model (the tutorial's kind: one chain of layers ending in a softmax over the characters) made
 * ready to generate: its vocabulary rebuilt from the training text the tutorial's way, or taken from the characters
 * given, checked against the model's output size — the one place `recur generate model.h5 --corpus` and the page's
 * Generate tab (a dropped .h5/.keras) do it, so both give the same text for the same prime and seed.
 */
import { InvalidInputError } from '../core/errors.js';
import { Random } from '../core/random.js';
import type { Functional } from '../models/functional.js';
import { Sequential } from '../models/sequential.js';
import { chainAsSequential } from './chain.js';
import { tutorialVocabulary, vocabularyFromChars, type TutorialVocabulary } from './vocabulary.js';

export interface KerasCharacterModel {
  model: Sequential;
  vocabulary: TutorialVocabulary;
  /** The window length of a model with a fixed number of steps (the tutorial's maxlen), else null. */
  window: number | null;
}

/**
 * `model` as a character model with the vocabulary of `corpus` (the training text, named `corpusName` in errors) or
 * `chars` (exactly one of them).
 * `where` names the model in errors, `charsLabel` the source of `chars` (a flag or a field). Every problem is an
 * InvalidInputError saying what the model is and what it needs.
 */
export function kerasCharacterModel(
  loaded: Sequential | Functional,
  source: { corpus?: string; corpusName?: string; chars?: string },
  where: string,
  charsLabel = '--chars',
): KerasCharacterModel {
  const model = loaded instanceof Sequential ? loaded : chainAsSequential(loaded);
  if (!model)
    throw new InvalidInputError(
      `${where}: a functional model with branches, several inputs or outputs, or returned states; character generation runs models that are one chain of layers (Sequential, or functional without branches)`,
    );
  const input = model.inputShape();
  const output = input ? model.outputShape() : [];
  const size = output[output.length - 1];
  if (
    !input ||
    typeof size !== 'number' ||
    model.layers[model.layers.length - 1].outputActivation() !== 'softmax'
  )
    throw new InvalidInputError(
      `${where}: not a character model (it should end in a softmax over the characters)`,
    );
  const vocabulary =
    source.corpus !== undefined
      ? tutorialVocabulary(source.corpus, size, source.corpusName ?? 'the text', `give ${charsLabel}`, where)
      : vocabularyFromChars(source.chars ?? '', size, charsLabel, where);
  const features = input[input.length - 1];
  if (model.layers[0].className !== 'Embedding' && features !== null && features !== size)
    throw new InvalidInputError(
      `${where}: its input has ${features} features per step but it predicts ${size} characters`,
    );
  const window = typeof input[0] === 'number' && input.length === 2 ? input[0] : null;
  return { model, vocabulary, window };
}

/** The tutorial's start: a window of the corpus at a place the seed picks (its length the model's, else 40). */
export function corpusWindow(
  v: TutorialVocabulary,
  window: number | null,
  seed: number,
): { prime: string; start: number } {
  const chars = Array.from(v.text);
  const n = window ?? 40;
  const start = Math.floor(new Random(seed).next() * Math.max(1, chars.length - n));
  return { prime: chars.slice(start, start + n).join(''), start };
}
