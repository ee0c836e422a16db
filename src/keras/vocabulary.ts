/**
 * The vocabulary of a character model trained by Keras's text-generation tutorial (lstm_text_generation.py), which
 * the model file does not carry: `chars = sorted(list(set(text)))` of the corpus as Python read it — lowercased
 * (`.lower()`) and with universal newlines (\r\n and \r read as \n). The variant whose size matches the model's
 * output is the one it was trained with; `how` says which was taken, for the user.
 */
import { InvalidInputError } from '../core/errors.js';

export interface TutorialVocabulary {
  /** Characters in index order (sorted by code point). */
  chars: string[];
  /** Whether the corpus was lowercased (then prime texts are too). */
  lowercase: boolean;
  /** The corpus text as the tutorial read it. */
  text: string;
  how: string;
}

function sortedSet(text: string): string[] {
  return [...new Set(Array.from(text))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The tutorial's vocabulary of `corpus` (named `where` in errors) that has `size` characters; else an InvalidInputError
 * saying what the model predicts and what the text has, led by `model`, the model's file, when given.
 */
export function tutorialVocabulary(
  corpus: string,
  size: number,
  where: string,
  otherwise = 'give --chars',
  model?: string,
): TutorialVocabulary {
  const universal = corpus.replace(/\r\n?/g, '\n');
  const variants = [
    { text: universal.toLowerCase(), lowercase: true, how: 'lowercased, as the tutorial reads it' },
    { text: universal, lowercase: false, how: 'case kept' },
    { text: corpus.toLowerCase(), lowercase: true, how: 'lowercased, \\r kept' },
    { text: corpus, lowercase: false, how: 'case and \\r kept' },
  ];
  const tried: { size: number; how: string }[] = [];
  for (const v of variants) {
    const chars = sortedSet(v.text);
    if (chars.length === size)
      return {
        chars,
        lowercase: v.lowercase,
        text: v.text,
        how: `sorted set of the corpus's characters (${v.how})`,
      };
    tried.push({ size: chars.length, how: v.how });
  }
  // One count when every reading gives it (a text without capitals or \r): four equal numbers said nothing more.
  const has = tried.every((r) => r.size === tried[0].size)
    ? `${tried[0].size} however the tutorial may have read it (lowercased or not, \\r kept or not)`
    : tried.map((r) => `${r.size} ${r.how}`).join('; ');
  throw new InvalidInputError(
    `${predicts(size, model, where)} has ${has}: ` +
      `not the text it was trained on (or not the tutorial way of building the vocabulary${otherwise ? `; ${otherwise}` : ''})`,
  );
}

/**
 * A vocabulary from characters given directly (`label`: --chars), sorted as the tutorial sorts them; checked against
 * `size`, what the model (`model` names its file, when given) predicts.
 */
export function vocabularyFromChars(
  chars: string,
  size: number,
  label = '--chars',
  model?: string,
): TutorialVocabulary {
  const list = sortedSet(chars);
  if (list.length !== Array.from(chars).length)
    throw new InvalidInputError(
      `${label}: a character is given twice; give each character of the vocabulary once`,
    );
  if (list.length !== size)
    throw new InvalidInputError(`${predicts(size, model, label)} gives ${list.length}`);
  return { chars: list, lowercase: false, text: '', how: `the characters given by ${label}, sorted` };
}

/** How a vocabulary's error begins: the model file, what the model predicts, and the text or flag said to differ. */
function predicts(size: number, model: string | undefined, source: string): string {
  return model
    ? `${model}: the model predicts ${size} characters, but ${source}`
    : `${source}: the model predicts ${size} characters, but it`;
}
