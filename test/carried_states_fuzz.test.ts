/**
 * Seeded fuzzing of a checkpoint's carried states (the char-rnn recipe's streams, src/node/carried_states.ts): random
 * mutations of the states file's bytes and of the reference model.json keeps to it. Every mutated pair either loads
 * the very states that were saved, or fails with an InvalidInputError naming the states file or the model.json field —
 * never a raw TypeError, never other states.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import { Tensor } from '../src/core/tensor.js';
import type { CarriedStates } from '../src/models/sequential.js';
import {
  loadCarriedStates,
  prepareCarriedStates,
  type CarriedStatesRef,
} from '../src/node/carried_states.js';
import { buildTextModel, compileTextModel, textSettings } from '../src/text/recipes.js';
import { jsonPaths, type Json } from './json_paths.js';

const MUTATIONS = 240;
const settings = textSettings('char-rnn', { units: 6, layers: 2, batchSize: 4, seqLength: 5, seed: 3 });
const model = buildTextModel(settings, 9);
model.build();
compileTextModel(model, settings);

/** A random replacement for a JSON node: odd types, nearby numbers, other shapes, other names. */
function oddValue(rng: Random, old: Json): Json | undefined {
  const choices: (Json | undefined)[] = [
    undefined,
    null,
    true,
    'x',
    '../model.json',
    'states-00000000.bin',
    -1,
    0,
    1.5,
    1e9,
    [],
    {},
    [4, 6],
    [[4, 6]],
    { shapes: [[4, 6]] },
    'f'.repeat(64),
  ];
  if (typeof old === 'number') choices.push(old + 1, old - 1, old * 2);
  if (typeof old === 'string') choices.push(old.slice(1), old.toUpperCase(), old.replace(/[0-9a-f]$/, '0'));
  return choices[rng.int(choices.length)];
}

describe('carried states of a checkpoint: seeded fuzz of the file and its reference', () => {
  let dir = '';
  let states: CarriedStates;
  let ref: CarriedStatesRef;
  let bytes: Buffer;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-states-fuzz-'));
    const rng = new Random(4);
    states = model.layers.map((l) =>
      l.stateNames.length === 0
        ? null
        : l.stateNames.map(
            () =>
              new Tensor(
                Float32Array.from({ length: 4 * 6 }, () => rng.next() - 0.5),
                [4, 6],
              ),
          ),
    );
    const prepared = prepareCarriedStates(dir, states);
    prepared.write.commit();
    ref = prepared.ref;
    bytes = readFileSync(join(dir, ref.file));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const MODEL_JSON = '/ckpt/model.json';
  function outcome(raw: unknown): 'same' | 'refused' {
    try {
      const got = loadCarriedStates(dir, raw, model, MODEL_JSON);
      assert.deepEqual(
        got.map((l) => l?.map((t) => [t.shape, t.data])),
        states.map((l) => l?.map((t) => [t.shape, t.data])),
        'loaded states must be the saved ones',
      );
      return 'same';
    } catch (e) {
      assert.ok(e instanceof InvalidInputError, `not a recur error: ${(e as Error).stack}`);
      assert.ok(
        e.message.includes(join(dir, 'states-')) ||
          e.message.includes(`${MODEL_JSON}: state.epochProgress.carriedStates`),
        `names the file or the field: ${e.message}`,
      );
      return 'refused';
    }
  }

  it('the unchanged pair loads the saved states', () => {
    assert.equal(outcome(structuredClone(ref)), 'same');
  });

  it(`${MUTATIONS} mutations of the reference: the saved states, or a clear refusal`, () => {
    const rng = new Random(21);
    let refused = 0;
    for (let i = 0; i < MUTATIONS; i++) {
      const raw = structuredClone(ref) as unknown as Json;
      const nodes = jsonPaths(raw);
      const path = nodes[rng.int(nodes.length)];
      let mutated: Json;
      if (path.length === 0) mutated = oddValue(rng, raw) ?? null;
      else {
        const parent = path.slice(0, -1).reduce<Json>((v, k) => (v as Record<string, Json>)[k], raw) as
          Json[] | Record<string, Json>;
        const key = path[path.length - 1];
        const value = oddValue(rng, (parent as Record<string, Json>)[key]);
        if (value === undefined) {
          if (Array.isArray(parent)) parent.splice(key as number, 1);
          else delete parent[key];
        } else (parent as Record<string, Json>)[key] = value;
        mutated = raw;
      }
      if (outcome(mutated) === 'refused') refused++;
    }
    assert.ok(refused > MUTATIONS / 2, `most mutations change something that must be refused (${refused})`);
  });

  it(`${MUTATIONS} mutations of the file: the saved states, or a clear refusal`, () => {
    const rng = new Random(22);
    const path = join(dir, ref.file);
    let refused = 0;
    try {
      for (let i = 0; i < MUTATIONS; i++) {
        let b = Buffer.from(bytes);
        const kind = rng.int(4);
        if (kind === 0) b[rng.int(b.length)] ^= 1 << rng.int(8);
        else if (kind === 1) b = b.subarray(0, rng.int(b.length));
        else if (kind === 2) b = Buffer.concat([b, Buffer.from([rng.int(256)])]);
        else b.writeFloatLE(Number.NaN, 4 * rng.int(b.length / 4));
        writeFileSync(path, b);
        if (outcome(structuredClone(ref)) === 'refused') refused++;
      }
    } finally {
      writeFileSync(path, bytes);
    }
    assert.equal(refused, MUTATIONS, 'every change of the bytes is caught');
  });
});
