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
    return out.subarray(0, this.encodeAt(out, 0, text, onUnknown)) as T;
  }

  /**
   * Writes the indices of `text` into `out` from `at` on and returns where they end — one piece of a longer text at a
   * time (TextCorpus.fromChunks). `position` is the piece's first character in the whole text, for error messages.
   */
  encodeAt(
    out: Uint8Array | Uint16Array | Int32Array,
    at: number,
    text: string,
    onUnknown: 'error' | 'skip' = 'error',
    position = 0,
  ): number {
    // One pass over the UTF-16 units with a table for one-unit characters (a Map lookup per character made a 100 MB
    // text take ≈ 10 s); surrogate pairs are looked up as the one character they are.
    const table = this.unitTable();
    const length = text.length;
    let n = at;
    let p = position;
    for (let k = 0; k < length; k++, p++) {
      const u = text.charCodeAt(k);
      let i = table[u];
      if (u >= 0xd800 && u <= 0xdbff && k + 1 < length && isLowSurrogate(text.charCodeAt(k + 1))) {
        i = this.index.get(text.slice(k, k + 2)) ?? -1;
        k++;
      }
      if (i >= 0) out[n++] = i;
      else if (onUnknown === 'error') throw this.unknownError(text, p);
    }
    return n;
  }

  private unknownError(text: string, at: number): Error {
    const unknown = new Set<string>();
    for (const x of text) {
      if (!this.index.has(x)) unknown.add(x);
      if (unknown.size === 10) break;
    }
    return new Error(
      `text has characters outside the model's vocabulary: ${[...unknown].map((x) => JSON.stringify(x)).join(', ')} ` +
        `(first at character ${at})`,
    );
  }

  private units: Int32Array | null = null;

  /** UTF-16 unit → index of the one-unit character it is, or −1 (built on first use). */
  private unitTable(): Int32Array {
    if (!this.units) {
      this.units = new Int32Array(65536).fill(-1);
      this.chars.forEach((c, i) => {
        if (c.length === 1) this.units![c.charCodeAt(0)] = i;
      });
    }
    return this.units;
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

export function isHighSurrogate(u: number): boolean {
  return u >= 0xd800 && u <= 0xdbff;
}

export function isLowSurrogate(u: number): boolean {
  return u >= 0xdc00 && u <= 0xdfff;
}
