/**
 * Hostile and unsupported Keras and tfjs model files: options recur cannot honour are refused by name (never a
 * silent deviation), and configs asking for layers far bigger than the file's weights are refused, naming the file
 * and the field, before anything is allocated.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { deflateSync, strToU8, unzipSync, zipSync } from 'fflate';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import { h5Library, readH5, writeH5 } from '../src/keras/h5.js';
import { loadKerasModel } from '../src/keras/load.js';
import * as L from '../src/layers/index.js';
import { Sequential } from '../src/models/sequential.js';
import { saveKerasArchive, saveKerasH5 } from '../src/keras/save.js';
import { predictJson } from '../src/keras/predict_json.js';
import type { Tensor } from '../src/core/tensor.js';
import { loadModel } from '../src/keras/index.js';
import { serializeFunctional } from '../src/models/functional_serialization.js';
import { modelJsonFor, serializeModel } from '../src/models/serialization.js';
import { Functional } from '../src/models/functional.js';
import { runCli } from './cli_helpers.js';
import { fixtures, type Fixture } from './keras_fixtures.js';

type Json = Record<string, unknown>;

let all: Fixture[] = [];
before(async () => {
  all = await fixtures();
});
const fixture = (prefix: string): Fixture => all.find((f) => f.name.startsWith(prefix))!;

/** The fixture's legacy .h5 with its model_config edited. */
async function editedH5(prefix: string, edit: (cfg: Json) => void): Promise<Uint8Array> {
  const root = await readH5(fixture(prefix).bytes, 'x');
  const cfg = JSON.parse(root.attrs.model_config as string) as Json;
  edit(cfg);
  root.attrs.model_config = JSON.stringify(cfg);
  return writeH5(root);
}

/** The fixture's .keras archive with its config.json edited. */
function editedArchive(prefix: string, edit: (cfg: Json) => void): Uint8Array {
  const files = unzipSync(fixture(prefix).bytes);
  const cfg = JSON.parse(new TextDecoder().decode(files['config.json'])) as Json;
  edit(cfg);
  return zipSync({ ...files, 'config.json': strToU8(JSON.stringify(cfg)) });
}

