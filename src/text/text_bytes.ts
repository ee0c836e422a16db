/**
 * Text from bytes as recur reads training text, the same in Node and the browser (the page's opened and dropped
 * files): UTF-8 only, with errors naming the file and the byte and line of the problem for binary or mis-encoded
 * bytes; a BOM stripped and line ends made LF (CRLF and a lone CR: unixLineEnds).
 */

/** A text file that cannot be used: missing, a directory, empty, binary or not UTF-8. The message names the file. */
export class TextFileError extends Error {}

/**
 * `head` (a file's first bytes) holds UTF-16 text — Windows' "Unicode" text, as Excel's "Unicode Text" and older
 * Notepad save it: a UTF-16 BOM, or Latin text with every other byte NUL. Null otherwise.
 */
export function utf16Encoding(head: Uint8Array): 'UTF-16LE' | 'UTF-16BE' | null {
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return 'UTF-16LE';
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return 'UTF-16BE';
  // Without a BOM: Latin text, each character a letter and a NUL (little-endian) or a NUL and a letter (big-endian).
  const n = Math.min(head.length, 64) & ~1;
  if (n < 4) return null;
  let little = true;
  let big = true;
  for (let i = 0; i < n; i += 2) {
    if (head[i] === 0 || head[i + 1] !== 0) little = false;
    if (head[i] !== 0 || head[i + 1] === 0) big = false;
  }
  return little ? 'UTF-16LE' : big ? 'UTF-16BE' : null;
}

/** A file that is UTF-16 text: named as such, with the way to UTF-8 (recur reads UTF-8 only). */
function utf16Error(path: string, encoding: string): TextFileError {
  return new TextFileError(
    `${path} is ${encoding} text (Windows "Unicode" text), not UTF-8; save it as UTF-8 ` +
      `(or convert it: iconv -f ${encoding} -t UTF-8 ${path} > converted.txt)`,
  );
}

/** A NUL byte at `offset`; `head`, the file's first bytes when at hand, tells UTF-16 text from binary data. */
export function binaryError(path: string, offset: number, head?: Uint8Array): TextFileError {
  const utf16 = head ? utf16Encoding(head) : null;
  if (utf16) return utf16Error(path, utf16);
  return new TextFileError(`${path} looks binary (a NUL byte at offset ${offset}); give a UTF-8 text file`);
}

export function utf8Error(path: string, bytes: Uint8Array): TextFileError {
  const utf16 = utf16Encoding(bytes);
  if (utf16) return utf16Error(path, utf16);
  const bad = firstInvalidUtf8(bytes);
  let line = 1;
  for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
  return new TextFileError(
    `${path} is not valid UTF-8 (byte 0x${bytes[bad].toString(16)} at offset ${bad}, line ${line}); convert it to UTF-8 first`,
  );
}

/**
 * Bytes read from elsewhere (stdin: `name` 'stdin') as readTextFile reads a file: a NUL byte or invalid UTF-8 is a
 * TextFileError naming `name`, the byte and its line; a BOM is stripped and line ends become LF (unixLineEnds). No
 * bytes: ''.
 */
export function decodeText(bytes: Uint8Array, name: string): string {
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw binaryError(name, nul, bytes);
  return unixLineEnds(decodeUtf8(name, bytes));
}

/**
 * A file's bytes as text: strict UTF-8 (a TextFileError naming the file, the first bad byte, its offset and line) with
 * a leading BOM dropped. Line ends are left as they are, for readers that parse them (CSV).
 */
export function decodeUtf8(path: string, bytes: Uint8Array): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw utf8Error(path, bytes);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Line ends as LF: CRLF (Windows) and a lone CR (old Mac OS) each become one LF, as Python's universal newlines read
 * them, so that a text's line ends are the same character whatever wrote it (a CR is never a vocabulary character).
 */
export function unixLineEnds(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
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
