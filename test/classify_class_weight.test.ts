/**
 * `recur classify train --class-weight`: class names with ',' or '=' (which the CLASS=WEIGHT pairs cannot spell)
 * are given as a JSON object or @FILE of one; ambiguous pairs and duplicate names are refused (exit 2).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { classWeightFlag } from '../src/cli/classify_command.js';
import { classWeightsFor } from '../src/classify/model.js';
import { runCli } from './cli_helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'recur-class-weight-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The message of the InvalidArgumentError classWeightFlag throws for `v`. */
function refusal(v: string): string {
  try {
    classWeightFlag(v);
  } catch (e) {
    assert.ok(e instanceof InvalidArgumentError, `'${v}': ${(e as Error).message}`);
    return e.message;
  }
  assert.fail(`'${v}' was accepted`);
}

describe('--class-weight', () => {
  it('takes a JSON object, so class names may hold "," and "="', () => {
    assert.deepEqual(classWeightFlag('{"x,y": 2, "p=q": 0.5, " sp ace": 3}'), {
      'x,y': 2,
      'p=q': 0.5,
      ' sp ace': 3,
    });
    const w = classWeightsFor(classWeightFlag('{"x,y": 2, "p=q": 0.5}'), ['p=q', 'plain', 'x,y'], []);
    assert.deepEqual([...w!], [0.5, 1, 2]);
    // The pairs and 'balanced' are read as before.
    assert.deepEqual(classWeightFlag('ham=1, spam=3'), { ham: 1, spam: 3 });
    assert.equal(classWeightFlag(' balanced '), 'balanced');
  });

  it('takes @FILE, a JSON file of one object', () => {
    const file = join(dir, 'weights.json');
    writeFileSync(file, '{\n  "a,b": 4,\n  "c": 1\n}\n');
    assert.deepEqual(classWeightFlag(`@${file}`), { 'a,b': 4, c: 1 });
    assert.match(
      refusal(`@${join(dir, 'missing.json')}`),
      /missing\.json: no such file or directory; expected a JSON file holding an object of weights/,
    );
    writeFileSync(file, '{"a": 1,}');
    assert.match(refusal(`@${file}`), /weights\.json: not valid JSON at line 1, column 9/);
    // A BOM (Notepad, PowerShell) is no part of the JSON; UTF-16 is named as such.
    writeFileSync(file, '\uFEFF{"a": 2}');
    assert.deepEqual(classWeightFlag(`@${file}`), { a: 2 });
    writeFileSync(file, Buffer.from('\uFEFF{"a": 2}', 'utf16le'));
    assert.match(refusal(`@${file}`), /^--class-weight @.*weights\.json: .*weights\.json is UTF-16LE text/);
  });

  it('refuses ambiguous or wrong input with a message that names the JSON form', () => {
    assert.match(refusal('p=q=3'), /pair 'p=q=3' has more than one '='.*JSON object/);
    assert.match(refusal('x,y=2'), /bad pair 'x': a class name with ',' goes in a JSON object/);
    assert.match(refusal('{"a": 1, "a": 2}'), /names class "a" twice/);
    assert.match(refusal('{"a": "1"}'), /the weight of class "a" must be a positive number, got "1"/);
    assert.match(refusal('{"a": 0}'), /must be a positive number, got 0/);
    assert.match(refusal('{}'), /expected a JSON object of weights by class name with at least one class/);
    assert.match(refusal('{"a": 1'), /not valid JSON at line 1, column 8/);
    assert.match(refusal('@'), /needs a file name/);
  });

  it('trains on classes named with "," and "=", and a resume compares the JSON spelling', () => {
    const csv = join(dir, 'odd.csv');
    const rows = ['text,label'];
    for (let i = 0; i < 60; i++)
      rows.push(
        ['good film,"x,y"', 'bad film,p=q', 'some film,plain'][i % 3].replace('film', `film ${i % 7}`),
      );
    writeFileSync(csv, rows.join('\n') + '\n');
    const out = join(dir, 'odd');
    const quick = ['--epochs', '1', '--threads', '1', '--units', '4', '--embedding-dim', '4', '-q'];
    const spec = '{"x,y": 2, "p=q": 0.5}';
    let r = runCli(['classify', 'train', csv, '--out', out, '--class-weight', spec, ...quick]);
    assert.equal(r.code, 0, r.stderr);
    r = runCli(['classify', 'train', csv, '--out', out, '--class-weight', spec, '--resume', '-q']);
    assert.equal(r.code, 0, r.stderr);
    r = runCli(['classify', 'train', csv, '--out', out, '--class-weight', '{"x,y": 3}', '--resume', '-q']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /the checkpoint's run uses \{"x,y":2,"p=q":0.5\}/);
  });
});
