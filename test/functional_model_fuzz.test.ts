/**
 * Seeded fuzzing of a functional model's files (a seq2seq model's model.json and weights, which loadFunctionalModel
 * reads with its own topology schema): values of modelTopology and weightsManifest replaced by other types or numbers
 * or deleted — in the file as recur writes it and without its sha256 record, as tfjs writes them, so that edits reach
 * the parser — and the weights file's bytes damaged. Each either loads a model that translates or is refused with an
 * InvalidInputError naming model.json — never a raw TypeError. The functional parser checked only that the manifest
 * was an array: a weights path that was not a string was a TypeError from path.join (exit 1); and loadFunctionalModel
 * refused every other damage with a plain Error, which only the seq2seq loader turned into bad input.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import { loadFunctionalModel } from '../src/node/model_io.js';
import { loadSeq2SeqDir } from '../src/node/seq2seq_dir.js';
import { runCli } from './cli_helpers.js';
import { mutateBytes } from './fuzz_helpers.js';
import { jsonPaths, type Json } from './json_paths.js';

const SEED = 20261208;
const MUTATIONS = 120;
const root = mkdtempSync(join(tmpdir(), 'recur-functional-fuzz-'));
after(() => rmSync(root, { recursive: true, force: true }));
const model = join(root, 'seq2seq');

type Obj = Record<string, Json>;

before(() => {
  const rng = new Random(SEED);
  const en = ['cat', 'dog', 'bird', 'fish'];
  const fr = ['chat', 'chien', 'oiseau', 'poisson'];
  const pairs: string[] = [];
  for (let i = 0; i < 80; i++) {
    const [a, b] = [rng.int(4), rng.int(4)];
    pairs.push(`the ${en[a]} and the ${en[b]}.\tle ${fr[a]} et le ${fr[b]}.`);
  }
  writeFileSync(join(root, 'pairs.tsv'), pairs.join('\n') + '\n');
  const r = runCli([
    'seq2seq',
    'train',
    join(root, 'pairs.tsv'),
    '--out',
    model,
    '--units',
    '8',
    '--embedding-dim',
    '4',
    '--batch-size',
    '8',
    '--epochs',
    '1',
    '--threads',
    '1',
    '-q',
  ]);
  assert.equal(r.code, 0, r.stderr);
});

/** model.json with one value of its topology or manifest replaced (or deleted); `bare` drops recur's sha256 first. */
function damagedJson(text: string, rng: Random, bare: boolean): { text: string; what: string } {
  const json = JSON.parse(text) as Obj;
  if (bare) delete ((json.userDefinedMetadata as Obj).recur as Obj).sha256;
  const paths = [
    ...jsonPaths(json.modelTopology, ['modelTopology']),
    ...jsonPaths(json.weightsManifest, ['weightsManifest']),
  ];
  const path = paths[rng.int(paths.length)];
  const parent = path.slice(0, -1).reduce<Json>((v, k) => (v as Obj)[k], json) as Obj | Json[];
  const key = path[path.length - 1];
  const values: Json[] = [null, -1, 0, 1, 2, 3.5, 1e12, 'x', '', [], [[]], {}, true];
  const value = values[rng.int(values.length)];
  if (rng.next() < 0.2 && !Array.isArray(parent)) delete (parent as Obj)[key];
  else (parent as Record<string | number, Json>)[key] = value;
  return {
    text: JSON.stringify(json),
    what: `${bare ? 'bare ' : ''}${path.join('.')} = ${JSON.stringify(value)}`,
  };
}

describe('functional model files (seeded fuzz)', () => {
  it(`${MUTATIONS} damaged model.json and weights files translate or are refused naming model.json`, () => {
    const rng = new Random(SEED);
    const copy = join(root, 'damaged');
    const json = readFileSync(join(model, 'model.json'), 'utf8');
    const weightsName = readdirSync(model).find((f) => f.endsWith('.bin'))!;
    const weights = readFileSync(join(model, weightsName));
    let loaded = 0;
    for (let c = 0; c < MUTATIONS; c++) {
      rmSync(copy, { recursive: true, force: true });
      cpSync(model, copy, { recursive: true });
      let what: string;
      if (c % 4 === 3) {
        const m = mutateBytes(weights, rng);
        writeFileSync(join(copy, weightsName), m.bytes);
        what = `weights ${m.name}`;
      } else {
        const m = damagedJson(json, rng, c % 2 === 1);
        writeFileSync(join(copy, 'model.json'), m.text);
        what = m.what;
      }
      // The library's own loader (not only the seq2seq loader above it) refuses with the documented class.
      try {
        loadFunctionalModel(copy);
      } catch (e) {
        assert.ok(
          e instanceof InvalidInputError,
          `case ${c}: ${what}: loadFunctionalModel: ${(e as Error).stack}`,
        );
      }
      try {
        const { app } = loadSeq2SeqDir(copy);
        const [p] = app.predict(['the cat and the dog.']);
        assert.equal(typeof p.output, 'string', `case ${c}: ${what}`);
        loaded++;
      } catch (e) {
        assert.ok(e instanceof InvalidInputError, `case ${c}: ${what}: ${(e as Error).stack}`);
        assert.ok(e.message.includes(copy), `case ${c}: ${what}: names no file: ${e.message}`);
      }
    }
    assert.ok(loaded < MUTATIONS, 'every damaged file loaded: the mutations are too weak');
  });

  it('regression: a weights path that is not a file name is refused naming the field; the CLI exits 2', () => {
    const json = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')) as Obj;
    ((json.weightsManifest as Obj[])[0].paths as Json[])[0] = [];
    const copy = join(root, 'bad-path');
    rmSync(copy, { recursive: true, force: true });
    cpSync(model, copy, { recursive: true });
    writeFileSync(join(copy, 'model.json'), JSON.stringify(json));
    assert.throws(
      () => loadSeq2SeqDir(copy),
      (e: Error) =>
        e instanceof InvalidInputError &&
        e.message.includes(`${join(copy, 'model.json')}: weightsManifest[0].paths[0]: `),
    );
    const r = runCli(['seq2seq', 'predict', copy, 'the cat and the dog.']);
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /^\s+at |TypeError/m);
    assert.match(r.stderr, /^recur: .*model\.json: weightsManifest\[0\]\.paths\[0\]: .+\n$/);
  });
});
