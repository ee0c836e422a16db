/**
 * Seeded fuzzing of model files: hundreds of random mutations of model.json and of the weights file of a small saved
 * model. Every mutated file either loads with predictions identical to the original, or fails with a ModelFileError
 * naming the file and the field — never a raw TypeError, never a model that silently predicts something else.
 * A third round mutates a model.json without recur's sha256 record (as tfjs writes them): edits can then change the
 * model legitimately, but every failure must still be a ModelFileError naming the file and the field.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import * as L from '../src/layers/index.js';
import { ModelFileError } from '../src/models/serialization.js';
import { Sequential } from '../src/models/sequential.js';
import { loadModel, saveModel } from '../src/node/model_io.js';
import { randomIndices, randomTensor } from './helpers.js';

const MUTATIONS = 220;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = (string | number)[];

function tinyModel(): Sequential {
  const m = new Sequential({
    seed: 5,
    layers: [
      new L.GRU({ units: 3, inputShape: [4, 5], returnSequences: true, name: 'gru' }),
      new L.LSTM({ units: 2, name: 'lstm' }),
      new L.Dense({ units: 4, activation: 'softmax', name: 'out' }),
    ],
  });
  m.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy' });
  m.trainOnBatch(randomTensor([6, 4, 5], new Random(1)), randomIndices([6], 4, new Random(2)));
  return m;
}

/** Every node of a JSON value, the root included. */
function pathsOf(v: Json, path: Path = [], out: Path[] = []): Path[] {
  out.push(path);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...path, i], out));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) pathsOf(x, [...path, k], out);
  return out;
}

function get(root: Json, path: Path): Json {
  return path.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k], root);
}

/** Sets (or with `undefined`, deletes) the node at `path`; returns the new root. */
function set(root: Json, path: Path, value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  const parent = get(root, path.slice(0, -1)) as Record<string | number, Json> | Json[];
  const key = path[path.length - 1];
  if (Array.isArray(parent)) {
    if (value === undefined) parent.splice(key as number, 1);
    else parent[key as number] = value;
  } else if (value === undefined) delete parent[key as string];
  else parent[key as string] = value;
  return root;
}

const ODD_VALUES: Json[] = [
  'a',
  '',
  true,
  false,
  0,
  -1,
  -12.5,
  1e308,
  2 ** 53,
  1e9,
  null,
  [],
  {},
  [1, 2],
  { x: 1 },
];

interface Mutation {
  label: string;
  bytes: Uint8Array;
  /** Loading must fail, with a message matching this. */
  mustFail?: RegExp;
}

