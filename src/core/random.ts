/**
 * Seeded randomness (xoshiro128**, seeded through splitmix32). Every random choice in recur — initialisers,
 * shuffling, dropout masks, sampling — draws from one of these, so a fixed seed gives bit-identical results.
 * The state is four 32-bit words and can be saved and restored (for `--resume`).
 */
import { InvalidInputError, describeValue } from './errors.js';

export class Random {
  private s = new Uint32Array(4);
  private spareNormal: number | null = null;

  constructor(seed: number = (Math.random() * 2 ** 32) >>> 0) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * out[i] = next() < rate ? 0 : keep for i in [from, to): the same draws as that many next() calls, with the state
   * in locals (a dropout mask's loop: 1.5–2× faster than calling next(); the two state steps per draw, a serial
   * chain, are what is left).
   */
  fillMask(out: Float32Array, from: number, to: number, rate: number, keep: number): void {
    // Signed 32-bit locals hold the same bits as the Uint32Array words; >>> reads them unsigned where it matters.
    let s0 = this.s[0] | 0;
    let s1 = this.s[1] | 0;
    let s2 = this.s[2] | 0;
    let s3 = this.s[3] | 0;
    // next() < rate, scaled by 2^53 (exact) and compared in 32-bit integers: its high 27 bits first, then the low 26.
    const below = rate * 9007199254740992;
    const hiBelow = Math.floor(below / 67108864);
    const loBelow = below - hiBelow * 67108864;
    // next()'s two draws, unrolled (a loop over them measured 1.3× slower): the high 27 bits of the first, the low 26
    // of the second.
    for (let i = from; i < to; i++) {
      const x1 = Math.imul(s1, 5);
      const hi = Math.imul((x1 << 7) | (x1 >>> 25), 9) >>> 5;
      let t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const x2 = Math.imul(s1, 5);
      const lo = Math.imul((x2 << 7) | (x2 >>> 25), 9) >>> 6;
      t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = hi < hiBelow || (hi === hiBelow && lo < loBelow) ? 0 : keep;
    }
    this.s[0] = s0;
    this.s[1] = s1;
    this.s[2] = s2;
    this.s[3] = s3;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A child generator whose stream is independent of later draws from this one. */
  fork(): Random {
    return new Random(this.nextUint32());
  }

  getState(): number[] {
    return [...this.s];
  }

  setState(state: readonly number[]): void {
    if (state.length !== 4) throw new Error('Random.setState: expected 4 words');
    for (let i = 0; i < 4; i++) this.s[i] = state[i] >>> 0;
    this.spareNormal = null;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * A model's seed: an integer in [0, 2^32), as model files store it (model_file.ts refuses anything else on load, so a
 * model made with seed -1, 1.5 or 2^32 saved a file it could not read back). Returns it, or throws naming `where`.
 */
export function checkModelSeed(where: string, seed: unknown): number {
  if (typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff) return seed;
  throw new InvalidInputError(
    `${where}: 'seed' must be an integer from 0 to 4294967295, got ${describeValue(seed)}`,
  );
}
