/**
 * Tokenizers for sequence-to-sequence data: a text becomes a list of tokens — its characters ('chars'), its
 * whitespace-separated words ('words', unknown words become <unk>), or symbols from a fixed set ('symbols', e.g.
 * ARPAbet phonemes; an unknown symbol is an error) — and each token an id. Ids 0–3 are reserved in every vocabulary:
 * <pad> (0, so Embedding(maskZero) masks padding), <start> (the decoder's first input), <end> (the decoder's last
 * output) and <unk>.
 */
import { InvalidInputError } from '../core/errors.js';

export type TokenMode = 'chars' | 'words' | 'symbols';
export const TOKEN_MODES: readonly TokenMode[] = ['chars', 'words', 'symbols'];

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
  ) {
    if (!TOKEN_MODES.includes(mode)) throw new InvalidInputError(`tokenizer: unknown mode '${String(mode)}'`);
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
  static fit(texts: Iterable<string>, mode: TokenMode, maxTokens?: number): Tokenizer {
    const counts = new Map<string, number>();
    const split = splitter(mode);
    for (const t of texts) for (const tok of split(t)) counts.set(tok, (counts.get(tok) ?? 0) + 1);
    for (const s of SPECIAL_TOKENS) counts.delete(s);
    let kept = [...counts.keys()];
    if (maxTokens !== undefined) {
      if (mode !== 'words')
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
    return new Tokenizer(mode, [...SPECIAL_TOKENS, ...kept]);
  }

  get size(): number {
    return this.tokens.length;
  }

  /** The tokens of a text (no ids). */
  split(text: string): string[] {
    return splitter(this.mode)(text);
  }

  /**
   * Ids of a text's tokens (no start/end). Unknown tokens: 'words' maps them to <unk>; 'chars' and 'symbols' throw,
   * unless `unknown` is 'unk'.
   */
  encode(text: string, unknown: 'error' | 'unk' = this.mode === 'words' ? 'unk' : 'error'): Int32Array {
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

  /** The distinct tokens of a text this tokenizer does not know (what `encode(text, 'unk')` reads as <unk>). */
  unknownTokens(text: string): string[] {
    const unknown = new Set<string>();
    for (const t of this.split(text)) {
      const id = this.index.get(t);
      if (id === undefined || id < SPECIAL_TOKENS.length) unknown.add(t);
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

  /** Tokens back to text: characters joined, words and symbols space-separated. */
  join(tokens: readonly string[]): string {
    return tokens.join(this.mode === 'chars' ? '' : ' ');
  }

  decode(ids: ArrayLike<number>): string {
    return this.join(this.decodeTokens(ids));
  }
}

function splitter(mode: TokenMode): (text: string) => string[] {
  if (mode === 'chars') return (t) => [...t];
  return (t) => {
    const s = t.trim();
    return s === '' ? [] : s.split(/\s+/);
  };
}
