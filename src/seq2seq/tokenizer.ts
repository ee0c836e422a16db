/**
 * Tokenizers for sequence-to-sequence data: a text becomes a list of tokens — its characters ('chars'), its
 * whitespace-separated words ('words'), its words with punctuation split off ('wordpunct'), or symbols from a fixed
 * set ('symbols', e.g. ARPAbet phonemes; an unknown symbol is an error) — and each token an id. In the two word modes
 * an unknown word becomes <unk>. Ids 0–3 are reserved in every vocabulary: <pad> (0, so Embedding(maskZero) masks
 * padding), <start> (the decoder's first input), <end> (the decoder's last output) and <unk>.
 *
 * 'wordpunct' splits as NLTK's wordpunct_tokenize does (runs of letters, marks, digits and _; runs of anything else
 * but whitespace), so "cold.", "cold?" and "cold" share the word "cold" instead of being three words a translator
 * learns apart. To write the output back as it was written, a punctuation token written against a neighbour carries
 * a joiner (OpenNMT's ￭, U+FFED) on that side: "Où est-il ?" → Où est ￭-￭ il ?; "(hello)." → (￭ hello ￭).
 * Joining drops the space on a joiner's side. Whitespace becomes single spaces; a text's own ￭ is not kept.
 */
import { InvalidInputError } from '../core/errors.js';

export const TOKEN_MODES = ['chars', 'words', 'wordpunct', 'symbols'] as const;
export type TokenMode = (typeof TOKEN_MODES)[number];

/**
 * Unicode normalisation of a text before it is split: 'NFC' composes canonically equivalent spellings (é typed as one
 * code point, or as e + U+0301 as macOS file names and some keyboards write it) into one, so both are the same
 * tokens; 'none' reads the text as it is (models saved before recur normalised).
 */
export const NORMALIZATIONS = ['none', 'NFC'] as const;
export type Normalization = (typeof NORMALIZATIONS)[number];

/** A text in `normalization`'s form. */
export function normalizeText(text: string, normalization: Normalization): string {
  return normalization === 'NFC' ? text.normalize('NFC') : text;
}

/** The modes whose tokens are words: unknown ones read as <unk>, and a vocabulary may be capped. */
export const isWordMode = (mode: string): boolean => mode === 'words' || mode === 'wordpunct';

/** Marks the side of a 'wordpunct' punctuation token that was written against its neighbour. */
export const JOINER = '\uFFED';

export const PAD = 0;
export const START = 1;
export const END = 2;
export const UNK = 3;
export const SPECIAL_TOKENS = ['<pad>', '<start>', '<end>', '<unk>'] as const;

export class Tokenizer {
  private readonly index: Map<string, number>;

  /** `tokens` lists the whole vocabulary, the four special tokens first. */
  constructor(
    readonly mode: TokenMode,
    readonly tokens: readonly string[],
    /** Applied to every text before it is split (the vocabulary was fitted on texts in this form). */
    readonly normalization: Normalization = 'none',
  ) {
    if (!(TOKEN_MODES as readonly string[]).includes(mode))
      throw new InvalidInputError(`tokenizer: unknown mode '${String(mode)}'`);
    SPECIAL_TOKENS.forEach((t, i) => {
      if (tokens[i] !== t)
        throw new InvalidInputError(`tokenizer: token ${i} must be ${t}, got '${tokens[i]}'`);
    });
    this.index = new Map(tokens.map((t, i) => [t, i]));
    if (this.index.size !== tokens.length) throw new InvalidInputError('tokenizer: a token is listed twice');
  }

  /**
   * A vocabulary of every token in `texts`, in order of first appearance (deterministic) — or, with `maxTokens`, of
   * the `maxTokens` most frequent ones (the special tokens included; ties in order of first appearance): a word-level
   * translator's output layer costs time in proportion to its vocabulary, and rare words then read as <unk>.
   */
  static fit(
    texts: Iterable<string>,
    mode: TokenMode,
    maxTokens?: number,
    normalization: Normalization = 'none',
  ): Tokenizer {
    const counts = new Map<string, number>();
    const split = splitter(mode);
    for (const t of texts)
      for (const tok of split(normalizeText(t, normalization))) counts.set(tok, (counts.get(tok) ?? 0) + 1);
    for (const s of SPECIAL_TOKENS) counts.delete(s);
    let kept = [...counts.keys()];
    if (maxTokens !== undefined) {
      if (!isWordMode(mode))
        throw new InvalidInputError(`tokenizer: a vocabulary size applies to words, not ${mode}`);
      if (!Number.isInteger(maxTokens) || maxTokens <= SPECIAL_TOKENS.length)
        throw new InvalidInputError(
          `tokenizer: a vocabulary size must be an integer above ${SPECIAL_TOKENS.length}, got ${maxTokens}`,
        );
      // A stable sort keeps first-appearance order among equal counts.
      kept = kept
        .map((tok, i) => ({ tok, i, n: counts.get(tok)! }))
        .sort((a, b) => b.n - a.n || a.i - b.i)
        .slice(0, maxTokens - SPECIAL_TOKENS.length)
        .sort((a, b) => a.i - b.i)
        .map((e) => e.tok);
    }
    return new Tokenizer(mode, [...SPECIAL_TOKENS, ...kept], normalization);
  }

