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
    return new Vocabulary(new Set(text));
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
    return this.encodeInto(new Int32Array(text.length), text, onUnknown) as Int32Array;
  }

  /** Indices in the smallest array type that holds them (1 byte per character for up to 256 characters). */
  encodeCompact(text: string): Uint8Array | Uint16Array | Int32Array {
    const n = text.length;
    const out =
      this.size <= 256 ? new Uint8Array(n) : this.size <= 65536 ? new Uint16Array(n) : new Int32Array(n);
    return this.encodeInto(out, text, 'error');
  }

  private encodeInto<T extends Uint8Array | Uint16Array | Int32Array>(
    out: T,
    text: string,
    onUnknown: 'error' | 'skip',
  ): T {
    // One pass over the code points, no intermediate arrays: a 100 MB text costs only its index array.
    let n = 0;
    let p = 0;
    for (const c of text) {
      const i = this.index.get(c);
      if (i === undefined) {
        if (onUnknown === 'skip') {
          p++;
          continue;
        }
        const unknown = new Set<string>();
        for (const x of text) {
          if (!this.index.has(x)) unknown.add(x);
          if (unknown.size === 10) break;
        }
        throw new Error(
          `text has characters outside the model's vocabulary: ${[...unknown].map((x) => JSON.stringify(x)).join(', ')} ` +
            `(first at character ${p})`,
        );
      }
      out[n++] = i;
      p++;
    }
    return out.subarray(0, n) as T;
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
