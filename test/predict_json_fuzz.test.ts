/**
 * Seeded fuzzing of `recur predict`'s JSON inputs (src/keras/predict_json.ts): from a valid input, seeded damage —
 * numbers replaced by strings, null, NaN text, huge, negative and fractional numbers, token ids past the vocabulary,
 * rows dropped or made ragged, sequences emptied, arrays nested deeper or shallower, the whole input of another type.
 * Each either predicts finite outputs or is refused with an InvalidInputError naming the source and the input — never
 * a raw error from a layer (a token id past the vocabulary, or a sequence of no steps, was one: exit 1).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import { predictJson } from '../src/keras/predict_json.js';
import * as L from '../src/layers/index.js';
import { Embedding } from '../src/layers/embedding.js';
import { input, model as functional } from '../src/models/functional.js';
import type { SymbolicTensor } from '../src/layers/symbolic.js';
import { Sequential } from '../src/models/sequential.js';
import { saveModel } from '../src/node/model_io.js';
import { runCli } from './cli_helpers.js';
import { jsonPaths, type Json } from './json_paths.js';

const SEED = 20261206;
const MUTATIONS = 250;

function tokenModel(): Sequential {
  const m = new Sequential({ seed: 1 });
  m.add(new L.Embedding({ inputDim: 5, outputDim: 3, inputShape: [null] }));
  m.add(new L.LSTM({ units: 3 }));
  m.add(new L.Dense({ units: 2 }));
  m.build();
  return m;
}
function floatModel(): Sequential {
  const m = new Sequential({ seed: 1 });
  m.add(new L.GRU({ units: 3, inputShape: [null, 2] }));
  m.add(new L.Dense({ units: 2 }));
  m.build();
  return m;
}
/** Token ids of an int32 input into an Embedding of 4 rows, beside a float input. */
function functionalModel(): ReturnType<typeof functional> {
  const ids = input({ shape: [null], dtype: 'int32', name: 'ids' });
  const embedded = new Embedding({ inputDim: 4, outputDim: 2, name: 'emb' }).apply(ids) as SymbolicTensor;
  const out = new L.Dense({ units: 1, name: 'out' }).apply(
    new L.LSTM({ units: 2, name: 'rnn' }).apply(embedded) as SymbolicTensor,
  ) as SymbolicTensor;
  return functional({ inputs: [ids], outputs: out, seed: 1, name: 'f' });
}

const ODD: Json[] = [null, 'NaN', '1', '', true, -1, 0.5, 1e9, 1e300, 2 ** 31, 7, 5, 4, [], [[]], {}];

/** 1–3 damages of a copy of `valid`: one node replaced, a row dropped or duplicated, or the whole input replaced. */
function mutate(valid: Json, rng: Random): { json: Json; what: string } {
  let json = JSON.parse(JSON.stringify(valid)) as Json;
  const what: string[] = [];
  for (let m = 0; m < 1 + rng.int(3); m++) {
    const paths = jsonPaths(json);
    const path = paths[rng.int(paths.length)];
    const value = ODD[rng.int(ODD.length)];
    if (path.length === 0) {
      json = rng.next() < 0.5 ? value : [json];
      what.push(`(input) = ${JSON.stringify(json).slice(0, 40)}`);
      continue;
    }
    const parent = path.slice(0, -1).reduce<Json>((v, k) => (v as Record<string | number, Json>)[k], json) as
      Json[] | Record<string, Json>;
    const at = path[path.length - 1];
    if (!Array.isArray(parent) || typeof at !== 'number') {
      (parent as Record<string, Json>)[at] = value;
      what.push(`${at} = ${JSON.stringify(value)}`);
      continue;
    }
    switch (rng.int(3)) {
      case 0:
        parent[at] = value;
        what.push(`[${path.join('][')}] = ${JSON.stringify(value)}`);
        break;
      case 1:
        parent.splice(at, 1);
        what.push(`[${path.join('][')}] dropped`);
        break;
      default:
        parent.splice(at, 0, JSON.parse(JSON.stringify(parent[at])) as Json);
        what.push(`[${path.join('][')}] repeated`);
    }
  }
  return { json, what: what.join('; ') };
}