async function refused(bytes: Uint8Array, re: RegExp): Promise<void> {
  await assert.rejects(loadKerasModel(bytes, 'm.keras'), (e: Error) => {
    assert.ok(e instanceof InvalidInputError, `${e.name}: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

/** The fixture's model as a tfjs model.json (without recur's sha256, as an edited file) and its weights. */
function tfjsFiles(
  prefix: string,
  edit: (topology: Json) => void,
): { modelJson: string; weights: Uint8Array } {
  const model = fixture(prefix).reference;
  const art = model instanceof Functional ? serializeFunctional(model) : serializeModel(model);
  const file = modelJsonFor(art, 'weights.bin') as unknown as Json & {
    modelTopology: Json;
    userDefinedMetadata?: { recur?: { sha256?: unknown } };
  };
  delete file.userDefinedMetadata?.recur?.sha256;
  edit(file.modelTopology);
  return { modelJson: JSON.stringify(file), weights: art.weightData };
}

const LIST_H5 = 'Keras 2.0 list config';
const K3_ARCHIVE = 'Keras 3.9 .keras Sequential';
const K2_FUNCTIONAL = 'Keras 2.2 functional Model';

describe('unsupported options are refused by name, not ignored', () => {
  it('time_major: true (inputs as [time, batch, features]) in .h5, .keras and tfjs files', async () => {
    await refused(
      await editedH5(LIST_H5, (c) => {
        ((c.config as Json[])[0].config as Json).time_major = true;
      }),
      /m\.keras: model_config\.config\[0\]: layer 'lstm_1' uses time_major: true .*which recur does not support/,
    );
    await refused(
      editedArchive(K3_ARCHIVE, (c) => {
        (((c.config as Json).layers as Json[])[1].config as Json).time_major = true;
      }),
      /m\.keras: config\.json\.config\.layers\[1\]: layer 'gru_1' uses time_major: true/,
    );
    const files = tfjsFiles(LIST_H5, (t) => {
      (((t.config as Json).layers as Json[])[0].config as Json).time_major = true;
    });
    await assert.rejects(loadModel(files), /layers\[0\].*layer 'lstm_1' uses time_major: true/);
    // Keras 3 quantization (int8 weights with scales) is refused by its dtype policy, not loaded as float weights.
    await refused(
      editedArchive(K3_ARCHIVE, (c) => {
        (((c.config as Json).layers as Json[])[2].config as Json).dtype = {
          module: 'keras',
          class_name: 'QuantizedDTypePolicy',
          config: { name: 'int8_from_float32', source_name: 'float32' },
          registered_name: null,
        };
      }),
      /config\.json\.config\.layers\[2\]\.config\.dtype: layer '\w+' is quantized \('int8_from_float32'\), which recur does not support/,
    );
    // time_major: false, as tf.keras 2.x writes it, is what recur computes.
    await loadKerasModel(
      await editedH5(LIST_H5, (c) => {
        ((c.config as Json[])[0].config as Json).time_major = false;
      }),
      'm.h5',
    );
  });
});

describe('regularizers and constraints (training only) in Keras and tfjs files', () => {
  it('load with a note naming the layers and options; predictions are those of the model without them', async () => {
    const plain = await loadKerasModel(fixture(LIST_H5).bytes, 'm.h5');
    const x = [[0, 1, 2, 3, 4].map((t) => [0.1 * t, -0.2, 0.3 * t, 0.4])];
    const want = predictJson(plain.model, x, 'x');
    const h5 = await loadKerasModel(
      await editedH5(LIST_H5, (c) => {
        Object.assign((c.config as Json[])[0].config as Json, {
          kernel_regularizer: { class_name: 'L1L2', config: { l1: 0, l2: 0.01 } },
          recurrent_constraint: { class_name: 'MaxNorm', config: { max_value: 3, axis: 0 } },
          activity_regularizer: null,
        });
      }),
      'm.h5',
    );
    assert.deepEqual(predictJson(h5.model, x, 'x'), want);
    assert.match(
      h5.notes.join('\n'),
      /m\.h5: 'lstm_1' \(kernel_regularizer, recurrent_constraint\): regularizers and constraints act only in training/,
    );
    const archive = await loadKerasModel(
      editedArchive(K3_ARCHIVE, (c) => {
        (((c.config as Json).layers as Json[])[1].config as Json).bias_regularizer = {
          module: 'keras.regularizers',
          class_name: 'L2',
          config: { l2: 0.01 },
          registered_name: null,
        };
      }),
      'm.keras',
    );
    assert.match(archive.notes.join('\n'), /'gru_1' \(bias_regularizer\): regularizers and constraints/);
    // A file whose regularizers are all null (what Keras writes by default) has no such note.
    assert.ok(!plain.notes.some((n) => /regularizers/.test(n)));
  });

  it('tfjs model files (Sequential and functional) too', async () => {
    const plain = await loadKerasModel(fixture(LIST_H5).bytes, 'm.h5');
    const x = [[0, 1, 2, 3, 4].map((t) => [0.1 * t, -0.2, 0.3 * t, 0.4])];
    const seq = await loadModel(
      tfjsFiles(LIST_H5, (t) => {
        (((t.config as Json).layers as Json[])[0].config as Json).kernel_regularizer = {
          class_name: 'L1L2',
          config: { l1: 0, l2: 0.01 },
        };
      }),
    );
    assert.deepEqual(predictJson(seq.model, x, 'x'), predictJson(plain.model, x, 'x'));
    assert.match(seq.notes.join('\n'), /'lstm_1' \(kernel_regularizer\): regularizers and constraints/);
    const fun = await loadModel(
      tfjsFiles(K2_FUNCTIONAL, (t) => {
        const layers = (t.config as Json).layers as Json[];
        const dense = layers.find((l) => l.class_name === 'Dense')!;
        (dense.config as Json).bias_constraint = { class_name: 'NonNeg', config: {} };
      }),
    );
    assert.match(
      fun.notes.join('\n'),
      /\(bias_constraint\): regularizers and constraints act only in training/,
    );
  });
});

describe('dtype policies of another precision (float64, mixed_float16) in Keras files', () => {
  it('load computing in float32, with a note naming the layers and their policy (never an InputLayer)', async () => {
    const plain = await loadKerasModel(fixture(LIST_H5).bytes, 'm.h5');
    const x = [[0, 1, 2, 3, 4].map((t) => [0.1 * t, -0.2, 0.3 * t, 0.4])];
    const h5 = await loadKerasModel(
      await editedH5(LIST_H5, (c) => {
        ((c.config as Json[])[0].config as Json).dtype = 'float64';
      }),
      'm.h5',
    );
    assert.deepEqual(predictJson(h5.model, x, 'x'), predictJson(plain.model, x, 'x'));
    assert.match(
      h5.notes.join('\n'),
      /m\.h5: 'lstm_1' \(float64\): Keras computes these layers in their dtype policy's precision; recur computes in float32/,
    );
    const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'mixed_float16' } };
    const archive = await loadKerasModel(
      editedArchive(K3_ARCHIVE, (c) => {
        for (const l of (c.config as Json).layers as Json[]) (l.config as Json).dtype = policy;
      }),
      'm.keras',
    );
    const noted = archive.notes.filter((n) => /dtype policy/.test(n));
    assert.equal(noted.length, 1, archive.notes.join('\n'));
    assert.match(noted[0], /^m\.keras: 'gru_1', 'dense_1' \(mixed_float16\): Keras computes/);
    // float32 files (what Keras writes by default) have no such note.
    const k3 = await loadKerasModel(fixture(K3_ARCHIVE).bytes, 'm.keras');
    assert.ok(![...plain.notes, ...k3.notes].some((n) => /dtype policy/.test(n)));
  });
});

describe('a Bidirectional whose backward_layer computes something else', () => {
  const K3_FUNCTIONAL = 'Keras 3.8 .keras Functional';
  const backwardOf = (c: Json): Json => {
    const bi = ((c.config as Json).layers as Json[]).find((l) => l.class_name === 'Bidirectional')!;
    return (bi.config as Json).backward_layer as Json;
  };

  it('is refused, naming the option, instead of being replaced by the forward layer run backwards', async () => {
    await refused(
      editedArchive(K3_FUNCTIONAL, (c) => {
        (backwardOf(c).config as Json).activation = 'relu';
      }),
      /m\.keras: config\.json\.config\.layers\[\d+\]\.config\.backward_layer: layer 'bidirectional' has a backward layer that differs from its forward layer in activation \("tanh" \/ "relu"\)/,
    );
    await refused(
      editedArchive(K3_FUNCTIONAL, (c) => {
        backwardOf(c).class_name = 'SimpleRNN';
      }),
      /backward_layer: .* differs from its forward layer in class \(GRU \/ SimpleRNN\)/,
    );
  });

  it('one that is the forward layer run backwards (as Keras 3 writes it) loads', async () => {
    await loadKerasModel(
      editedArchive(K3_FUNCTIONAL, (c) => {
        (backwardOf(c).config as Json).name = 'another_name';
      }),
      'm.keras',
    );
  });
});

describe('zero_output_for_mask (Keras zeroes masked steps, recur repeats the previous output)', () => {
  const MASKED = 'tf.keras 2.4 dict config: Embedding(mask_zero)';
  const layersOf = (c: Json): Json[] => (c.config as Json).layers as Json[];

  it('is said in a note when the model has a mask, naming the layers', async () => {
    const bytes = await editedH5(MASKED, (c) => {
      (layersOf(c).find((l) => (l.config as Json).name === 'gru')!.config as Json).zero_output_for_mask =
        true;
    });
    const { notes } = await loadKerasModel(bytes, 'm.h5');
    assert.ok(
      notes.some((n) =>
        /^m\.h5: 'gru' output zeros at masked steps in Keras \(zero_output_for_mask.*recur repeats the previous step's output there/.test(
          n,
        ),
      ),
      notes.join('\n'),
    );
  });

  it('looks only at layers: a config value nested 100,000 deep does not overflow the stack', async () => {
    const files = unzipSync(fixture(K3_ARCHIVE).bytes);
    const text = new TextDecoder().decode(files['config.json']);
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const edited = text.replace(/^\{/, `{"junk": ${deep}, `);
    await loadKerasModel(zipSync({ ...files, 'config.json': strToU8(edited) }), 'm.keras');
  });

  it('is not mentioned when no mask can reach it', async () => {
    const bytes = await editedH5(MASKED, (c) => {
      const layers = layersOf(c);
      (layers.find((l) => (l.config as Json).name === 'gru')!.config as Json).zero_output_for_mask = true;
      for (const l of layers) if (l.class_name === 'Embedding') (l.config as Json).mask_zero = false;
    });
    const { notes } = await loadKerasModel(bytes, 'm.h5');
    assert.ok(!notes.some((n) => n.includes('zero_output_for_mask')), notes.join('\n'));
  });
});

describe('configs far bigger than the weights are refused before anything is allocated', () => {
  it('a legacy .h5 asking for a huge layer names the layer (no 1.6 GB allocation first)', async () => {
    await refused(
      await editedH5(LIST_H5, (c) => {
        ((c.config as Json[])[0].config as Json).units = 20000;
      }),
      /m\.keras: model_config\.config\[0\]\.config\.units: 20000 is more than the \d+ weight values the file holds/,
    );
    await refused(
      await editedH5(LIST_H5, (c) => {
        ((c.config as Json[])[0].config as Json).batch_input_shape = [null, 5, 40000];
      }),
      /m\.keras: model_config\.config\[0\]: layer 'lstm_1' \(LSTM\) needs at least \d+ weight values up to here, but the file holds \d+/,
    );
  });

  it('an absurd input shape in a .keras file names the field, not a RangeError', async () => {
    await refused(
      editedArchive(K3_ARCHIVE, (c) => {
        const input = ((c.config as Json).layers as Json[])[0].config as Json;
        input.batch_shape = [null, 6, 1e8];
      }),
      /m\.keras: config\.json\.config\.layers\[0\]\.config\.batch_input_shape\[2\]: expected null or a positive integer ≤ 16777216, got 100000000/,
    );
  });

  it('functional models (Keras and tfjs) with a huge input width name the layer', async () => {
    const widen = (layers: Json[]): void => {
      const input = layers.find((l) => l.class_name === 'InputLayer')!.config as Json;
      const shape = input.batch_input_shape as (number | null)[];
      input.batch_input_shape = [...shape.slice(0, -1), 100000];
    };
    await refused(
      await editedH5(K2_FUNCTIONAL, (c) => widen((c.config as Json).layers as Json[])),
      /m\.keras: layer '\w+' \(LSTM\) needs at least \d+ weight values up to here, but the file holds \d+/,
    );
    const files = tfjsFiles(K2_FUNCTIONAL, (t) => widen((t.config as Json).layers as Json[]));
    await assert.rejects(
      loadModel(files),
      /needs at least \d+ weight values up to here, but the file holds \d+/,
    );
  });
});

describe('memory bombs: sizes a small file declares are checked before anything is unpacked', () => {
  it('an HDF5 dataset declaring far more values than the file holds is refused, naming it', async () => {
    const h5 = await h5Library();
    const path = '/hostile-test.h5';
    h5.FS!.writeFile(path, fixture(LIST_H5).bytes);
    const f = new h5.File(path, 'a');
    // Chunked, with nothing written: HDF5 reads it back as 40 MB of fill values from a file of kilobytes.
    const d = f.create_group('junk').create_dataset({
      name: 'big',
      data: new Float32Array(1),
      shape: [1],
      maxshape: [null],
      chunks: [1024],
    });
    d.resize([10_000_000]);
    f.flush();
    f.close();
    const bytes = h5.FS!.readFile(path);
    h5.FS!.unlink(path);
    await refused(
      bytes,
      /m\.keras: dataset '\/junk\/big' declares 10000000 values of shape \[10000000\], more than a \d+-byte file can hold/,
    );
  });

  it('a .keras member whose zip headers declare another size than it holds is refused as such, naming it (seeded)', async () => {
    const files = unzipSync(fixture(K3_ARCHIVE).bytes);
    const archive = zipSync({ ...files, 'model.weights.h5': [files['model.weights.h5'], { level: 0 }] });
    /** The archive with `member`'s uncompressed size set to `size` in its local header and the central directory. */
    const declaring = (member: string, size: number): Uint8Array => {
      const out = archive.slice();
      const view = new DataView(out.buffer);
      const name = strToU8(member);
      const named = (at: number): boolean => name.every((c, k) => out[at + k] === c);
      let patched = 0;
      for (let at = 0; at + 46 < out.length; at++) {
        const sig = view.getUint32(at, true);
        if (sig === 0x04034b50 && view.getUint16(at + 26, true) === name.length && named(at + 30)) {
          view.setUint32(at + 22, size, true);
          patched++;
        } else if (sig === 0x02014b50 && view.getUint16(at + 28, true) === name.length && named(at + 46)) {
          view.setUint32(at + 24, size, true);
          patched++;
        }
      }
      assert.equal(patched, 2, `${member}: both headers found`);
      return out;
    };
    const rng = new Random(42);
    for (const member of ['config.json', 'metadata.json', 'model.weights.h5']) {
      const real = files[member].length;
      for (let trial = 0; trial < 3; trial++) {
        const smaller = 1 + rng.int(real - 1);
        await refused(
          declaring(member, smaller),
          new RegExp(
            `^m\\.keras: archive member ${member.replace('.', '\\.')} is longer than the ${smaller} bytes its zip ` +
              'header declares; the archive is corrupt or was tampered with$',
          ),
        );
      }
      const larger = real + 1 + rng.int(1000);
      await refused(
        declaring(member, larger),
        new RegExp(
          `archive member ${member.replace('.', '\\.')} is shorter \\(${real} bytes\\) than the ${larger} bytes`,
        ),
      );
    }
    // The archive as written loads.
    await loadKerasModel(archive, 'm.keras');
  });

  it('a deflated .keras member is inflated once, no further than its header declares: what follows is not read', async () => {
    const files = unzipSync(fixture(K3_ARCHIVE).bytes);
    const declared = files['config.json'].length;
    // config.json padded to 300 kB, deflated as stored blocks (a 5-byte header each), the fourth block's header
    // made invalid: a stream that goes on past the declared size and is damaged far past it.
    const padded = new Uint8Array(300_000).fill(0x20);
    padded.set(files['config.json']);
    const stream = deflateSync(padded, { level: 0 });
    const blocks: number[] = [];
    for (let at = 0; at < stream.length; at += 5 + (stream[at + 1] | (stream[at + 2] << 8))) blocks.push(at);
    assert.ok(blocks.length >= 4, `${blocks.length} stored blocks`);
    stream[blocks[3]] = 0x06; // BTYPE 3: reserved, an error to any inflater that reaches it
    // The stream as a stored member, then marked deflated and declaring config.json's own size.
    const out = zipSync({ ...files, 'config.json': [stream, { level: 0 }] });
    const view = new DataView(out.buffer);
    const name = strToU8('config.json');
    let patched = 0;
    for (let at = 0; at + 46 < out.length; at++) {
      const sig = view.getUint32(at, true);
      const named = (p: number): boolean => name.every((c, k) => out[p + k] === c);
      if (sig === 0x04034b50 && view.getUint16(at + 26, true) === name.length && named(at + 30)) {
        view.setUint16(at + 8, 8, true);
        view.setUint32(at + 22, declared, true);
        patched++;
      } else if (sig === 0x02014b50 && view.getUint16(at + 28, true) === name.length && named(at + 46)) {
        view.setUint16(at + 10, 8, true);
        view.setUint32(at + 24, declared, true);
        patched++;
      }
    }
    assert.equal(patched, 2);
    await refused(
      out,
      new RegExp(
        `^m\\.keras: archive member config\\.json is longer than the ${declared} bytes its zip header declares`,
      ),
    );
    // Every member deflated, the weights too: inflated here, and the model loads as written.
    const deflated = zipSync(files, { level: 6 });
    const a = (await loadKerasModel(deflated, 'm.keras')).model.predict(
      fixture(K3_ARCHIVE).inputs[0],
    ) as Tensor;
    const b = fixture(K3_ARCHIVE).reference.predict(fixture(K3_ARCHIVE).inputs[0]) as Tensor;
    assert.deepEqual(a.data, b.data);
  });

  it('a .keras member that would unpack to more than such a member ever holds is not unpacked', async () => {
    const files = unzipSync(fixture(K3_ARCHIVE).bytes);
    const config = new Uint8Array(70 * 2 ** 20).fill(0x20);
    config.set(files['config.json']);
    const bomb = zipSync({ ...files, 'config.json': [config, { level: 9 }] });
    assert.ok(bomb.length < 2 ** 20, `the bomb is small (${bomb.length} bytes)`);
    await refused(
      bomb,
      /m\.keras: config\.json would unpack to 73400320 bytes, more than the 67108864 recur reads; refused before unpacking/,
    );
  });
});

describe('recur export pytorch given a Keras file', () => {
  it('says it takes a recur model directory (exit 2), not that the file is bad JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-export-keras-'));
    try {
      const file = join(dir, 'model.h5');
      writeFileSync(file, fixture(LIST_H5).bytes);
      const r = runCli(['export', 'pytorch', file, join(dir, 'torch')]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(
        r.stderr,
        /model\.h5 is a file; export takes a recur model directory \(for a Keras character model: recur train TEXT --from .*model\.h5 --out DIR, then export DIR\)/,
      );
      assert.ok(!existsSync(join(dir, 'torch')), 'nothing written');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('recur convert to an OUT the model cannot be written as', () => {
  it('names the file it was writing (exit 2) and leaves nothing behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-convert-hardsig-'));
    try {
      const file = join(dir, 'model.h5');
      writeFileSync(file, fixture(LIST_H5).bytes); // Keras 2's hard_sigmoid: Keras 3 computes another function
      const out = join(dir, 'model.keras');
      const r = runCli(['convert', file, out]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^recur: \S*model\.keras: layer 'lstm_1' uses Keras 2's hard_sigmoid/m);
      assert.ok(!existsSync(out));
      // OUT named like a model.json file would have become a directory of that name.
      const json = join(dir, 'mine.json');
      const j = runCli(['convert', file, json]);
      assert.equal(j.code, 2, j.stderr);
      assert.match(
        j.stderr,
        /mine\.json: a recur\/tfjs model is a directory holding model\.json .*\(e\.g\. \S*mine\)/,
      );
      assert.ok(!existsSync(json));
      // --json prints one object, the notes in it, and each note as a `{"note": …}` line on stderr.
      const asJson = runCli(['convert', file, join(dir, 'again.h5'), '--json']);
      assert.equal(asJson.code, 0, asJson.stderr);
      const converted = JSON.parse(asJson.stdout) as { to: string; notes: string[] };
      assert.deepEqual(
        asJson.stderr
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { note: string }).note),
        converted.notes,
      );
      assert.equal(converted.to, 'keras-h5');
      assert.match(converted.notes.join('\n'), /hard_sigmoid read as Keras 2's clip\(0\.2x \+ 0\.5, 0, 1\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("recur predict takes a Sequential model's input by Keras 2's and tfjs's name", () => {
  it('<first layer>_input works like the first layer name; both at once, or another name, are refused', async () => {
    const f = fixture(LIST_H5);
    const { model } = await loadKerasModel(f.bytes, 'm.h5');
    const x = (f.inputs[0] as Tensor).toArray();
    const byLayer = predictJson(model, { lstm_1: x }, 'stdin');
    assert.deepEqual(predictJson(model, { lstm_1_input: x }, 'stdin'), byLayer);
    assert.throws(
      () => predictJson(model, { lstm_1: x, lstm_1_input: x }, 'stdin'),
      /stdin: input 'lstm_1' is given twice \(as lstm_1 and lstm_1_input\)/,
    );
    assert.throws(
      () => predictJson(model, { input_1: x }, 'stdin'),
      /stdin: 'input_1' is not an input of the model \(its inputs: lstm_1 \(or lstm_1_input\)\)/,
    );
  });
});

describe("recur predict takes a Keras 3 Sequential model's input by its InputLayer's name", () => {
  it('input_layer_1 works, and keeps working through a recur directory, a .keras and an .h5 written by recur', async () => {
    const f = fixture(K3_ARCHIVE);
    const { model } = await loadKerasModel(f.bytes, 'm.keras');
    assert.ok(!(model instanceof Functional));
    assert.equal(model.inputName, 'input_layer_1');
    const x = (f.inputs[0] as Tensor).toArray();
    const want = predictJson(model, { gru_1: x }, 'stdin');
    assert.deepEqual(predictJson(model, { input_layer_1: x }, 'stdin'), want);
    assert.deepEqual(predictJson(model, { gru_1_input: x }, 'stdin'), want);
    assert.throws(
      () => predictJson(model, { input_1: x }, 'stdin'),
      /stdin: 'input_1' is not an input of the model \(its inputs: gru_1 \(or input_layer_1 or gru_1_input\)\)/,
    );
    const art = serializeModel(model);
    const reloaded = (
      await loadModel({ modelJson: JSON.stringify(modelJsonFor(art, 'w.bin')), weights: art.weightData })
    ).model;
    const keras3 = (await loadKerasModel((await saveKerasArchive(model)).bytes, 'again.keras')).model;
    for (const [what, m] of [
      ['recur directory', reloaded],
      ['.keras', keras3],
    ] as const) {
      assert.ok(!(m instanceof Functional), what);
      assert.equal(m.inputName, 'input_layer_1', what);
      assert.deepEqual(predictJson(m, { input_layer_1: x }, 'stdin'), want, what);
    }
  });

  it('a Keras 2 .h5 written by recur keeps a named input as tf.keras does, in an InputLayer', async () => {
    const model = new Sequential({
      name: 'seq',
      inputName: 'chars',
      seed: 3,
      layers: [
        new L.LSTM({ name: 'lstm', units: 3, inputShape: [4, 2] }),
        new L.Dense({ name: 'dense', units: 2 }),
      ],
    });
    model.build();
    const x = [
      [
        [0.1, 0.2],
        [0.3, -0.4],
        [0.5, 0.6],
        [-0.7, 0.8],
      ],
    ];
    const want = predictJson(model, { chars: x }, 'stdin');
    const again = (await loadKerasModel((await saveKerasH5(model)).bytes, 'again.h5')).model;
    assert.ok(!(again instanceof Functional));
    assert.equal(again.inputName, 'chars');
    assert.deepEqual(predictJson(again, { chars: x }, 'stdin'), want);
    assert.deepEqual(predictJson(again, { lstm_input: x }, 'stdin'), want);
  });

  it("the default name, <first layer>_input, is not recorded: a recur model's file is as before", () => {
    const model = new Sequential({
      name: 'seq',
      inputName: 'lstm_input',
      layers: [new L.LSTM({ name: 'lstm', units: 2, inputShape: [3, 1] })],
    });
    const recur = (serializeModel(model).json.userDefinedMetadata as { recur: Record<string, unknown> })
      .recur;
    assert.equal(recur.inputName, undefined);
    const named = new Sequential({
      name: 'seq',
      inputName: 'series',
      layers: [new L.LSTM({ name: 'lstm', units: 2, inputShape: [3, 1] })],
    });
    const recurNamed = (serializeModel(named).json.userDefinedMetadata as { recur: Record<string, unknown> })
      .recur;
    assert.equal(recurNamed.inputName, 'series');
  });
});

describe('a tfjs weights manifest whose names differ from the model', () => {
  it('loads by order, shapes checked, and says so in a note naming the first differing weight', async () => {
    const files = tfjsFiles(LIST_H5, () => {});
    const json = JSON.parse(files.modelJson) as { weightsManifest: { weights: { name: string }[] }[] };
    json.weightsManifest[0].weights[1].name = 'renamed/recurrent_kernel';
    const { notes } = await loadModel({ modelJson: JSON.stringify(json), weights: files.weights });
    assert.ok(
      notes.some((n) =>
        /weightsManifest\[0\]\.weights\[1\] is 'renamed\/recurrent_kernel', the model's is 'lstm_1\/recurrent_kernel'\); they were matched in order/.test(
          n,
        ),
      ),
      notes.join('\n'),
    );
  });
});