/** One random mutation of model.json's text. */
function mutateJson(text: string, rng: Random, outside: string): Mutation {
  const enc = new TextEncoder();
  const kind = rng.int(11);
  if (kind === 0) {
    const bytes = enc.encode(text);
    const at = rng.int(bytes.length);
    bytes[at] ^= 1 << rng.int(8);
    return { label: `byte flip at ${at}`, bytes };
  }
  if (kind === 1) {
    const at = rng.int(text.length);
    return { label: `truncated to ${at} chars`, bytes: enc.encode(text.slice(0, at)) };
  }
  let json = JSON.parse(text) as Json;
  const paths = pathsOf(json);
  const pick = (filter: (p: Path) => boolean): Path => {
    const ps = paths.filter(filter);
    return ps[rng.int(ps.length)];
  };
  const specs = (): Json[] => get(json, ['weightsManifest', 0, 'weights']) as Json[];
  let label: string;
  let mustFail: RegExp | undefined;
  switch (kind) {
    case 2:
    case 3: {
      const p = pick(() => true);
      const v = ODD_VALUES[rng.int(ODD_VALUES.length)];
      json = set(json, p, v);
      label = `${JSON.stringify(p)} = ${JSON.stringify(v)}`;
      break;
    }
    case 4: {
      const p = pick((q) => q.length > 0);
      json = set(json, p, undefined);
      label = `deleted ${JSON.stringify(p)}`;
      break;
    }
    case 5: {
      const p = pick((q) => typeof get(json, q) === 'number');
      const x = get(json, p) as number;
      const v = [x + 1, x - 1, x * 2, -x, x + 0.5][rng.int(5)];
      json = set(json, p, v);
      label = `${JSON.stringify(p)}: ${x} → ${v}`;
      break;
    }
    case 6: {
      const p = pick((q) => typeof get(json, q) === 'string');
      const s = get(json, p) as string;
      const v = [s + 'x', s.toUpperCase(), s.slice(1), `${s}/${s}`][rng.int(4)];
      json = set(json, p, v);
      label = `${JSON.stringify(p)}: ${JSON.stringify(s)} → ${JSON.stringify(v)}`;
      break;
    }
    case 7: {
      const ws = specs();
      const i = rng.int(ws.length);
      const j = rng.int(ws.length);
      const a = ws[i] as { name: string };
      const b = ws[j] as { name: string };
      if (rng.next() < 0.5) {
        [a.name, b.name] = [b.name, a.name];
        label = `swapped weight names ${i} and ${j}`;
      } else {
        a.name = `${a.name}_renamed`;
        label = `renamed weight ${i}`;
      }
      break;
    }
    case 8: {
      const ws = specs();
      const i = rng.int(ws.length + 1);
      if (rng.next() < 0.5) {
        ws.splice(i, 0, { name: `extra/w${i}`, shape: [1 + rng.int(4)], dtype: 'float32' });
        label = `extra weight at ${i}`;
      } else {
        ws.splice(i, 0, structuredClone(ws[rng.int(ws.length)]));
        label = `duplicated a weight at ${i}`;
      }
      break;
    }
    case 9: {
      const p = ['../outside.bin', '../../etc/hostname', '/etc/hostname', outside, 'sub/../../outside.bin'][
        rng.int(5)
      ];
      json = set(json, ['weightsManifest', 0, 'paths', 0], p);
      label = `weights path ${p}`;
      mustFail = /is outside the model directory/;
      break;
    }
    default: {
      const p = pick((q) => {
        const v = get(json, q);
        return Array.isArray(v) && v.length > 1;
      });
      const arr = get(json, p) as Json[];
      const i = rng.int(arr.length);
      const j = (i + 1 + rng.int(arr.length - 1)) % arr.length;
      [arr[i], arr[j]] = [arr[j], arr[i]];
      label = `swapped ${JSON.stringify(p)}[${i}] and [${j}]`;
    }
  }
  return { label, bytes: enc.encode(JSON.stringify(json, null, 1)), mustFail };
}

/** One random mutation of the weights file. */
function mutateWeights(original: Uint8Array, rng: Random): Mutation {
  const bytes = original.slice();
  const view = new DataView(bytes.buffer);
  const word = (): number => rng.int(bytes.length / 4) * 4;
  switch (rng.int(7)) {
    case 0: {
      const flips = 1 + rng.int(3);
      for (let k = 0; k < flips; k++) bytes[rng.int(bytes.length)] ^= 1 + rng.int(255);
      return { label: `${flips} byte flips`, bytes };
    }
    case 1: {
      const n = rng.int(bytes.length);
      return { label: `truncated to ${n} bytes`, bytes: bytes.slice(0, n) };
    }
    case 2: {
      const extra = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
      const out = new Uint8Array(bytes.length + extra.length);
      out.set(bytes);
      out.set(extra, bytes.length);
      return { label: `${extra.length} bytes appended`, bytes: out };
    }
    case 3: {
      const v = [NaN, Infinity, -Infinity, 0, 1e30, -1e-30][rng.int(6)];
      const at = word();
      view.setFloat32(at, v, true);
      return { label: `value at byte ${at} = ${v}`, bytes };
    }
    case 4: {
      const [a, b] = [word(), word()];
      const x = view.getUint32(a, true);
      view.setUint32(a, view.getUint32(b, true), true);
      view.setUint32(b, x, true);
      return { label: `swapped words at ${a} and ${b}`, bytes };
    }
    case 5: {
      const at = rng.int(bytes.length);
      const n = 1 + rng.int(64);
      bytes.fill(0, at, at + n);
      return { label: `zeroed ${n} bytes at ${at}`, bytes };
    }
    default:
      return { label: 'emptied', bytes: new Uint8Array(0) };
  }
}

