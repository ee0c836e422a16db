/**
 * Edge cases of the files `recur classify` reads that a user's own data hits: predict's --input as a plain text file,
 * numeric labels in multi-label JSON Lines, JSON
 * Lines fields named by --text-column / --label-column, a CSV quote never closed,
 * a .csv separated by semicolons,
 * columns sharing a name, rows with more or fewer fields than the header, a row whose quoted text holds line
 * breaks.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fewestForValidation, stratifiedSplit } from '../src/classify/dataset.js';
import { InvalidInputError } from '../src/core/errors.js';
import { loadJsonLines, loadLabelledTexts, loadTable, loadTextColumn } from '../src/node/classify_data.js';
import { runCli } from './cli_helpers.js';

describe('classify input files', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-classify-input-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('predict --input texts.txt: one text per line, the first included (no header), blank lines kept', () => {
    const p = join(dir, 'texts.txt');
    writeFileSync(p, 'apple pie\r\nbanana, split\n\ncherry tart\n');
    assert.deepEqual(loadTextColumn(p), ['apple pie', 'banana, split', '', 'cherry tart']);
    assert.throws(() => loadTextColumn(p, 'text'), InvalidInputError);
  });

  it('multi-label JSON Lines: numbers name labels as in single-label data (arrays of ids, or one id)', () => {
    const p = join(dir, 'ids.jsonl');
    writeFileSync(
      p,
      ['{"text": "a", "tags": [3, 7, 3]}', '{"text": "b", "tags": 7}', '{"text": "c", "tags": []}'].join(
        '\n',
      ),
    );
    const d = loadJsonLines(p, { labelColumn: 'tags', labelSeparator: '|' });
    assert.deepEqual(d.labelSets, [['3', '7'], ['7'], []]);
    assert.deepEqual(d.labels, ['3|7', '7', '']);
    writeFileSync(p, '{"text": "a", "tags": [3, null]}\n');
    assert.throws(
      () => loadJsonLines(p, { labelColumn: 'tags', labelSeparator: '|' }),
      /field 'tags'\[1\]: expected a non-empty label name \(a string or number\), got null/,
    );
  });

  it('JSON Lines: a --text-column / --label-column that is no field is refused naming the fields; case is ignored', () => {
    const p = join(dir, 'fields.jsonl');
    writeFileSync(p, '{"Body": "good film", "Label": "pos"}\n{"Body": "bad film", "Label": "neg"}\n');
    const d = loadLabelledTexts(p, { textColumn: 'body', labelColumn: 'label' });
    assert.deepEqual(d.texts, ['good film', 'bad film']);
    assert.deepEqual(loadTextColumn(p, 'BODY'), ['good film', 'bad film']);
    const refused = /line 1: field '1' \(--text-column\) is not there; the fields are 'Body', 'Label'/;
    assert.throws(() => loadLabelledTexts(p, { textColumn: '1', labelColumn: 'Label' }), refused);
    assert.throws(() => loadTextColumn(p, '1'), refused);
  });

  it('a label column of one-record classes (an id taken for the label) is named as the likely mistake', () => {
    const p = join(dir, 'ids.csv');
    const rows = ['id,text,label'];
    for (let i = 0; i < 60; i++)
      rows.push(`r${i},${i % 2 ? 'good' : 'bad'} film ${i},${i % 2 ? 'pos' : 'neg'}`);
    writeFileSync(p, rows.join('\n') + '\n');
    const r = runCli(['classify', 'train', p, '--label-column', 'id', '--out', join(dir, 'ids-run'), '-q']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      `recur: ${p}: 60 records are too few to split into training and validation sets (each of the 60 classes has ` +
        "fewer than 5, the fewest that give --validation-split 0.1 one); is the label column 'id' the one holding " +
        'the labels? Give --label-column\n',
    );
    // The fewest is stratifiedSplit's own: a class of that many gives validation one record, one fewer none.
    for (const fractions of [
      { validation: 0.1, test: 0.1 },
      { validation: 0.25, test: 0.25 },
      { validation: 0.3, test: 0 },
    ]) {
      const n = fewestForValidation(fractions);
      const size = (count: number): number =>
        stratifiedSplit(new Int32Array(count), 1, fractions, 1).validation.length;
      assert.equal(size(n), 1, JSON.stringify(fractions));
      assert.equal(size(n - 1), 0, JSON.stringify(fractions));
    }
  });

  it('a CSV quote never closed is named by the line its record starts on, not the end of the file', () => {
    const p = join(dir, 'stray.csv');
    const rows = Array.from({ length: 20 }, (_, i) => `text ${i},${i % 2 ? 'pos' : 'neg'}`);
    rows[4] = '"a stray quote,pos';
    writeFileSync(p, 'text,label\n' + rows.slice(0, 4).join('\n') + '\n\n' + rows.slice(4).join('\n') + '\n');
    assert.throws(
      () => loadTable(p),
      (e: Error) =>
        e instanceof InvalidInputError &&
        e.message.startsWith(`${p}: the record starting on line 7 opens a quoted field that is never closed`),
    );
  });

  it('a .csv whose header is separated by semicolons (or tabs) is read with them; commas in its texts stay', () => {
    const p = join(dir, 'semicolons.csv');
    writeFileSync(p, 'text;label\ngood, really good;pos\nbad;neg\n');
    const d = loadTable(p);
    assert.deepEqual(d.texts, ['good, really good', 'bad']);
    assert.deepEqual(d.labels, ['pos', 'neg']);
    const t = join(dir, 'tabs.csv');
    writeFileSync(t, 'text\tlabel\ngood, fine\tpos\nbad\tneg\n');
    assert.deepEqual(loadTable(t).labels, ['pos', 'neg']);
    const c = join(dir, 'commas.csv');
    writeFileSync(c, 'text,label\n"a; b",pos\nc,neg\n');
    assert.deepEqual(loadTable(c).texts, ['a; b', 'c']);
  });

  it('a text or label column whose name another column shares is refused unless given by number', () => {
    const p = join(dir, 'twice.csv');
    writeFileSync(p, 'id,text,text,label\n1,x,good film,pos\n2,y,bad film,neg\n');
    assert.throws(
      () => loadTable(p),
      /columns 2 and 3 are both named 'text'; give --text-column by number to say which/,
    );
    assert.throws(() => loadTable(p, { textColumn: 'text' }), /columns 2 and 3/);
    assert.deepEqual(loadTable(p, { textColumn: '3' }).texts, ['good film', 'bad film']);
    assert.throws(() => loadTextColumn(p), /columns 2 and 3 are both named 'text'/);
    assert.deepEqual(loadTextColumn(p, '3'), ['good film', 'bad film']);
    const thrice = join(dir, 'thrice.csv');
    writeFileSync(thrice, 'text,label,Text,TEXT\nx,pos,y,z\nx,neg,y,z\n');
    assert.throws(() => loadTable(thrice), /columns 1, 3 and 4 are all named 'text'; give --text-column/);
  });

  it('a row with more or fewer fields than the header is named by its line, with the header and how to quote', () => {
    const p = join(dir, 'uneven.csv');
    writeFileSync(p, 'sentence,label\ngood film,pos\nslow, dull film,neg\n');
    const more = `${p}: line 3: 3 fields where the header has 2 ('sentence', 'label'); a field holding ',' or a line break is quoted ("…", a quote inside written twice: "")`;
    assert.throws(() => loadTable(p), { name: 'InvalidInputError', message: more });
    const t = join(dir, 'uneven.tsv');
    writeFileSync(t, 'text\tlabel\nfine\tpos\n\nno label here\n');
    assert.throws(() => loadTextColumn(t), {
      message: `${t}: line 4: 1 field where the header has 2 ('text', 'label'); a field holding a tab or a line break is quoted ("…", a quote inside written twice: "")`,
    });
  });

  it('a row whose quoted text holds line breaks is named by the line it starts on, with LF or CRLF line ends', () => {
    for (const eol of ['\n', '\r\n']) {
      // Line 3's quoted text runs on to line 5 (a blank line inside it); line 6 is the row after it.
      const lines = ['text,label', 'good film,pos', '"a long', '', 'review",', 'dull,neg'];
      const p = join(dir, `multiline-${eol.length}.csv`);
      const load = (): unknown => {
        writeFileSync(p, lines.join(eol) + eol);
        return loadTable(p);
      };
      const at = JSON.stringify(eol);
      assert.throws(load, { message: `${p}: line 3, column 'label': empty label` }, at);
      lines[4] = 'review",neg,x';
      assert.throws(
        load,
        { message: new RegExp(`^${p.replace(/[.\\]/g, '\\$&')}: line 3: 3 fields where`) },
        at,
      );
      lines[4] = 'review",neg';
      lines[5] = 'dull,';
      assert.throws(load, { message: `${p}: line 6, column 'label': empty label` }, at);
      lines[5] = 'dull,neg';
      assert.deepEqual(
        (load() as { where: string[] }).where,
        [2, 3, 6].map((n) => `${p} line ${n}`),
        at,
      );
    }
  });
});
