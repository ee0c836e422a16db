/**
 * Tokenizers for text classification: character- or word-level, with lowercasing and a punctuation option, and a
 * vocabulary capped by size and by count. Id 0 is padding (an Embedding with maskZero masks it) and id 1 the
 * out-of-vocabulary token, so every text encodes, whatever it holds. The tokenizer is saved with the model (toJSON).
 */
import { InvalidInputError } from '../core/errors.js';

export type TokenLevel = 'word' | 'char';
/** 'split': punctuation marks are tokens of their own; 'strip': they are dropped; 'keep': left in words (word level). */
export type PunctuationMode = 'split' | 'strip' | 'keep';
/** Which tokens a text longer than the maximum loses: 'pre' its first ones (Keras's default), 'post' its last. */
export type Truncating = 'pre' | 'post';

export interface TokenizerOptions {
  level: TokenLevel;
  lowercase: boolean;
  punctuation: PunctuationMode;
  /** Largest vocabulary, padding and OOV included; null = no cap. */
  maxVocab: number | null;
  /** Tokens seen fewer times in the training texts become OOV. */
  minCount: number;
  /**
   * Unicode normalisation before tokenizing: 'NFC' reads a word typed composed or decomposed (é as U+00E9 or as
   * e + U+0301) as one token; absent or 'none' (tokenizers saved before it) reads text as it is.
   */
  normalization?: 'none' | 'NFC';
}

export const TOKENIZER_DEFAULTS: TokenizerOptions = {
  level: 'word',
  lowercase: true,
  punctuation: 'split',
  maxVocab: 20_000,
  minCount: 1,
  normalization: 'NFC',
};

export const PAD_ID = 0;
export const OOV_ID = 1;
export const OOV_TOKEN = '[UNK]';
const PAD_TOKEN = '';

/** What a tokenizer saves: its options and its tokens in id order (ids 0 and 1 are padding and OOV). */
export interface TokenizerJSON {
  options: TokenizerOptions;
  tokens: string[];
}

const WORD_SPLIT = /[\p{L}\p{M}\p{N}_]+(?:['’][\p{L}\p{M}\p{N}_]+)*|[^\s\p{L}\p{M}\p{N}_]/gu;
const WORD_STRIP = /[\p{L}\p{M}\p{N}_]+(?:['’][\p{L}\p{M}\p{N}_]+)*/gu;
const WORD_KEEP = /\S+/gu;
const PUNCTUATION = /[\p{P}\p{S}]/u;

/** The tokens of a text under these options (no vocabulary involved). */
export function tokenize(
  text: string,
  o: Pick<TokenizerOptions, 'level' | 'lowercase' | 'punctuation' | 'normalization'>,
): string[] {
  const n = o.normalization === 'NFC' ? text.normalize('NFC') : text;
  const t = o.lowercase ? n.toLowerCase() : n;
  if (o.level === 'char') {
    const chars = Array.from(t);
    return o.punctuation === 'strip' ? chars.filter((c) => !PUNCTUATION.test(c)) : chars;
  }
  const re = o.punctuation === 'split' ? WORD_SPLIT : o.punctuation === 'strip' ? WORD_STRIP : WORD_KEEP;
  return t.match(re) ?? [];
}

/** Refuses tokenizer options that cannot work (InvalidInputError naming the option). */
export function checkTokenizerOptions(o: TokenizerOptions): void {
  if (o.level !== 'word' && o.level !== 'char')
    throw new InvalidInputError(`tokenizer level must be word or char, got '${String(o.level)}'`);
  if (!['split', 'strip', 'keep'].includes(o.punctuation))
    throw new InvalidInputError(`punctuation must be split, strip or keep, got '${String(o.punctuation)}'`);
  if (o.maxVocab !== null && !(Number.isInteger(o.maxVocab) && o.maxVocab >= 3))
    throw new InvalidInputError(
      `maxVocab must be an integer ≥ 3 (padding, OOV and one token), got ${o.maxVocab}`,
    );
  if (o.normalization !== undefined && o.normalization !== 'none' && o.normalization !== 'NFC')
    throw new InvalidInputError(`normalization must be none or NFC, got '${String(o.normalization)}'`);
  if (!(Number.isInteger(o.minCount) && o.minCount >= 1))
    throw new InvalidInputError(`minCount must be a positive integer, got ${o.minCount}`);
}

export class Tokenizer {
  readonly options: TokenizerOptions;
  /** Tokens by id: 0 padding, 1 OOV, then the vocabulary by falling count. */
  readonly tokens: readonly string[];
  private readonly ids = new Map<string, number>();

  private constructor(options: TokenizerOptions, tokens: string[]) {
    checkTokenizerOptions(options);
    this.options = { ...options };
    this.tokens = tokens;
    tokens.forEach((t, i) => {
      if (i > OOV_ID) this.ids.set(t, i);
    });
  }

  /**
   * Learns the vocabulary of the training texts: the most frequent tokens (ties in code-unit order, so it is
   * deterministic), at least `minCount` occurrences, at most `maxVocab` ids in all.
   */
  static fit(texts: Iterable<string>, options: Partial<TokenizerOptions> = {}): Tokenizer {
    const o = { ...TOKENIZER_DEFAULTS, ...options };
    checkTokenizerOptions(o);
    const counts = new Map<string, number>();
    for (const text of texts) for (const t of tokenize(text, o)) counts.set(t, (counts.get(t) ?? 0) + 1);
    const ranked = [...counts]
      .filter(([, n]) => n >= o.minCount)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([t]) => t);
    const kept = o.maxVocab === null ? ranked : ranked.slice(0, o.maxVocab - 2);
    return new Tokenizer(o, [PAD_TOKEN, OOV_TOKEN, ...kept]);
  }

  static fromJSON(json: TokenizerJSON): Tokenizer {
    if (json.tokens.length < 2 || json.tokens[PAD_ID] !== PAD_TOKEN || json.tokens[OOV_ID] !== OOV_TOKEN)
      throw new InvalidInputError(
        "tokenizer tokens must start with the padding ('') and OOV ('[UNK]') entries",
      );
    if (new Set(json.tokens).size !== json.tokens.length)
      throw new InvalidInputError('tokenizer tokens must be distinct');
    return new Tokenizer(json.options, [...json.tokens]);
  }

  toJSON(): TokenizerJSON {
    return { options: { ...this.options }, tokens: [...this.tokens] };
  }

  /** Ids in all, padding and OOV included: the Embedding's inputDim. */
  get size(): number {
    return this.tokens.length;
  }

  tokenize(text: string): string[] {
    return tokenize(text, this.options);
  }

  /**
   * The ids of a text, at most `maxLength` of them: with 'pre' truncation the last ones (Keras pad_sequences' default:
   * an email's body and sign-off rather than its routing headers), with 'post' the first ones. Unknown tokens are
   * OOV_ID; never PAD_ID, so the mask covers exactly the padding.
   */
  encode(text: string, maxLength = Infinity, truncating: Truncating = 'pre'): Int32Array {
    const toks = this.tokenize(text);
    const n = Math.min(toks.length, maxLength);
    const start = truncating === 'pre' ? toks.length - n : 0;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.ids.get(toks[start + i]) ?? OOV_ID;
    return out;
  }

  /** The share of a text's tokens that are out of vocabulary (0 for a text without tokens). */
  oovRate(ids: Int32Array): number {
    if (ids.length === 0) return 0;
    let n = 0;
    for (const id of ids) if (id === OOV_ID) n++;
    return n / ids.length;
  }
}
