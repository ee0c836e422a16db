/**
 * Seeded fuzzing of the Keras loaders: hundreds of damaged variants of Keras files built in the test — bytes
 * flipped, cut or inserted in .h5 and .keras files (and in the model.weights.h5 inside a valid .keras zip, and in
 * weights-only files given to loadKerasWeights), and values of their model configs and metadata.json replaced or
 * deleted. Each
 * either loads (a flipped weight byte is still a model; its predictions must then be finite) or fails with an
 * InvalidInputError naming the file — never a TypeError or a crash — and the HDF5 library keeps working after
 * every failure.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import { readH5, writeH5 } from '../src/keras/h5.js';
import { loadKerasModel, loadKerasWeights } from '../src/keras/load.js';
import { kerasCompileConfig } from '../src/keras/training_config.js';
import { createOptimizer } from '../src/models/optimizers.js';
import { fixtures, predictAll, type Fixture } from './keras_fixtures.js';

const SEED = 20260301;
const BYTE_MUTATIONS = 120;
const CONFIG_MUTATIONS = 160;
const INNER_MUTATIONS = 60;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function mutateBytes(b: Uint8Array, rng: Random): { name: string; bytes: Uint8Array } {
  const out = Uint8Array.from(b);
  switch (rng.int(4)) {
    case 0:
      return { name: 'truncated', bytes: out.subarray(0, rng.int(out.length)) };
    case 1: {
      const n = 1 + rng.int(16);
      for (let k = 0; k < n; k++) out[rng.int(out.length)] = rng.int(256);
      return { name: `${n} bytes flipped`, bytes: out };
    }
    case 2: {
      // A run of bytes zeroed: a wiped block (superblock, B-tree node, heap or data).
      const at = rng.int(out.length);
      out.fill(0, at, at + 1 + rng.int(512));
      return { name: `zeroed at ${at}`, bytes: out };
    }
    default: {
      const at = rng.int(out.length);
      const ins = new Uint8Array(1 + rng.int(64)).map(() => rng.int(256));
      const r = new Uint8Array(out.length + ins.length);
      r.set(out.subarray(0, at));
      r.set(ins, at);
      r.set(out.subarray(at), at + ins.length);
      return { name: `${ins.length} bytes inserted at ${at}`, bytes: r };
    }
  }
}

function mutateJson(doc: Json, rng: Random): string {
  const paths: (string | number)[][] = [];
  const collect = (v: Json, p: (string | number)[]): void => {
    paths.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => collect(x, [...p, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) collect(x, [...p, k]);
  };
  collect(doc, []);
  const text = JSON.stringify(doc);
  if (rng.next() < 0.1) return text.slice(0, rng.int(text.length));
  const path = paths[1 + rng.int(paths.length - 1)];
  const parent = path.slice(0, -1).reduce<Json>((o, k) => (o as Record<string, Json>)[k], doc) as Record<
    string,
    Json
  >;
  const key = path[path.length - 1];
  if (rng.next() < 0.3 && !Array.isArray(parent)) delete parent[key];
  else {
    const values: Json[] = [null, -1, 0, 1e9, 'x', [], {}, true, 2.5, 'hard_sigmoid', 'LSTM', ['a', 0, 0]];
    parent[key] = values[rng.int(values.length)];
  }
  return JSON.stringify(doc);
}

/** Loads, and checks the outcome is a model with finite predictions or a clean InvalidInputError. */
async function outcome(bytes: Uint8Array, f: Fixture, what: string): Promise<'loaded' | 'refused'> {
  let model;
  try {
    ({ model } = await loadKerasModel(bytes, 'fuzz.file'));
  } catch (e) {
    assert.ok(e instanceof InvalidInputError, `${what}: ${(e as Error).name}: ${(e as Error).message}`);
    assert.match(e.message, /fuzz\.file/, `${what}: the error does not name the file: ${e.message}`);
    return 'refused';
  }
  // A config edit may legitimately change the model (another activation, more units…); it must still run or refuse.
  try {
    for (const y of predictAll(model, f.inputs))
      assert.ok(y.data.every(Number.isFinite), `${what}: non-finite output`);
  } catch (e) {
    assert.ok(!(e instanceof TypeError), `${what}: ${(e as Error).message}`);
  }
  return 'loaded';
}

describe('Keras loader fuzz (seeded)', () => {
  let all: Fixture[] = [];
  before(async () => {
    all = await fixtures();
  });

  it(`${BYTE_MUTATIONS} damaged .h5 and .keras files load or are refused cleanly`, async () => {
    const rng = new Random(SEED);
    const counts = { loaded: 0, refused: 0 };
    for (let i = 0; i < BYTE_MUTATIONS; i++) {
      const f = all[rng.int(all.length)];
      const m = mutateBytes(f.bytes, rng);
      if (process.env.FUZZ_DEBUG) process.stderr.write(`#${i} ${f.name}: ${m.name}\n`);
      counts[await outcome(m.bytes, f, `#${i} ${f.name}: ${m.name}`)]++;
    }
    assert.ok(counts.refused > 0, JSON.stringify(counts));
    // The HDF5 library still works after every failure.
    const f = all[0];
    const { model } = await loadKerasModel(f.bytes, f.name);
    assert.deepEqual(predictAll(model, f.inputs)[0].data, predictAll(f.reference, f.inputs)[0].data);
  });

  it(`${CONFIG_MUTATIONS} damaged model configs (model_config, config.json) load or are refused cleanly`, async () => {
    const rng = new Random(SEED + 1);
    const counts = { loaded: 0, refused: 0 };
    for (let i = 0; i < CONFIG_MUTATIONS; i++) {
      const f = all[rng.int(all.length)];
      let bytes: Uint8Array;
      if (f.bytes[0] === 0x50) {
        const files = unzipSync(f.bytes);
        const doc = JSON.parse(new TextDecoder().decode(files['config.json'])) as Json;
        files['config.json'] = strToU8(mutateJson(doc, rng));
        bytes = zipSync(files);
      } else {
        const root = await readH5(f.bytes, f.name);
        root.attrs.model_config = mutateJson(JSON.parse(root.attrs.model_config as string) as Json, rng);
        bytes = await writeH5(root);
      }
      if (process.env.FUZZ_DEBUG) process.stderr.write(`config #${i} ${f.name}\n`);
      counts[await outcome(bytes, f, `#${i} ${f.name}`)]++;
    }
    assert.ok(counts.refused > 0 && counts.loaded > 0, JSON.stringify(counts));
  });
});

