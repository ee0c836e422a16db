/** Character vocabulary: sorted unique characters (Unicode code points) ↔ indices, as the Keras recipe builds it. */
export class Vocabulary {
  readonly chars: readonly string[];
  private readonly index = new Map<string, number>();

  constructor(chars: Iterable<string>) {
    this.chars = [...new Set(chars)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.chars.forEach((c, i) => this.index.set(c, i));
    if (this.chars.length === 0) throw new Error('a vocabulary needs at least one character');
  }

  /** The vocabulary of a text: every distinct character, sorted. */
  static fromText(text: string): Vocabulary {
    return new Vocabulary(Array.from(text));
  }

  get size(): number {
    return this.chars.length;
  }

  has(c: string): boolean {
    return this.index.has(c);
  }

  indexOf(c: string): number {
    const i = this.index.get(c);
    if (i === undefined) throw new Error(`character ${JSON.stringify(c)} is not in the vocabulary`);
    return i;
  }

  /**
   * Indices of a text. Characters outside the vocabulary are an error that names them and their position, unless
   * `onUnknown` is 'skip'.
   */
  encode(text: string, onUnknown: 'error' | 'skip' = 'error'): Int32Array {
    const cps = Array.from(text);
    const out = new Int32Array(cps.length);
    let n = 0;
    for (let p = 0; p < cps.length; p++) {
      const i = this.index.get(cps[p]);
      if (i === undefined) {
        if (onUnknown === 'skip') continue;
        const unknown = [...new Set(cps.filter((c) => !this.index.has(c)))].slice(0, 10);
        throw new Error(
          `text has characters outside the model's vocabulary: ${unknown.map((c) => JSON.stringify(c)).join(', ')} ` +
            `(first at character ${p})`,
        );
      }
      out[n++] = i;
    }
    return n === out.length ? out : out.slice(0, n);
  }

  decode(indices: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < indices.length; i++) s += this.chars[indices[i]];
    return s;
  }

  toJSON(): string[] {
    return [...this.chars];
  }

  static fromJSON(chars: unknown): Vocabulary {
    if (!Array.isArray(chars) || !chars.every((c) => typeof c === 'string')) {
      throw new Error('vocabulary must be an array of characters');
    }
    return new Vocabulary(chars as string[]);
  }
}
