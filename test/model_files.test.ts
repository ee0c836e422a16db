/**
 * Model files as untrusted input: weights only from inside the model directory, model.json checked by its schema
 * with errors naming the file and the field, every weight's size, use and finiteness, the sha256 recur records, the
 * pure sha256 against node:crypto, and `generate` / `evaluate` / `forecast` refusing a model with a NaN weight.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { installSha256Hex, installedSha256Hex, sha256Hex, sha256HexPortable } from '../src/core/sha256.js';
import { RNNForecaster, type NetworkOptions } from '../src/forecast/network.js';
import * as L from '../src/layers/index.js';
import { KERAS_RECIPE, buildTextModel } from '../src/text/recipes.js';
import type { TextSettings } from '../src/text/metadata.js';
import { parseModelJson } from '../src/models/model_file.js';
import {
  ModelFileError,
  canonicalJson,
  serializeModel,
  type ModelJson,
} from '../src/models/serialization.js';
import { Sequential } from '../src/models/sequential.js';
import { loadForecaster, saveForecaster } from '../src/node/forecaster_io.js';
import { loadModel, saveModel } from '../src/node/model_io.js';
import { nodeSha256Hex } from '../src/node/runtime_hooks.js';
import '../src/node/install.js';
import { Vocabulary } from '../src/text/vocabulary.js';
import { randomIndices, randomTensor } from './helpers.js';
import { runCli as run } from './cli_helpers.js';

function tinyModel(): Sequential {
  const m = new Sequential({
    seed: 3,
    layers: [
      new L.LSTM({ units: 3, inputShape: [4, 5], name: 'enc' }),
      new L.Dense({ units: 5, activation: 'softmax', name: 'out' }),
    ],
  });
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  m.trainOnBatch(randomTensor([6, 4, 5], new Random(1)), randomIndices([6], 5, new Random(2)));
  return m;
}

const X = randomTensor([3, 4, 5], new Random(9));

function modelJsonOf(dir: string): ModelJson & Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson & Record<string, unknown>;
}
function writeModelJson(dir: string, json: unknown): void {
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json, null, 1));
}
function weightsFileOf(dir: string): string {
  return join(dir, modelJsonOf(dir).weightsManifest[0].paths[0]);
}

/** Records the sha256 of the files as they are now, as if recur had written them (to test the checks behind it). */
function rehash(dir: string): void {
  const json = modelJsonOf(dir);
  const paths = json.weightsManifest.flatMap((g) => g.paths);
  const recur = (json.userDefinedMetadata!.recur ?? {}) as Record<string, unknown>;
  recur.sha256 = {
    weights: Object.fromEntries(paths.map((p) => [p, sha256Hex(readFileSync(join(dir, p)))])),
    modelTopology: sha256Hex(new TextEncoder().encode(canonicalJson(json.modelTopology))),
    weightsManifest: sha256Hex(new TextEncoder().encode(canonicalJson(json.weightsManifest))),
  };
  json.userDefinedMetadata!.recur = recur;
  writeModelJson(dir, json);
}

/** Sets value `index` of manifest weight `name` in the weights file. */
function setWeightValue(dir: string, name: string, index: number, value: number): void {
  const json = modelJsonOf(dir);
  let offset = 0;
  for (const w of json.weightsManifest[0].weights) {
    if (w.name === name) break;
    offset += w.shape.reduce((p, d) => p * d, 1) * 4;
  }
  const file = weightsFileOf(dir);
  const bytes = readFileSync(file);
  bytes.writeFloatLE(value, offset + index * 4);
  writeFileSync(file, bytes);
}

function assertModelFileError(fn: () => unknown, file: string, message: RegExp): ModelFileError {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ModelFileError, `expected a ModelFileError, got ${String(caught)}`);
  assert.equal(caught.file, file);
  assert.ok(caught.message.startsWith(`${file}: ${caught.field}: `), caught.message);
  assert.match(caught.message, message);
  return caught;
}