describe('Keras loader fuzz, inside the archive and the weights-only path (seeded)', () => {
  let all: Fixture[] = [];
  before(async () => {
    all = await fixtures();
  });
  const archives = (): Fixture[] => all.filter((f) => f.bytes[0] === 0x50);

  it(`${INNER_MUTATIONS} .keras files with a damaged model.weights.h5 or metadata.json in a valid zip`, async () => {
    const rng = new Random(SEED + 2);
    const counts = { loaded: 0, refused: 0 };
    for (let i = 0; i < INNER_MUTATIONS; i++) {
      const f = archives()[rng.int(archives().length)];
      const files: Record<string, Uint8Array> = unzipSync(f.bytes);
      let what: string;
      if (rng.next() < 0.7) {
        const m = mutateBytes(files['model.weights.h5'], rng);
        files['model.weights.h5'] = m.bytes;
        what = `model.weights.h5 ${m.name}`;
      } else {
        const doc = JSON.parse(new TextDecoder().decode(files['metadata.json'])) as Json;
        files['metadata.json'] = strToU8(mutateJson(doc, rng));
        what = 'metadata.json';
      }
      // A valid zip around the damage: the loaders behind the zip reader see it.
      counts[await outcome(zipSync(files), f, `#${i} ${f.name}: ${what}`)]++;
    }
    assert.ok(counts.refused > 0 && counts.loaded > 0, JSON.stringify(counts));
  });

  it(`${INNER_MUTATIONS} damaged weights-only files applied with loadKerasWeights: applied or refused cleanly`, async () => {
    const rng = new Random(SEED + 3);
    const legacy = all.filter((f) => f.bytes[0] !== 0x50);
    const counts = { loaded: 0, refused: 0 };
    for (let i = 0; i < INNER_MUTATIONS; i++) {
      const f = legacy[rng.int(legacy.length)];
      const m = mutateBytes(f.bytes, rng);
      const { model } = await loadKerasModel(f.bytes, f.name);
      try {
        await loadKerasWeights(model, m.bytes, 'fuzz.file');
        counts.loaded++;
      } catch (e) {
        const what = `#${i} ${f.name}: ${m.name}`;
        assert.ok(e instanceof InvalidInputError, `${what}: ${(e as Error).name}: ${(e as Error).message}`);
        assert.match(e.message, /fuzz\.file/, `${what}: the error does not name the file: ${e.message}`);
        counts.refused++;
      }
    }
    assert.ok(counts.refused > 0, JSON.stringify(counts));
  });
});

describe('fuzzing the compile settings of Keras files (kerasCompileConfig, used by recur train --from)', () => {
  it('300 damaged training_config / compile_config documents give notes, never an exception or a bad value', () => {
    const rng = new Random(SEED + 2);
    const docs: Json[] = [
      {
        optimizer_config: { class_name: 'RMSprop', config: { lr: 0.01, rho: 0.9, epsilon: 1e-7, decay: 0 } },
        loss: 'categorical_crossentropy',
        metrics: ['accuracy'],
      },
      {
        optimizer_config: {
          class_name: 'Adam',
          config: { name: 'Adam', learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, amsgrad: false },
        },
        loss: { class_name: 'CategoricalCrossentropy', config: { from_logits: false } },
      },
      {
        optimizer: {
          module: 'keras.optimizers',
          class_name: 'SGD',
          config: { learning_rate: 0.1, momentum: 0.9, nesterov: true, clipnorm: 1, global_clipnorm: null },
        },
        loss: 'sparse_categorical_crossentropy',
      },
    ];
    const versions = ['2.0.3', '2.2.4-tf', '3.8.0', 'unknown'];
    let withNotes = 0;
    for (let i = 0; i < 300; i++) {
      const text = mutateJson(structuredClone(docs[rng.int(docs.length)]), rng);
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        // A truncated document: the loader hands on null, as loadKerasModel does.
      }
      const c = kerasCompileConfig(parsed, versions[rng.int(versions.length)], 'fuzz.h5');
      if (c === null) continue;
      if (c.notes.length > 0) withNotes++;
      assert.ok(c.learningRate === null || (Number.isFinite(c.learningRate) && c.learningRate > 0), text);
      for (const [k, v] of Object.entries(c.optimizerArgs))
        assert.ok(typeof v === 'boolean' || (Number.isFinite(v) && v >= 0), `${k} = ${v} from ${text}`);
      assert.ok(
        c.notes.every((n) => n.startsWith('fuzz.h5: ')),
        text,
      );
      // What it gives always makes an optimizer recur can run.
      if (c.optimizer)
        createOptimizer(c.optimizer, { ...c.optimizerArgs, learningRate: c.learningRate ?? 0.01 });
    }
    assert.ok(withNotes > 20, `${withNotes} documents gave notes`);
  });
});
