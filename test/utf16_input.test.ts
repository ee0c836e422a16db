/**
 * UTF-16 text (Windows' "Unicode" text: Excel's "Unicode Text", older Notepad) is the most common non-UTF-8 text a
 * user hands recur. Every reader names it as UTF-16 and says how to convert it, where it said "looks binary (a NUL
 * byte at offset 1)" or "not valid UTF-8 (byte 0xff at offset 0)".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeText, TextFileError, utf16Encoding } from '../src/text/text_bytes.js';
import { runCli } from './cli_helpers.js';

/** `text` in UTF-16, little- or big-endian, with or without its BOM. */
function utf16(text: string, big: boolean, bom: boolean): Buffer {
  const le = Buffer.from((bom ? '\ufeff' : '') + text, 'utf16le');
  if (big) for (let i = 0; i + 1 < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1], le[i]];
  return le;
}

describe('UTF-16 text', () => {
  it('is told from UTF-8 and from binary data by its BOM or by its NUL after (or before) every Latin letter', () => {
    assert.equal(utf16Encoding(utf16('date,value\n', false, true)), 'UTF-16LE');
    assert.equal(utf16Encoding(utf16('date,value\n', true, true)), 'UTF-16BE');
    assert.equal(utf16Encoding(utf16('date,value\n', false, false)), 'UTF-16LE');
    assert.equal(utf16Encoding(utf16('date,value\n', true, false)), 'UTF-16BE');
    assert.equal(utf16Encoding(Buffer.from('date,value\n', 'utf8')), null);
    assert.equal(utf16Encoding(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 0])), null, 'a PNG header');
    assert.equal(utf16Encoding(Buffer.from([0, 0, 0, 0, 0, 0])), null, 'NULs only');
    assert.equal(utf16Encoding(Buffer.from([0x61, 0])), null, 'too short to tell');
  });

  it('read from stdin (decodeText, as predict commands read it) is named too', () => {
    assert.throws(
      () => decodeText(utf16('1,2,3\n', false, true), 'stdin'),
      (e: Error) =>
        e instanceof TextFileError && /^stdin is UTF-16LE text .*iconv -f UTF-16LE/.test(e.message),
    );
  });

  describe('every command that reads text names it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-utf16-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = (name: string, text: string, big = false, bom = true): string => {
      const p = join(dir, name);
      writeFileSync(p, utf16(text, big, bom));
      return p;
    };
    const refused = (args: string[], path: string, encoding: string): void => {
      const r = runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const name = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.match(r.stderr, new RegExp(`${name} is ${encoding} text .*not UTF-8; save it as UTF-8`));
      assert.doesNotMatch(r.stderr, /looks binary|not valid UTF-8|\n\s+at /);
    };
    const book = 'the whale and the sea and the ship\n'.repeat(40);
    const csv = 'month,value\n' + Array.from({ length: 40 }, (_, i) => `2020-${i},${i}`).join('\n');

    it('recur train (with and without a BOM, both byte orders)', () => {
      refused(['train', file('a.txt', book), '--out', join(dir, 'a')], join(dir, 'a.txt'), 'UTF-16LE');
      refused(
        ['train', file('b.txt', book, true, false), '--out', join(dir, 'b')],
        join(dir, 'b.txt'),
        'UTF-16BE',
      );
      refused(
        ['train', file('c.txt', book, false, false), '--out', join(dir, 'c')],
        join(dir, 'c.txt'),
        'UTF-16LE',
      );
    });

    it('recur forecast, recur classify train and recur seq2seq train', () => {
      refused(['forecast', file('s.csv', csv)], join(dir, 's.csv'), 'UTF-16LE');
      refused(['forecast', file('t.csv', csv, false, false)], join(dir, 't.csv'), 'UTF-16LE');
      const reviews = 'text,label\n' + 'good film,pos\nbad film,neg\n'.repeat(20);
      refused(
        ['classify', 'train', file('r.csv', reviews), '--out', join(dir, 'r')],
        join(dir, 'r.csv'),
        'UTF-16LE',
      );
      const pairs = 'hello\tbonjour\n'.repeat(20);
      refused(
        ['seq2seq', 'train', file('p.tsv', pairs), '--out', join(dir, 'p')],
        join(dir, 'p.tsv'),
        'UTF-16LE',
      );
    });
  });
});