describe('sha256', () => {
  it('the portable one equals node:crypto on random inputs of every length around the block boundaries', () => {
    const rng = new Random(7);
    const lengths = [
      ...Array.from({ length: 200 }, (_, i) => i),
      ...[447, 448, 511, 512, 1000, 4095, 4096, 65_537],
      ...Array.from({ length: 20 }, () => rng.int(100_000)),
    ];
    for (const n of lengths) {
      const bytes = Uint8Array.from({ length: n }, () => rng.int(256));
      assert.equal(sha256HexPortable(bytes), createHash('sha256').update(bytes).digest('hex'), `length ${n}`);
    }
    assert.equal(
      sha256HexPortable(new TextEncoder().encode('abc')),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
  it('hashes a subarray by its own bytes, the portable and the installed one alike', () => {
    const big = Uint8Array.from({ length: 300 }, (_, i) => i & 255);
    const part = big.subarray(17, 217);
    const want = createHash('sha256').update(part).digest('hex');
    assert.equal(sha256HexPortable(part), want);
    assert.equal(sha256Hex(part), want);
  });
  it('recur/node installs the native one; null goes back to the portable one', () => {
    assert.equal(installedSha256Hex(), nodeSha256Hex);
    const calls: number[] = [];
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 255);
    try {
      installSha256Hex((b) => {
        calls.push(b.length);
        return nodeSha256Hex(b);
      });
      assert.equal(sha256Hex(bytes), sha256HexPortable(bytes));
      assert.deepEqual(calls, [1000]);
      installSha256Hex(null);
      assert.equal(installedSha256Hex(), null);
      assert.equal(sha256Hex(bytes), sha256HexPortable(bytes));
      assert.deepEqual(calls, [1000]);
    } finally {
      installSha256Hex(nodeSha256Hex);
    }
  });
});

describe('model files', () => {
  let root = '';
  let n = 0;
  let original: Float32Array;
  /** A fresh copy of the tiny model in its own directory. */
  const fresh = (): string => {
    const d = join(root, `m${n++}`);
    saveModel(tinyModel(), d);
    return d;
  };
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'recur-files-'));
    original = tinyModel().predict(X).data as Float32Array;
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("a save replaces only recur's weights: the replaced model.json's and a killed save's, never a user's weights.bin", () => {
    // A user's file of recur's old name, in a directory holding no model: kept.
    const users = join(root, `m${n++}`);
    mkdirSync(users);
    writeFileSync(join(users, 'weights.bin'), 'mine');
    saveModel(tinyModel(), users);
    assert.equal(readFileSync(join(users, 'weights.bin'), 'utf8'), 'mine');
    assert.deepEqual(loadModel(users).model.predict(X).data, original);
    // A model directory saved again: the weights its model.json named go, and so does a killed save's orphan.
    const d = fresh();
    const first = basename(weightsFileOf(d));
    writeFileSync(join(d, 'weights-0123abcd.bin'), 'orphan of a killed save');
    writeFileSync(join(d, 'weights-00ff.bin'), 'not a name recur gives');
    saveModel(tinyModel(), d);
    const left = readdirSync(d).sort();
    assert.ok(!left.includes(first) && !left.includes('weights-0123abcd.bin'), left.join(' '));
    assert.ok(left.includes('weights-00ff.bin') && left.includes(basename(weightsFileOf(d))), left.join(' '));
    // An older model.json naming weights.bin: that file is the replaced model's.
    const old = fresh();
    const json = modelJsonOf(old);
    writeFileSync(join(old, 'weights.bin'), readFileSync(weightsFileOf(old)));
    json.weightsManifest[0]!.paths = ['weights.bin'];
    writeModelJson(old, json);
    saveModel(tinyModel(), old);
    assert.ok(!existsSync(join(old, 'weights.bin')));
  });

  it('a directory without model.json is named for what it holds: a saved forecaster, a seed ensemble, or nothing', () => {
    const cases: [string, string, RegExp][] = [
      ['forecaster.json', '{}', /holds a saved forecaster \(forecaster\.json\), not a model$/],
      [
        'ensemble.json',
        '{}',
        /holds a seed ensemble \(ensemble\.json; its models are members\/1 … members\/N\), not one model$/,
      ],
      ['notes.txt', 'mine', /: no model\.json here; not a model directory$/],
    ];
    for (const [file, text, message] of cases) {
      const d = join(root, `without-model-${file}`);
      mkdirSync(d);
      writeFileSync(join(d, file), text);
      assert.throws(() => loadModel(d), message);
      // The command line says the same, exit 2.
      const r = run(['convert', d, join(root, `${file}.h5`)]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr.trim(), message);
    }
  });

  describe('weights are read only from inside the model directory', () => {
    it('a manifest path with ../ is refused, naming the path, even when the file it names would fit', () => {
      const d = fresh();
      const outside = join(root, 'outside.bin');
      writeFileSync(outside, readFileSync(weightsFileOf(d)));
      const json = modelJsonOf(d);
      json.weightsManifest[0].paths = ['../outside.bin'];
      writeModelJson(d, json);
      assertModelFileError(
        () => loadModel(d),
        join(d, 'model.json'),
        /weightsManifest\[0\]\.paths\[0\]: '\.\.\/outside\.bin' is outside the model directory/,
      );
      json.weightsManifest[0].paths = ['../../etc/hostname'];
      writeModelJson(d, json);
      assertModelFileError(
        () => loadModel(d),
        join(d, 'model.json'),
        /'\.\.\/\.\.\/etc\/hostname' is outside/,
      );
      json.weightsManifest[0].paths = ['sub/../../outside.bin'];
      writeModelJson(d, json);
      assertModelFileError(() => loadModel(d), join(d, 'model.json'), /is outside the model directory/);
    });
    it('an absolute path is refused unless it lies inside the directory', () => {
      const d = fresh();
      const outside = join(root, 'outside-abs.bin');
      const inside = weightsFileOf(d);
      writeFileSync(outside, readFileSync(inside));
      const json = modelJsonOf(d);
      json.weightsManifest[0].paths = [outside];
      writeModelJson(d, json);
      assertModelFileError(() => loadModel(d), join(d, 'model.json'), /is outside the model directory/);
      json.weightsManifest[0].paths = [inside];
      writeModelJson(d, json);
      const { model, notes } = loadModel(d);
      assert.deepEqual(model.predict(X).data, original);
      assert.equal(notes.length, 1, 'the record names the relative path, so the weights load unverified');
    });
    it('a symbolic link that points out of the directory is refused; one that stays inside is read', () => {
      const d = fresh();
      const outside = join(root, 'outside-link-target.bin');
      writeFileSync(outside, readFileSync(weightsFileOf(d)));
      symlinkSync(outside, join(d, 'linked.bin'));
      const json = modelJsonOf(d);
      const own = json.weightsManifest[0].paths[0];
      json.weightsManifest[0].paths = ['linked.bin'];
      writeModelJson(d, json);
      assertModelFileError(
        () => loadModel(d),
        join(d, 'model.json'),
        /'linked\.bin' is a link to .*outside-link-target\.bin, outside the model directory/,
      );
      symlinkSync(own, join(d, 'inner-link.bin'));
      json.weightsManifest[0].paths = ['inner-link.bin'];
      writeModelJson(d, json);
      assert.deepEqual(loadModel(d).model.predict(X).data, original);
    });
    it('a directory in the manifest is an error, not EISDIR', () => {
      const d = fresh();
      mkdirSync(join(d, 'sub'));
      const json = modelJsonOf(d);
      json.weightsManifest[0].paths = ['sub'];
      writeModelJson(d, json);
      assertModelFileError(() => loadModel(d), join(d, 'model.json'), /paths\[0\]: 'sub' is not a file/);
    });
  });

  describe('model.json is checked against its schema: errors name the file and the field', () => {
    const cases: [string, (j: ModelJson & Record<string, unknown>) => void, RegExp][] = [
      [
        'units not a number',
        (j) => (j.modelTopology.config.layers[1].config.units = 'a'),
        /: modelTopology\.config\.layers\[1\]\.config\.units: expected a positive integer, got "a"$/,
      ],
      [
        'negative units',
        (j) => (j.modelTopology.config.layers[0].config.units = -3),
        /layers\[0\]\.config\.units: expected a positive integer, got -3/,
      ],
      [
        'huge units',
        (j) => (j.modelTopology.config.layers[0].config.units = 1e12),
        /layers\[0\]\.config\.units: expected a positive integer ≤ 16777216, got 1000000000000/,
      ],
      [
        'unknown activation',
        (j) => (j.modelTopology.config.layers[1].config.activation = 'sparsemax'),
        /layers\[1\]\.config\.activation: expected an activation: .*, got "sparsemax"/,
      ],
      [
        'activation of the wrong type',
        (j) => (j.modelTopology.config.layers[0].config.recurrent_activation = 7),
        /layers\[0\]\.config\.recurrent_activation: expected an activation.*, got 7/,
      ],
      [
        'unknown initializer class',
        (j) =>
          (j.modelTopology.config.layers[0].config.kernel_initializer = { class_name: 'Magic', config: {} }),
        /layers\[0\]\.config\.kernel_initializer\.class_name: expected an initializer class: .*, got "Magic"/,
      ],
      [
        'initializer of the wrong type',
        (j) => (j.modelTopology.config.layers[0].config.bias_initializer = 12),
        /layers\[0\]\.config\.bias_initializer: expected an initializer/,
      ],
      [
        'input shape with a negative axis',
        (j) => (j.modelTopology.config.layers[0].config.batch_input_shape = [null, -4, 5]),
        /layers\[0\]\.config\.batch_input_shape\[1\]: expected a positive integer, got -4/,
      ],
      [
        'input shape not an array',
        (j) => (j.modelTopology.config.layers[0].config.batch_input_shape = 'x'),
        /layers\[0\]\.config\.batch_input_shape: expected a shape/,
      ],
      [
        'dropout out of range',
        (j) => (j.modelTopology.config.layers[0].config.dropout = 1.5),
        /layers\[0\]\.config\.dropout: expected a number in \[0, 1\), got 1\.5/,
      ],
      [
        'a layer config that is null',
        (j) => (j.modelTopology.config.layers[1].config = null as never),
        /layers\[1\]\.config: expected the layer config object, got null/,
      ],
      [
        'a weight shape that is not an array ("shape is not iterable")',
        (j) => (j.weightsManifest[0].weights[0].shape = null as never),
        /weightsManifest\[0\]\.weights\[0\]\.shape: expected a shape: an array of sizes, got null/,
      ],
      [
        'a weight name that is not a string ("spec.name.replace is not a function")',
        (j) => (j.weightsManifest[0].weights[6].name = 5 as never),
        /weightsManifest\[0\]\.weights\[6\]\.name: expected the weight name, got 5/,
      ],
      [
        'a weight of another dtype',
        (j) => (j.weightsManifest[0].weights[1].dtype = 'int32' as never),
        /weightsManifest\[0\]\.weights\[1\]\.dtype: expected "float32" \(recur reads float32 weights\), got "int32"/,
      ],
      [
        'the compile record without its optimizer',
        (j) =>
          delete (j.userDefinedMetadata!.recur as { compile: { optimizer?: unknown } }).compile.optimizer,
        /userDefinedMetadata\.recur\.compile\.optimizer: missing/,
      ],
      [
        'a seed that is not an integer',
        (j) => ((j.userDefinedMetadata!.recur as { seed: unknown }).seed = 'x'),
        /userDefinedMetadata\.recur\.seed: expected a seed/,
      ],
      [
        'a functional model',
        (j) => (j.modelTopology.class_name = 'Functional'),
        /modelTopology\.class_name: expected "Sequential" \(a functional model loads with loadFunctionalModel\), got "Functional"/,
      ],
      [
        'no layers key',
        (j) => delete (j.modelTopology.config as { layers?: unknown }).layers,
        /config\.layers: missing/,
      ],
      [
        'a manifest that is not an array',
        (j) => (j.weightsManifest = {} as never),
        /: weightsManifest: expected the weights manifest: an array of weight groups, got \{\}/,
      ],
    ];
    for (const [what, mutate, message] of cases) {
      it(what, () => {
        const d = fresh();
        const json = modelJsonOf(d);
        mutate(json);
        writeModelJson(d, json);
        assertModelFileError(() => loadModel(d), join(d, 'model.json'), message);
      });
    }
    it('broken JSON names the line and column', () => {
      assert.throws(
        () => parseModelJson('{\n "modelTopology": {\n  "a": 1,\n }\n}', 'x/model.json'),
        /^ModelFileError: x\/model\.json: not valid JSON at line 4, column 2/,
      );
    });
  });

  describe('weights: size, use, duplicates, finiteness, recorded sha256', () => {
    /** Removes the recorded sha256, as in a file saved by tfjs, so that the checks behind it are reached. */
    const foreign = (d: string): void => {
      const json = modelJsonOf(d);
      delete (json.userDefinedMetadata!.recur as { sha256?: unknown }).sha256;
      writeModelJson(d, json);
    };
    it('recur records the sha256 of the weights file, and verifies it: one changed byte is an error', () => {
      const d = fresh();
      const file = weightsFileOf(d);
      const recorded = (
        modelJsonOf(d).userDefinedMetadata!.recur as { sha256: { weights: Record<string, string> } }
      ).sha256.weights;
      assert.deepEqual(Object.values(recorded), [
        createHash('sha256').update(readFileSync(file)).digest('hex'),
      ]);
      const { notes } = loadModel(d);
      assert.deepEqual(notes, []);
      setWeightValue(d, 'out/kernel', 2, 0.25);
      assertModelFileError(
        () => loadModel(d),
        file,
        /: sha256: [0-9a-f]{64} differs from the [0-9a-f]{64} recorded in .*model\.json .*changed or damaged after recur saved it/,
      );
    });
    it('an edited topology that is still valid is refused (an activation changed)', () => {
      const d = fresh();
      const json = modelJsonOf(d);
      json.modelTopology.config.layers[1].config.activation = 'linear';
      writeModelJson(d, json);
      assertModelFileError(
        () => loadModel(d),
        join(d, 'model.json'),
        /: modelTopology: changed since recur saved/,
      );
    });
    it('two weights of the same shape swapped by name are refused', () => {
      const d = fresh();
      const json = modelJsonOf(d);
      const ws = json.weightsManifest[0].weights;
      const [a, b] = [
        ws.findIndex((w) => w.name === 'optimizer/enc/kernel/m'),
        ws.findIndex((w) => w.name === 'optimizer/enc/kernel/v'),
      ];
      [ws[a].name, ws[b].name] = [ws[b].name, ws[a].name];
      writeModelJson(d, json);
      assertModelFileError(
        () => loadModel(d),
        join(d, 'model.json'),
        /: weightsManifest: changed since recur saved/,
      );
    });
    it('a file without the record (saved by tfjs) loads with one note', () => {
      const d = fresh();
      foreign(d);
      const { model, notes } = loadModel(d);
      assert.deepEqual(model.predict(X).data, original);
      assert.equal(notes.length, 1);
      assert.match(
        notes[0],
        /model\.json: no sha256 recorded \(not saved by recur\); the weights were loaded unverified/,
      );
    });
    it('a manifest weight that no layer uses is an error naming it', () => {
      const d = fresh();
      foreign(d);
      const json = modelJsonOf(d);
      json.weightsManifest[0].weights.splice(3, 0, { name: 'spare/kernel', shape: [2], dtype: 'float32' });
      writeModelJson(d, json);
      // Insert the spare weight's 8 bytes where the manifest places it: after enc's three weights and out/kernel.
      const file = weightsFileOf(d);
      const bytes = readFileSync(file);
      const at = (5 * 12 + 3 * 12 + 12 + 0) * 4;
      writeFileSync(file, Buffer.concat([bytes.subarray(0, at), Buffer.alloc(8), bytes.subarray(at)]));
      assertModelFileError(
        () => loadModel(d),
        join(d, 'model.json'),
        /weightsManifest\[0\]\.weights\[3\]: weight 'spare\/kernel' is not used by any layer/,
      );
    });
    it('a missing weight, a duplicated weight and extra bytes are errors', () => {
      const d = fresh();
      foreign(d);
      const json = modelJsonOf(d);
      const specs = json.weightsManifest[0].weights;
      const bytes = readFileSync(weightsFileOf(d));
      // Drop out/bias (the 5th weight, 5 values) and its bytes.
      const biasAt = (5 * 12 + 3 * 12 + 12 + 3 * 5) * 4;
      writeModelJson(d, {
        ...json,
        weightsManifest: [
          { ...json.weightsManifest[0], weights: specs.filter((w) => w.name !== 'out/bias') },
        ],
      });
      writeFileSync(
        weightsFileOf(d),
        Buffer.concat([bytes.subarray(0, biasAt), bytes.subarray(biasAt + 20)]),
      );
      assertModelFileError(() => loadModel(d), join(d, 'model.json'), /weight 'out\/bias' is missing/);
      const dup = [...specs];
      dup.splice(5, 0, { ...specs[4] });
      writeModelJson(d, { ...json, weightsManifest: [{ ...json.weightsManifest[0], weights: dup }] });
      writeFileSync(
        weightsFileOf(d),
        Buffer.concat([bytes.subarray(0, biasAt + 20), bytes.subarray(biasAt)]),
      );
      assertModelFileError(
        () => loadModel(d),
        join(d, 'model.json'),
        /weightsManifest\[0\]\.weights\[5\]\.name: weight 'out\/bias' is listed twice \(also weightsManifest\[0\]\.weights\[4\]\)/,
      );
      writeModelJson(d, json);
      writeFileSync(weightsFileOf(d), Buffer.concat([bytes, Buffer.alloc(4)]));
      assertModelFileError(
        () => loadModel(d),
        join(d, 'model.json'),
        /weightsManifest\[0\]: the weights manifest needs \d+ bytes but the weight files hold \d+/,
      );
    });
    it('a layer far larger than the weights file is refused before it is built', () => {
      const d = fresh();
      foreign(d);
      const json = modelJsonOf(d);
      json.modelTopology.config.layers[0].config.units = 4_000_000;
      writeModelJson(d, json);
      const t0 = Date.now();
      assertModelFileError(
        () => loadModel(d),
        join(d, 'model.json'),
        /modelTopology\.config\.layers\[0\]: layer 'enc' \(LSTM\) needs at least \d+ weight values/,
      );
      assert.ok(Date.now() - t0 < 2000);
    });
  });

  describe('non-finite weights', () => {
    it('saveModel and serializeModel refuse NaN and Infinity, naming the weight, and write nothing', () => {
      const m = tinyModel();
      m.layers[1].weights[0].value[7] = NaN;
      assert.throws(
        () => serializeModel(m),
        /weight 'out\/kernel' holds NaN at \[1, 2\]; recur does not save non-finite weights/,
      );
      const d = join(root, 'never');
      assert.throws(() => saveModel(m, d), /weight 'out\/kernel' holds NaN/);
      assert.equal(existsSync(d), false);
      const m2 = tinyModel();
      m2.layers[0].weights[2].value[0] = -Infinity;
      assert.throws(() => serializeModel(m2), /weight 'enc\/bias' holds -Infinity at \[0\]/);
    });
    it('loading a NaN or infinite weight fails naming the weight, with or without a matching sha256', () => {
      const d = fresh();
      setWeightValue(d, 'enc/recurrent_kernel', 4, NaN);
      rehash(d);
      assertModelFileError(
        () => loadModel(d),
        join(d, 'model.json'),
        /weightsManifest\[0\]\.weights\[1\]: weight 'enc\/recurrent_kernel' holds NaN at \[0, 4\]; recur refuses non-finite weights/,
      );
      const e = fresh();
      setWeightValue(e, 'optimizer/enc/bias/v', 1, Infinity);
      rehash(e);
      assertModelFileError(
        () => loadModel(e),
        join(e, 'model.json'),
        /weight 'optimizer\/enc\/bias\/v' holds Infinity at \[1\]/,
      );
    });
  });
});

