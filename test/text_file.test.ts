/**
 * Reading a training text in pieces (textFileChunks → TextCorpus.fromChunks), so a large corpus is never one string:
 * the pieces must make exactly the text readTextFile gives — BOM stripped, CRLF and lone CR made LF, characters never split
 * across blocks — and fail with the same error on the same damaged file; the corpus built from them must equal the
 * one built from the whole string. Seeded fuzzing over damaged files, and block sizes down to 1 byte. readTextCorpus
 * (the same reading on a worker thread) must give the same corpus, or the same error, as reading on this thread.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { readTextCorpus } from '../src/node/corpus_file.js';
import { readTextFile, TextFileError, textFileChunks } from '../src/node/text_file.js';
import { TextCorpus } from '../src/text/corpus.js';
import { Vocabulary } from '../src/text/vocabulary.js';
import { mutateBytes } from './fuzz_helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'recur-text-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function file(content: string | Uint8Array): string {
  const path = join(dir, `t${files++}.txt`);
  writeFileSync(path, content);
  return path;
}

/** The text or the error message of each reader. */
function outcome(read: () => string): { text?: string; error?: string } {
  try {
    return { text: read() };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const joined = (path: string, block: number): string => [...textFileChunks(path, block)()].join('');

const SAMPLE =
  '\uFEFFΣΊΣΥΦΟΣ said: "Ça va?"\r\nLine two — with 😀 and 𝄞,\r\n\r\nΟΔΥΣΣΕΥΣ\nend without newline 🚀';

describe('textFileChunks: the text of readTextFile, in pieces', () => {
  it('every block size from 1 byte up gives the same text: BOM, CRLF, 2–4-byte characters across blocks', () => {
    const path = file(SAMPLE);
    const whole = readTextFile(path);
    assert.ok(!whole.startsWith('\uFEFF') && !whole.includes('\r'));
    for (const block of [1, 2, 3, 4, 5, 7, 16, 64, 1 << 16])
      assert.equal(joined(path, block), whole, `block ${block}`);
  });

  it('pieces end at line ends, or at a space in a line longer than four blocks', () => {
    const path = file('ab cd\nefgh ijkl mnop qrst uvwx\nyz');
    const pieces = [...textFileChunks(path, 2)()];
    assert.equal(pieces.join(''), 'ab cd\nefgh ijkl mnop qrst uvwx\nyz');
    for (const p of pieces.slice(0, -1)) assert.ok(p.endsWith('\n') || p.endsWith(' '), JSON.stringify(p));
    assert.ok(
      pieces.some((p) => p.endsWith(' ')),
      'a long line was cut at a space',
    );
    // A long line without spaces is cut anyway, never between CR and LF.
    const crlf = file('x'.repeat(41) + '\r\n' + 'y'.repeat(3));
    assert.equal(joined(crlf, 5), 'x'.repeat(41) + '\n' + 'yyy');
  });

  it('a lone CR (old Mac OS) ends a line as CRLF does: LF in the text and the pieces, for every block size', () => {
    const text = 'one line\rtwo, CRLF\r\nthree\r\rfour\r';
    const path = file(text);
    const lf = 'one line\ntwo, CRLF\nthree\n\nfour\n';
    assert.equal(readTextFile(path), lf);
    for (let block = 1; block <= text.length + 1; block++)
      assert.equal(joined(path, block), lf, `block ${block}`);
    // Pieces end at its line ends as at LF's: a file of CR-ended lines is not read as one long line.
    const pieces = [...textFileChunks(file('ab\rcd\ref\r'), 4)()];
    assert.ok(pieces.length > 1, JSON.stringify(pieces));
    for (const p of pieces) assert.ok(p.endsWith('\n'), JSON.stringify(p));
  });

  it('each call reads the file again and yields the same pieces', () => {
    const chunks = textFileChunks(file(SAMPLE), 3);
    assert.deepEqual([...chunks()], [...chunks()]);
  });

  it('missing, directory and empty files are refused at once, with readTextFile’s messages', () => {
    for (const path of [join(dir, 'missing.txt'), dir, file('')]) {
      const a = outcome(() => readTextFile(path));
      assert.ok(a.error, path);
      assert.throws(() => textFileChunks(path), { message: a.error });
    }
  });

  it('a file holding only a BOM is empty to both readers, for any block size, and to readTextCorpus', async () => {
    const path = file('\uFEFF');
    const empty = { error: `${path} is empty` };
    assert.deepEqual(
      outcome(() => readTextFile(path)),
      empty,
    );
    for (const block of [1, 2, 3, 64])
      assert.deepEqual(
        outcome(() => joined(path, block)),
        empty,
        `block ${block}`,
      );
    await assert.rejects(
      readTextCorpus(path),
      (e) => e instanceof TextFileError && e.message === empty.error,
    );
  });

  it('seeded fuzz: damaged files give the same text or the same error (NUL offset, bad byte, line) as readTextFile', () => {
    const rng = new Random(20261203);
    const original = new TextEncoder().encode(SAMPLE.repeat(3));
    for (let k = 0; k < 200; k++) {
      const { name, bytes } = mutateBytes(original, rng);
      const path = file(bytes);
      const block = 1 + rng.int(40);
      const whole = outcome(() => readTextFile(path));
      const pieces = outcome(() => joined(path, block));
      assert.deepEqual(pieces, whole, `case ${k} (${name}, block ${block})`);
    }
  });
});

describe('TextCorpus.fromChunks', () => {
  it('equals fromText on the whole string: vocabulary (astral characters included), indices, lowercasing', () => {
    const text = readTextFile(file(SAMPLE));
    for (const lowercase of [true, false]) {
      const whole = TextCorpus.fromText(text, { lowercase });
      const pieces = [...textFileChunks(file(SAMPLE), 4)()];
      const chunked = TextCorpus.fromChunks(() => pieces, { lowercase });
      assert.deepEqual(chunked.vocabulary.chars, whole.vocabulary.chars);
      assert.deepEqual([...chunked.data], [...whole.data]);
      // Greek capital sigma lowercases to ς at a word's end and σ inside one, as String.prototype.toLowerCase does.
      if (lowercase) assert.ok(whole.vocabulary.has('ς') && whole.vocabulary.has('σ'));
      assert.ok(whole.vocabulary.has('😀') && whole.vocabulary.has('𝄞'));
    }
  });

  it("with a given vocabulary: an unknown character's error names its position in the whole text", () => {
    const vocabulary = new Vocabulary('abc\n');
    const c = TextCorpus.fromChunks(() => ['ab\n', 'ca\n'], { vocabulary });
    assert.deepEqual([...c.data], [1, 2, 0, 3, 1, 0]);
    assert.throws(
      () => TextCorpus.fromChunks(() => ['ab\n', 'cxa\n'], { vocabulary }),
      /outside the model's vocabulary: "x" \(first at character 4\)/,
    );
    // unknown: 'skip' leaves them out (recur evaluate --unknown skip), astral characters included.
    const skipped = TextCorpus.fromChunks(() => ['ab😀\n', 'cxa\n'], { vocabulary, unknown: 'skip' });
    assert.deepEqual([...skipped.data], [1, 2, 0, 3, 1, 0]);
  });

  it('one byte per character for up to 256 characters, two beyond', () => {
    assert.ok(TextCorpus.fromChunks(() => ['hello\n']).data instanceof Uint8Array);
    const wide = Array.from({ length: 300 }, (_, i) => String.fromCharCode(0x4e00 + i)).join('');
    assert.ok(TextCorpus.fromChunks(() => [wide], { lowercase: false }).data instanceof Uint16Array);
  });
});

/** The corpus (vocabulary, array type, indices) or the error (class and message) of a reading. */
async function corpusOutcome(read: () => TextCorpus | Promise<TextCorpus>): Promise<{
  chars?: readonly string[];
  type?: string;
  data?: number[];
  error?: string;
  textFileError?: boolean;
}> {
  try {
    const c = await read();
    return { chars: c.vocabulary.chars, type: c.data.constructor.name, data: [...c.data] };
  } catch (e) {
    return { error: (e as Error).message, textFileError: e instanceof TextFileError };
  }
}

describe('readTextCorpus: fromChunks(textFileChunks(…)) on a worker thread', () => {
  const here = (path: string, opts: Parameters<typeof readTextCorpus>[1] = {}, block?: number): TextCorpus =>
    TextCorpus.fromChunks(textFileChunks(path, block), opts);

  it('the same vocabulary and indices as on this thread, lowercased or not, for any block size', async () => {
    const path = file(SAMPLE.repeat(5));
    for (const lowercase of [true, false])
      for (const block of [3, 64, undefined]) {
        const want = await corpusOutcome(() => here(path, { lowercase }, block));
        assert.ok(want.data && want.data.length > 0);
        assert.deepEqual(await corpusOutcome(() => readTextCorpus(path, { lowercase }, block)), want);
      }
  });

  it('two bytes per character beyond 256 characters', async () => {
    const wide = Array.from({ length: 300 }, (_, i) => String.fromCharCode(0x4e00 + i)).join('') + '\n';
    const c = await readTextCorpus(file(wide), { lowercase: false });
    assert.ok(c.data instanceof Uint16Array);
    assert.deepEqual([...c.data], [...here(file(wide), { lowercase: false }).data]);
  });

  it("with a given vocabulary: that very object, an unknown character's error, or left out with unknown: 'skip'", async () => {
    const vocabulary = new Vocabulary('abc\n');
    const c = await readTextCorpus(file('ab\nca\n'), { vocabulary });
    assert.equal(c.vocabulary, vocabulary);
    assert.deepEqual([...c.data], [1, 2, 0, 3, 1, 0]);
    const unknown = file('ab\ncxa\n');
    await assert.rejects(readTextCorpus(unknown, { vocabulary }), (e: Error) => {
      assert.ok(!(e instanceof TextFileError));
      assert.match(e.message, /outside the model's vocabulary: "x" \(first at character 4\)/);
      return true;
    });
    const skipped = await readTextCorpus(file('ab😀\ncxa\n'), { vocabulary, unknown: 'skip' });
    assert.deepEqual([...skipped.data], [1, 2, 0, 3, 1, 0]);
  });

  it('missing, directory, empty, binary and non-UTF-8 files: the same TextFileError as on this thread', async () => {
    const cases = [
      join(dir, 'missing.txt'),
      dir,
      file(''),
      file('ab\u0000c'),
      file(Uint8Array.of(0x61, 0xff, 0x0a)),
    ];
    for (const path of cases) {
      const want = await corpusOutcome(() => here(path));
      assert.equal(want.textFileError, true, path);
      assert.deepEqual(await corpusOutcome(() => readTextCorpus(path)), want);
    }
  });

  it('seeded fuzz: damaged files give the same corpus or the same error as reading on this thread', async () => {
    const rng = new Random(20261204);
    const original = new TextEncoder().encode(SAMPLE.repeat(3));
    const seen = { corpus: 0, error: 0 };
    for (let k = 0; k < 24; k++) {
      const { name, bytes } = mutateBytes(original, rng);
      const path = file(bytes);
      const block = 1 + rng.int(40);
      const lowercase = rng.int(2) === 0;
      const want = await corpusOutcome(() => here(path, { lowercase }, block));
      assert.deepEqual(
        await corpusOutcome(() => readTextCorpus(path, { lowercase }, block)),
        want,
        `case ${k} (${name})`,
      );
      seen[want.error === undefined ? 'corpus' : 'error']++;
    }
    assert.ok(seen.corpus > 0 && seen.error > 0, JSON.stringify(seen));
  });

  it('TextCorpus.fromEncoded refuses an index outside the vocabulary', () => {
    const vocabulary = new Vocabulary('ab');
    assert.deepEqual([...TextCorpus.fromEncoded(vocabulary, Uint8Array.of(1, 0, 1)).data], [1, 0, 1]);
    assert.throws(
      () => TextCorpus.fromEncoded(vocabulary, Uint8Array.of(0, 2)),
      /index 2 at character 1 is outside the vocabulary of 2 characters/,
    );
    assert.throws(() => TextCorpus.fromEncoded(vocabulary, Int32Array.of(-1)), /index -1 at character 0/);
  });
});
