/** Input damage shared by the seeded fuzz tests (cli_fuzz, classify_fuzz, the forecast CSV readers'). */
import type { Random } from '../src/core/random.js';

/** Damaged variants of a byte string: random bytes, truncations, byte flips, Latin-1 re-encoding, inserted NULs. */
export function mutateBytes(original: Uint8Array, rng: Random): { name: string; bytes: Uint8Array } {
  const kind = rng.int(6);
  const b = Uint8Array.from(original);
  switch (kind) {
    case 0: {
      const r = new Uint8Array(1 + rng.int(4000));
      for (let i = 0; i < r.length; i++) r[i] = rng.int(256);
      return { name: 'random bytes', bytes: r };
    }
    case 1:
      return { name: 'truncated', bytes: b.subarray(0, rng.int(b.length)) };
    case 2: {
      for (let k = 0; k < 1 + rng.int(8); k++) b[rng.int(b.length)] = rng.int(256);
      return { name: 'bytes flipped', bytes: b };
    }
    case 3: {
      // UTF-8 text that went through a Latin-1 encoder: é becomes one byte 0xe9.
      const text = new TextDecoder().decode(b).replace(/e/g, 'é');
      return { name: 'latin-1', bytes: Uint8Array.from(Buffer.from(text, 'latin1')) };
    }
    case 4: {
      b[rng.int(b.length)] = 0;
      return { name: 'NUL inserted', bytes: b };
    }
    default:
      return { name: 'empty', bytes: new Uint8Array(0) };
  }
}

/** What the CSV fuzz tests write over a cell: empty, missing-value words, non-numbers, numbers and dates out of range. */
export const JUNK_CELLS = [
  '',
  'NA',
  'inf',
  '-',
  'x',
  '1e400',
  '2000-13',
  '"',
  ',',
  '0',
  '-5.5',
  '2001-02',
  '  ',
  // Not decimals (Number() would read them), and dates in another format than the files' own.
  '0x10',
  '0b11',
  '2001',
  '2001-02-03 04:00',
];

/** A copy of a CSV's lines with 1–3 cells (never the last line's) overwritten, each by one of `junk`. */
export function damageCells(lines: readonly string[], rng: Random, junk: readonly string[]): string[] {
  const out = [...lines];
  for (let m = 0; m < 1 + rng.int(3); m++) {
    const li = rng.int(out.length - 1);
    const cells = out[li].split(',');
    cells[rng.int(cells.length)] = junk[rng.int(junk.length)];
    out[li] = cells.join(',');
  }
  return out;
}