describe('commands refuse a model with a NaN weight', () => {
  let root = '';
  let textModel = '';
  let book = '';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'recur-nan-'));
    const text = 'the whale and the sea and the ship sailed into the night. '.repeat(20);
    book = join(root, 'book.txt');
    writeFileSync(book, text);
    const vocab = Vocabulary.fromText(text);
    const settings: TextSettings = { ...KERAS_RECIPE, maxlen: 8, units: 4, seed: 1, source: 'book.txt' };
    textModel = join(root, 'text');
    const model = buildTextModel(settings, vocab.size);
    model.compile({ optimizer: 'rmsprop', loss: 'categoricalCrossentropy' });
    saveModel(model, textModel, {
      metadata: { task: 'text', vocabulary: vocab.toJSON(), settings, defaultPrime: text.slice(0, 8) },
    });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('the healthy model generates and evaluates', () => {
    assert.equal(run(['generate', textModel, '--length', '5']).code, 0);
    assert.equal(run(['evaluate', textModel, book]).code, 0);
  });
  for (const command of ['generate', 'evaluate'] as const) {
    it(`${command}: non-zero exit, the weight named, no stack trace, no output`, () => {
      const d = join(root, `nan-${command}`);
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d);
      for (const f of readdirSync(textModel)) writeFileSync(join(d, f), readFileSync(join(textModel, f)));
      // The first weight is the LSTM's kernel; its layer's name depends on how many LSTMs this process made.
      const kernel = modelJsonOf(d).weightsManifest[0].weights[0].name;
      assert.match(kernel, /^lstm(_\d+)?\/kernel$/);
      setWeightValue(d, kernel, 3, NaN);
      rehash(d);
      const r = run(command === 'generate' ? ['generate', d, '--length', '20'] : ['evaluate', d, book]);
      assert.notEqual(r.code, 0);
      assert.ok(
        r.stderr.startsWith('recur: ') &&
          r.stderr.includes(
            `model.json: weightsManifest[0].weights[0]: weight '${kernel}' holds NaN at [0, 3]`,
          ),
        r.stderr,
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.equal(r.stdout, '');
    });
  }
  it('forecast --model: a member with an infinite weight is refused', async () => {
    const opts: NetworkOptions = {
      method: 'network',
      cell: 'lstm',
      units: 4,
      layers: 1,
      dropout: 0,
      lookback: 6,
      horizon: 3,
      strategy: 'direct',
      epochs: 1,
      batchSize: 8,
      learningRate: 0.01,
      seeds: [1],
      log: false,
      differencing: 'none',
      season: 1,
      scaling: 'standard',
    };
    const values = Array.from({ length: 40 }, (_, i) => Math.sin(i / 3) + i / 10);
    const f = new RNNForecaster(opts);
    await f.fit(values);
    const dir = join(root, 'fc');
    saveForecaster(f, { dates: values.map((_, i) => `t${i}`), values, name: 'v' }, dir);
    assert.deepEqual(loadForecaster(dir).notes, []);
    const member = join(dir, 'network-0', 'member-0');
    const bias = modelJsonOf(member).weightsManifest[0].weights.find((w) =>
      /^dense(_\d+)?\/bias$/.test(w.name),
    )!.name;
    setWeightValue(member, bias, 0, Infinity);
    rehash(member);
    assert.throws(
      () => loadForecaster(dir),
      (e: Error) =>
        e.message.includes(
          `member-0/model.json: weightsManifest[0].weights[4]: weight '${bias}' holds Infinity at [0]`,
        ),
    );
    const r = run(['forecast', '--model', dir]);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(`weight '${bias}' holds Infinity`), r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(r.stdout, '');
  });
});
