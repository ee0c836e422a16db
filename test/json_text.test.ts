/**
 * One-line JSON syntax errors with the right line and column (src/core/json_text.ts): the scan agrees with
 * JSON.parse on what is JSON, and says where and why a text is not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { jsonSyntaxError, parseJsonText } from '../src/core/json_text.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModelJson } from '../src/models/model_file.js';
import { parseEnsembleRecord } from '../src/models/seed_ensemble.js';
import { loadForecaster } from '../src/node/forecaster_io.js';
import { jointNgramHeader } from '../src/seq2seq/joint_ngram.js';

function parses(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

describe('JSON syntax errors', () => {
  it('ensemble.json, joint-ngram.json and forecaster.json name the line and column, as model.json does', () => {
    // Their loaders used JSON.parse's own message: "at position 12", or on Node 20 often no position at all.
    const text = '{\n "format": x\n}\n';
    const want = 'not valid JSON at line 2, column 12 (unexpected "x" where a value was expected)';
    assert.throws(
      () => parseEnsembleRecord(text, 'e/ensemble.json', 'recur-classifier-ensemble'),
      (e: Error) => e.message === `e/ensemble.json: ${want}`,
    );
    assert.throws(
      () => jointNgramHeader(text, 'j.json'),
      (e: Error) => e.message === `j.json: ${want}`,
    );
    const dir = mkdtempSync(join(tmpdir(), 'recur-json-text-'));
    try {
      writeFileSync(join(dir, 'forecaster.json'), text);
      assert.throws(
        () => loadForecaster(dir),
        (e: Error) => e.message === `${join(dir, 'forecaster.json')}: ${want}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("QA's model.json: line 3, column 7, on one line", () => {
    const text = '{\n "a": 1,\n "b": x,\n "c": 3\n}\n';
    assert.throws(
      () => parseModelJson(text, 'bj/model.json'),
      (e: Error) =>
        e.message ===
        'bj/model.json: not valid JSON at line 3, column 7 (unexpected "x" where a value was expected)',
    );
  });

  it('names the place and the problem, escaping what the text holds', () => {
    const cases: [string, string][] = [
      ['', 'line 1, column 1 (the text ends where a value was expected)'],
      ['{"a": 1', "line 1, column 8 (the text ends where ',' or '}' was expected)"],
      ['[1 2]', "line 1, column 4 (unexpected \"2\" where ',' or ']' was expected)"],
      ['{"a":1}\n\nx', 'line 3, column 1 (unexpected "x" where the end of the text was expected)'],
      ['"a\nb"', 'line 1, column 3 ("\\n" inside a string (control characters must be escaped there))'],
      ["{'a': 1}", 'line 1, column 2 (unexpected "\'" where a property name in double quotes was expected)'],
      ['["é", 😀]', 'line 1, column 7 (unexpected "😀" where a value was expected)'],
      ['PK\u0003\u0004', 'line 1, column 1 (unexpected "P" where a value was expected)'],
      ['{"a": "\\x"}', 'line 1, column 9 (unexpected "x" where an escape'],
    ];
    for (const [text, want] of cases) {
      assert.throws(
        () => parseJsonText(text, 'f.json'),
        (e: Error) => e.message.startsWith(`f.json: not valid JSON at ${want}`) && !e.message.includes('\n'),
        JSON.stringify(text),
      );
    }
  });

  it('agrees with JSON.parse on what is JSON (random texts), and takes deep nesting', () => {
    const pieces = [
      '{',
      '}',
      '[',
      ']',
      '"',
      ':',
      ',',
      ' ',
      '\n',
      '1',
      '0',
      '-',
      '.',
      'e',
      '+',
      'true',
      'null',
    ];
    pieces.push('\\', 'u', 'a', '\u0001', 'é', '"a"', '1.5', '\\n', '\\u00e9', 'fals', '2E-3');
    const rng = new Random(7);
    for (let k = 0; k < 50_000; k++) {
      let s = '';
      for (let j = rng.int(12); j > 0; j--) s += pieces[rng.int(pieces.length)];
      assert.equal(jsonSyntaxError(s) === null, parses(s), JSON.stringify(s));
    }
    const value = { a: [1, -2.5e-7, { b: 'x\n"é' }], c: null, d: true, e: [] };
    assert.equal(jsonSyntaxError(JSON.stringify(value, null, 2)), null);
    assert.equal(jsonSyntaxError('['.repeat(100_000))?.offset, 100_000);
  });
});