  get size(): number {
    return this.tokens.length;
  }

  /** The tokens of a text (no ids), normalised first. */
  split(text: string): string[] {
    return splitter(this.mode)(this.normalize(text));
  }

  /** A text in the form this tokenizer reads (its normalization). */
  normalize(text: string): string {
    return normalizeText(text, this.normalization);
  }

  /**
   * Ids of a text's tokens (no start/end). Unknown tokens: the word modes map them to <unk>; 'chars' and 'symbols'
   * throw, unless `unknown` is 'unk'.
   */
  encode(text: string, unknown: 'error' | 'unk' = isWordMode(this.mode) ? 'unk' : 'error'): Int32Array {
    const toks = this.split(text);
    const ids = new Int32Array(toks.length);
    toks.forEach((t, i) => {
      const id = this.index.get(t);
      if (id === undefined || id < SPECIAL_TOKENS.length) {
        if (unknown === 'unk') ids[i] = UNK;
        else throw new InvalidInputError(`unknown ${this.mode === 'chars' ? 'character' : 'symbol'} '${t}'`);
      } else ids[i] = id;
    });
    return ids;
  }

  /**
   * The distinct tokens of a text this tokenizer does not know (what `encode(text, 'unk')` reads as <unk>), as the
   * text writes them: a 'wordpunct' token's joiners are this tokenizer's marks, not the text's.
   */
  unknownTokens(text: string): string[] {
    const unknown = new Set<string>();
    for (const t of this.split(text)) {
      const id = this.index.get(t);
      if (id === undefined || id < SPECIAL_TOKENS.length) unknown.add(t.replaceAll(JOINER, ''));
    }
    return [...unknown];
  }

  /** The tokens of ids, stopping at <end> and leaving out <pad> and <start>. */
  decodeTokens(ids: ArrayLike<number>): string[] {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === END) break;
      if (id === PAD || id === START) continue;
      out.push(this.tokens[id] ?? '<unk>');
    }
    return out;
  }

  /** Tokens back to text: characters joined; words and symbols space-separated, but not on a joiner's side. */
  join(tokens: readonly string[]): string {
    if (this.mode === 'chars') return tokens.join('');
    const text = tokens.join(' ');
    return this.mode === 'wordpunct' ? text.replace(JOINED, '') : text;
  }

  decode(ids: ArrayLike<number>): string {
    return this.join(this.decodeTokens(ids));
  }
}

/** A joiner with the space on its side (what joining removes). */
const JOINED = new RegExp(` ?${JOINER} ?`, 'g');
/** A run of word characters, or a run of anything else but whitespace (NLTK's \w+|[^\w\s]+, in Unicode). */
const WORD_OR_PUNCT = /[\p{L}\p{M}\p{N}_]+|[^\p{L}\p{M}\p{N}_\s]+/gu;
/** Whether a run is a word (tested on its first code point: a letter outside the BMP is two UTF-16 units). */
const WORD_RUN = /^[\p{L}\p{M}\p{N}_]/u;

/**
 * 'wordpunct' tokens of a text. Within a whitespace-separated chunk the runs alternate between words and
 * punctuation, so a punctuation run is joined to whatever comes before it and after it in its chunk.
 */
function wordPunct(text: string): string[] {
  const out: string[] = [];
  for (const chunk of text.split(/\s+/)) {
    const runs = chunk.replaceAll(JOINER, '').match(WORD_OR_PUNCT) ?? [];
    runs.forEach((run, i) =>
      out.push(WORD_RUN.test(run) ? run : (i > 0 ? JOINER : '') + run + (i + 1 < runs.length ? JOINER : '')),
    );
  }
  return out;
}

function splitter(mode: TokenMode): (text: string) => string[] {
  if (mode === 'chars') return (t) => [...t];
  if (mode === 'wordpunct') return wordPunct;
  return (t) => {
    const s = t.trim();
    return s === '' ? [] : s.split(/\s+/);
  };
}