describe('fuzzing model files (seeded)', () => {
  let root = '';
  let dir = '';
  let jsonPath = '';
  let weightsPath = '';
  let outside = '';
  let originalJson = '';
  let originalWeights: Uint8Array;
  let expected: Float32Array;
  const x = randomTensor([3, 4, 5], new Random(11));

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'recur-fuzz-'));
    dir = join(root, 'model');
    const model = tinyModel();
    expected = model.predict(x).data as Float32Array;
    saveModel(model, dir);
    jsonPath = join(dir, 'model.json');
    originalJson = readFileSync(jsonPath, 'utf8');
    const manifest = (JSON.parse(originalJson) as { weightsManifest: { paths: string[] }[] }).weightsManifest;
    weightsPath = join(dir, manifest[0].paths[0]);
    originalWeights = new Uint8Array(readFileSync(weightsPath));
    outside = join(root, 'outside.bin');
    writeFileSync(outside, originalWeights);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** Loads the directory as it is now; returns whether it loaded. Checks the invariant either way. */
  function check(m: Mutation, samePredictions: boolean): boolean {
    try {
      const { model } = loadModel(dir);
      assert.equal(m.mustFail, undefined, `${m.label}: loaded, but must fail`);
      if (samePredictions)
        assert.deepEqual(model.predict(x).data, expected, `${m.label}: predictions changed`);
      return true;
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.ok(e instanceof ModelFileError, `${m.label}: ${(e as Error).stack}`);
      assert.ok(e.file === jsonPath || e.file === weightsPath, `${m.label}: names ${e.file}`);
      assert.ok(e.field.length > 0, `${m.label}: no field in ${e.message}`);
      assert.ok(
        e.message.startsWith(`${e.file}: `) && e.message.includes(e.field),
        `${m.label}: ${e.message}`,
      );
      assert.doesNotMatch(e.message, /undefined|\[object Object\]/, m.label);
      if (m.mustFail) assert.match(e.message, m.mustFail, m.label);
      return false;
    } finally {
      writeFileSync(jsonPath, originalJson);
      writeFileSync(weightsPath, originalWeights);
    }
  }

  it(`${MUTATIONS} mutations of model.json: identical predictions or an error naming the file and field`, (t) => {
    const rng = new Random(20261203);
    let loaded = 0;
    for (let i = 0; i < MUTATIONS; i++) {
      const m = mutateJson(originalJson, rng, outside);
      writeFileSync(jsonPath, m.bytes);
      if (check(m, true)) loaded++;
    }
    t.diagnostic(`${loaded} loaded unchanged, ${MUTATIONS - loaded} refused`);
    assert.ok(loaded < MUTATIONS / 2, 'most mutations must be refused');
  });

  it(`${MUTATIONS} mutations of the weights file: identical predictions or an error naming the file and field`, (t) => {
    const rng = new Random(42);
    let loaded = 0;
    for (let i = 0; i < MUTATIONS; i++) {
      const m = mutateWeights(originalWeights, rng);
      writeFileSync(weightsPath, m.bytes);
      if (check(m, true)) loaded++;
    }
    t.diagnostic(`${loaded} loaded unchanged, ${MUTATIONS - loaded} refused`);
  });

  it(`${MUTATIONS} mutations of a model.json without recur's sha256: every failure a ModelFileError`, (t) => {
    const json = JSON.parse(originalJson) as { userDefinedMetadata: { recur: Record<string, unknown> } };
    delete json.userDefinedMetadata.recur.sha256;
    const foreignJson = JSON.stringify(json, null, 1);
    const rng = new Random(7);
    let loaded = 0;
    for (let i = 0; i < MUTATIONS; i++) {
      const m = mutateJson(foreignJson, rng, outside);
      writeFileSync(jsonPath, m.bytes);
      if (check(m, false)) loaded++;
    }
    t.diagnostic(`${loaded} loaded, ${MUTATIONS - loaded} refused`);
  });
});