describe('recur predict JSON inputs (seeded fuzz)', () => {
  const cases: [string, Sequential | ReturnType<typeof functional>, Json][] = [
    [
      'token ids',
      tokenModel(),
      [
        [1, 2, 3, 4],
        [0, 0, 1, 2],
      ],
    ],
    [
      'floats',
      floatModel(),
      [
        [
          [0.5, -1],
          [2, 0],
        ],
        [
          [1, 1],
          [0, 0],
        ],
      ],
    ],
    [
      'functional token ids',
      functionalModel(),
      {
        ids: [
          [1, 2, 3],
          [3, 2, 1],
        ],
      },
    ],
  ];
  for (const [name, m, valid] of cases) {
    it(`${name}: ${MUTATIONS} damaged inputs predict or are refused naming stdin and the input`, () => {
      const rng = new Random(SEED);
      assert.ok(Object.values(predictJson(m, valid, 'stdin')).length > 0);
      let refused = 0;
      for (let c = 0; c < MUTATIONS; c++) {
        const { json, what } = mutate(valid, rng);
        const where = `seed ${SEED} case ${c}: ${what}`;
        try {
          const out = predictJson(m, json, 'stdin');
          for (const v of Object.values(out))
            assert.ok(
              JSON.stringify(v)
                .match(/-?[\d.e+-]+/g)!
                .every((n) => Number.isFinite(Number(n))),
              where,
            );
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          assert.ok(e instanceof InvalidInputError, `${where}: ${(e as Error).stack}`);
          assert.match(e.message, /^stdin: /, where);
          refused++;
        }
      }
      assert.ok(refused > 0 && refused < MUTATIONS, `${name}: ${refused} of ${MUTATIONS} refused`);
    });
  }

  it('regressions: a token id past the vocabulary and a sequence of no steps are refused naming the input', () => {
    assert.throws(
      () => predictJson(tokenModel(), [[1, 2, 7]], 'stdin'),
      /^InvalidInputError: stdin: input 'embedding\w*': value 7 at index \[0, 2\]; expected a token id \(an integer ≥ 0, below the model's vocabulary of 5\)/,
    );
    assert.throws(
      () => predictJson(functionalModel(), { ids: [[4]] }, 'stdin'),
      /stdin: input 'ids': value 4 at index \[0, 0\]; .*vocabulary of 4/,
    );
    assert.throws(
      () => predictJson(tokenModel(), [[]], 'stdin'),
      /stdin: input 'embedding\w*': its sequences have no steps/,
    );
    assert.throws(() => predictJson(floatModel(), [[]], 'stdin'), InvalidInputError);
    // A value that is not a number is named with its index, as the others are (not as a flat position).
    assert.throws(
      () =>
        predictJson(
          tokenModel(),
          [
            [1, 2, 3],
            [1, '2', 3],
          ],
          'stdin',
        ),
      /stdin: input 'embedding\w*': value "2" at index \[1, 1\]; expected a finite number/,
    );
  });

  it('recur predict exits 2 naming stdin, with no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-predict-fuzz-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    saveModel(tokenModel(), join(dir, 'm'));
    for (const text of ['[[1, 2, 7]]', '[[]]']) {
      const r = runCli(['predict', join(dir, 'm')], { input: text });
      assert.equal(r.code, 2, `${text}: ${r.stderr}`);
      assert.match(r.stderr, /^recur: stdin: input /, text);
      assert.doesNotMatch(r.stderr, /\n\s+at /, text);
    }
    // No input at all: the message shows what this model takes, by its input's name (not a made-up one).
    const r = runCli(['predict', join(dir, 'm')], { input: '' });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^recur: stdin is empty; give the inputs as JSON nested arrays of these shapes: \{"embedding\w*": \[batch, (steps|\d+)\] \(token ids\)\}/,
    );
  });
});
