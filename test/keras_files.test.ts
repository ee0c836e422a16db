/**
 * Keras files built in the test (keras_fixtures.ts) for every layer recur reads: each loads and predicts exactly
 * what the same model built with recur's API predicts on the same weights, and what TensorFlow.js predicts where it
 * has the layers; recur → .keras → recur and recur → .h5 → recur give identical predictions, and the written files
 * follow Keras's layout; damaged files are clear errors; weights-only files apply by layer name.
 */
import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { InvalidInputError } from '../src/core/errors.js';
import { Tensor, indexTensor, type AnyTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { readKerasArchive } from '../src/keras/archive.js';
import { readH5, group, dataset, writeH5, type H5Group } from '../src/keras/h5.js';
import { loadKerasModel, loadKerasWeights } from '../src/keras/load.js';
import { predictJson } from '../src/keras/predict_json.js';
import { saveKerasArchive, saveKerasH5 } from '../src/keras/save.js';
import { Functional, input } from '../src/models/functional.js';
import type { SymbolicTensor } from '../src/layers/symbolic.js';
import type { Json } from '../src/keras/config.js';
import { loadModel } from '../src/keras/index.js';
import { serializeFunctional } from '../src/models/functional_serialization.js';
import { modelJsonFor, serializeModel } from '../src/models/serialization.js';
import type { Layer } from '../src/layers/layer.js';
import { Sequential } from '../src/models/sequential.js';
import {
  fixtures,
  legacyH5,
  predictAll,
  randomizeWeights,
  type Fixture,
  type Model,
} from './keras_fixtures.js';
import { maxAbsDiff } from './helpers.js';

let all: Fixture[] = [];
before(async () => {
  all = await fixtures();
});

/** The model with every hard sigmoid (either version's) replaced by the sigmoid: same weights, same other layers. */
async function sigmoidTwin(model: Model): Promise<Model> {
  const art = model instanceof Functional ? serializeFunctional(model) : serializeModel(model);
  const file = modelJsonFor(art, 'weights.bin') as { userDefinedMetadata?: { recur?: { sha256?: unknown } } };
  // An edited file: recur's checksum of the original would refuse it.
  delete file.userDefinedMetadata?.recur?.sha256;
  const json = JSON.stringify(file).replace(/"(hard_sigmoid(_keras3)?|hardSigmoid(Keras3)?)"/g, '"sigmoid"');
  return (await loadModel({ modelJson: json, weights: art.weightData })).model;
}

/** The layer classes of a model (wrapped layers too), with the options the issue lists. */
function layerKinds(model: Model): string[] {
  const kinds: string[] = [];
  const visit = (l: Layer): void => {
    kinds.push(l.className);
    const c = l.getConfig();
    if (c.goBackwards === true) kinds.push(`${l.className} goBackwards`);
    if (c.stateful === true) kinds.push(`${l.className} stateful`);
    if (c.maskZero === true) kinds.push(`${l.className} maskZero`);
    if (l.className === 'GRU') kinds.push(c.resetAfter === false ? 'GRU resetAfter=false' : 'GRU resetAfter');
    if (/hard_?[sS]igmoid/.test(JSON.stringify(c))) kinds.push('hard_sigmoid');
    const inner =
      (l as unknown as { layer?: Layer; forwardLayer?: Layer }).layer ??
      (l as unknown as { forwardLayer?: Layer }).forwardLayer;
    if (inner) visit(inner);
  };
  if (model instanceof Functional) for (const n of model.nodes) visit(n.layer);
  else model.layers.forEach(visit);
  return kinds;
}

function samePredictions(a: Model, b: Model, xs: AnyTensor[], tol: number, what: string): void {
  // Stateful layers carry their state from one predict to the next: start both from zero.
  for (const m of [a, b]) if (m instanceof Sequential) m.resetStates();
  const ya = predictAll(a, xs);
  const yb = predictAll(b, xs);
  assert.equal(ya.length, yb.length, `${what}: number of outputs`);
  ya.forEach((y, i) => {
    assert.deepEqual([...y.shape], [...yb[i].shape], `${what}: output ${i} shape`);
    const d = maxAbsDiff(y.data, yb[i].data);
    assert.ok(d <= tol, `${what}: output ${i} differs by ${d}`);
  });
}

async function tfjsPredict(model: Sequential, x: AnyTensor): Promise<Float32Array> {
  const art = serializeModel(model, { includeOptimizer: false });
  const buf = art.weightData.buffer.slice(
    art.weightData.byteOffset,
    art.weightData.byteOffset + art.weightData.byteLength,
  );
  const m = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: art.json.modelTopology as unknown as tf.io.ModelJSON['modelTopology'],
      weightSpecs: art.weightSpecs,
      weightData: buf as ArrayBuffer,
    }),
  );
  const y = m.predict(tf.tensor(Array.from(x.data), [...x.shape], 'float32')) as tf.Tensor;
  return Float32Array.from(await y.data());
}

describe('Keras files built in the test, one per layout and layer', () => {
  it('every fixture loads and predicts exactly what recur predicts with the same weights', async () => {
    assert.ok(all.length >= 9);
    for (const f of all) {
      const { model, notes } = await loadKerasModel(f.bytes, f.name);
      assert.equal(model instanceof Functional, f.reference instanceof Functional, `${f.name}: model kind`);
      samePredictions(model, f.reference, f.inputs, 0, f.name);
      if (/CuDNN/.test(f.name))
        assert.ok(notes.some((n) => /CuDNNLSTM/.test(n)) && notes.some((n) => /CuDNNGRU/.test(n)));
    }
  });

  it('hard_sigmoid is clip(0.2x + 0.5) in Keras 2 files and clip(x/6 + 0.5) in Keras 3 files, and the notes say so', async () => {
    const k2 = all.find((f) => f.name.startsWith('Keras 2.0'))!;
    const k3 = all.find((f) => f.name.startsWith('Keras 3.8 legacy'))!;
    const r2 = await loadKerasModel(k2.bytes, 'k2.h5');
    const r3 = await loadKerasModel(k3.bytes, 'k3.h5');
    assert.equal((r2.model.layers[0] as L.LSTM).recurrentActivation, 'hardSigmoid');
    assert.equal((r3.model.layers[0] as L.LSTM).recurrentActivation, 'hardSigmoidKeras3');
    assert.ok(r2.notes.some((n) => /clip\(0\.2x \+ 0\.5/.test(n)));
    assert.ok(r3.notes.some((n) => /x\/6 \+ 0\.5/.test(n)));
  });

  it('agrees with TensorFlow.js on the same weights where tfjs has the layers', async () => {
    const some = all.filter((f) => f.tfjs);
    assert.ok(some.length >= 3);
    for (const f of some) {
      const { model } = await loadKerasModel(f.bytes, f.name);
      const ours = (model as Sequential).predict(f.inputs[0]).data;
      const theirs = await tfjsPredict(model as Sequential, f.inputs[0]);
      const d = maxAbsDiff(ours, theirs);
      assert.ok(d < 2e-5, `${f.name}: recur vs tfjs ${d}`);
    }
  });

  it('recur → .keras → recur and recur → .h5 → recur give identical predictions', async () => {
    let keras = 0;
    let h5 = 0;
    const covered = { '.keras': new Set<string>(), '.h5': new Set<string>() };
    for (const f of all) {
      const { model } = await loadKerasModel(f.bytes, f.name);
      for (const [ext, save] of [
        ['.keras', saveKerasArchive],
        ['.h5', saveKerasH5],
      ] as const) {
        let saved;
        try {
          saved = await save(model);
        } catch (e) {
          // Only the hard sigmoid the format cannot express is refused.
          assert.ok(
            e instanceof InvalidInputError && /hard_sigmoid/.test(e.message),
            `${f.name} ${ext}: ${String(e)}`,
          );
          // Its other layers still make the trip: the same model with sigmoid gates.
          const twin = await sigmoidTwin(model);
          const back = await loadKerasModel((await save(twin)).bytes, `${f.name} (sigmoid)${ext}`);
          samePredictions(back.model, twin, f.inputs, 0, `${f.name} (sigmoid) via ${ext}`);
          layerKinds(twin).forEach((k) => covered[ext].add(k));
          continue;
        }
        const back = await loadKerasModel(saved.bytes, `${f.name}${ext}`);
        samePredictions(back.model, model, f.inputs, 0, `${f.name} via ${ext}`);
        samePredictions(back.model, f.reference, f.inputs, 0, `${f.name} via ${ext} vs reference`);
        layerKinds(model).forEach((k) => covered[ext].add(k));
        if (ext === '.keras') keras++;
        else h5++;
      }
    }
    assert.ok(keras >= 6 && h5 >= 6, `round trips: ${keras} .keras, ${h5} .h5`);
    // Every layer (and layer option) of the issue's coverage list went through both formats.
    const wanted = [
      'LSTM',
      'LSTM goBackwards',
      'GRU resetAfter',
      'GRU resetAfter=false',
      'SimpleRNN stateful',
      'Dense',
      'Embedding maskZero',
      'Dropout',
      'SpatialDropout1D',
      'Activation',
      'Bidirectional',
      'TimeDistributed',
      'RepeatVector',
      'Masking',
      'Concatenate',
      'Add',
      'Attention',
      'AdditiveAttention',
      'InputLayer',
      'hard_sigmoid',
      'ReLU',
      'LeakyReLU',
      'ELU',
      'Softmax',
      'PReLU',
    ];
    for (const ext of ['.keras', '.h5'] as const)
      assert.deepEqual(
        wanted.filter((k) => !covered[ext].has(k)),
        [],
        `${ext} round trips miss these layers`,
      );
  });

  it('a Sequential model with an input shape but no fit yet saves its weights as .keras and .h5 alike', async () => {
    // The .keras writer read the layers' weights without building the model first: a file with none, which recur then
    // refused to load ('… more than the 0 weight values the file holds'); tfjs and .h5 saves build first.
    for (const save of [saveKerasArchive, saveKerasH5]) {
      const model = new Sequential({
        seed: 3,
        layers: [L.lstm({ units: 2, inputShape: [3, 4] }), L.dense({ units: 1 })],
      });
      const { bytes } = await save(model);
      const { model: back } = await loadKerasModel(bytes, save === saveKerasH5 ? 'u.h5' : 'u.keras');
      const x = new Tensor(
        Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)),
        [2, 3, 4],
      );
      samePredictions(back, model, [x], 0, save.name);
    }
  });

  it('a written .keras has Keras 3 layout: members, config.json spelling and weight paths', async () => {
    const f = all.find((x) => x.name.startsWith('Keras 3.8 .keras'))!;
    const { model } = await loadKerasModel(f.bytes, f.name);
    const { bytes } = await saveKerasArchive(model, new Date(Date.UTC(2026, 0, 2, 3, 4, 5)));
    assert.deepEqual(Object.keys(unzipSync(bytes)).sort(), [
      'config.json',
      'metadata.json',
      'model.weights.h5',
    ]);
    const ar = readKerasArchive(bytes, 'w.keras');
    assert.deepEqual(ar.metadata, { keras_version: '3.9.2', date_saved: '2026-01-02@03:04:05' });
    const cfg = ar.config as {
      module: string;
      class_name: string;
      config: { layers: Record<string, unknown>[] };
    };
    assert.equal(cfg.class_name, 'Functional');
    assert.equal(cfg.module, 'keras.src.models.functional');
    const lstm1 = cfg.config.layers.find((l) => l.name === 'lstm_1')!;
    assert.equal(lstm1.module, 'keras.layers');
    assert.equal(lstm1.registered_name, null);
    const kw = (
      lstm1.inbound_nodes as { kwargs: { initial_state: { config: { keras_history: unknown } }[] } }[]
    )[0].kwargs;
    assert.deepEqual(
      kw.initial_state.map((t) => t.config.keras_history),
      [
        ['lstm', 0, 1],
        ['lstm', 0, 2],
      ],
    );
    assert.deepEqual((lstm1.config as { dtype: unknown }).dtype, {
      module: 'keras',
      class_name: 'DTypePolicy',
      config: { name: 'float32' },
      registered_name: null,
    });
    const root = await readH5(ar.weights, 'model.weights.h5');
    const paths: string[] = [];
    const walk = (g: H5Group, p: string): void => {
      for (const [k, c] of g.children) {
        const q = p ? `${p}/${k}` : k;
        if (c.kind === 'group') walk(c, q);
        else paths.push(`${q} ${c.shape.join('x')}`);
      }
    };
    walk(root, '');
    for (const want of [
      'layers/lstm/cell/vars/0 3x16',
      'layers/lstm_1/cell/vars/1 4x16',
      'layers/bidirectional/forward_layer/cell/vars/2 2x6',
      'layers/bidirectional/backward_layer/cell/vars/0 4x6',
      'layers/time_distributed/layer/vars/0 2x7',
      'layers/embedding_1/vars/0 7x3',
    ])
      assert.ok(paths.includes(want), `missing ${want} in ${paths.join(', ')}`);
    const vars = root.children.get('layers') as H5Group;
    assert.equal(
      ((vars.children.get('lstm') as H5Group).children.get('cell') as H5Group).children.get('vars')!.attrs
        .name,
      'lstm_cell',
    );
    assert.equal((root.children.get('vars') as H5Group).attrs.name, 'functional');
  });

  it("a stateful model's .keras carries its batch size in every build_config and tensor shape, as Keras builds it", async () => {
    // Keras 3's RNN.build refuses a stateful layer built from a shape without a batch size (ValueError "the batch
    // size must be static"), and loading builds each layer from its build_config.
    const seq = new Sequential({
      seed: 1,
      layers: [
        new L.LSTM({ units: 3, stateful: true, batchInputShape: [2, 5, 4], returnSequences: true }),
        new L.Dense({ units: 2 }),
      ],
    });
    const x = input({ batchInputShape: [2, 5, 4], name: 'x' });
    const [, h, c] = new L.LSTM({ units: 3, stateful: true, returnState: true }).applyMany(x);
    const d = new L.LSTM({ units: 3, stateful: true }).apply(x, { initialState: [h, c] }) as SymbolicTensor;
    const fun = new Functional({
      inputs: [x],
      outputs: new L.Dense({ units: 2 }).apply(d) as SymbolicTensor,
    });
    const shapes: Json[] = [];
    const collect = (v: Json): void => {
      if (Array.isArray(v)) v.forEach(collect);
      else if (v !== null && typeof v === 'object')
        for (const [k, w] of Object.entries(v)) {
          if (['input_shape', 'sequences_shape', 'shape', 'batch_shape', 'build_input_shape'].includes(k))
            shapes.push(w);
          else if (k === 'initial_state_shape') (w as Json[]).forEach((s) => shapes.push(s));
          else collect(w);
        }
    };
    for (const model of [seq, fun]) {
      const cfg = readKerasArchive((await saveKerasArchive(model)).bytes, 'w.keras').config as Json;
      shapes.length = 0;
      collect((cfg as { config: Json }).config);
      assert.ok(shapes.length >= 3);
      for (const s of shapes) assert.equal((s as number[])[0], 2, `${model.name}: ${JSON.stringify(s)}`);
    }
  });

  it("a functional model's .h5 lists its layers in Keras's order, as Keras loads its weights by position", async () => {
    // Keras's load_weights_from_hdf5_group gives the i-th layer with weights in `layer_names` to the i-th layer with
    // weights of the model it rebuilt, in the graph's order (deepest first; ties in depth-first order from the
    // outputs): here enc_in, dec_in, enc_emb, dec_emb, encoder, decoder, out.
    const encIn = input({ shape: [4], name: 'enc_in', dtype: 'int32' });
    const decIn = input({ shape: [3], name: 'dec_in', dtype: 'int32' });
    const encEmb = new L.Embedding({ inputDim: 7, outputDim: 3, name: 'enc_emb' }).apply(
      encIn,
    ) as SymbolicTensor;
    const decEmb = new L.Embedding({ inputDim: 5, outputDim: 3, name: 'dec_emb' }).apply(
      decIn,
    ) as SymbolicTensor;
    const [, h, c] = new L.LSTM({ units: 2, returnState: true, name: 'encoder' }).applyMany(encEmb);
    const dec = new L.LSTM({ units: 2, returnSequences: true, name: 'decoder' }).apply(decEmb, {
      initialState: [h, c],
    }) as SymbolicTensor;
    const out = new L.Dense({ units: 5, name: 'out' }).apply(dec) as SymbolicTensor;
    const model = new Functional({ inputs: [encIn, decIn], outputs: out, seed: 1 });
    const root = await readH5((await saveKerasH5(model)).bytes, 'w.h5');
    const mw = root.children.get('model_weights') as H5Group;
    const keras = ['enc_in', 'dec_in', 'enc_emb', 'dec_emb', 'encoder', 'decoder', 'out'];
    assert.deepEqual(mw.attrs.layer_names, keras);
    const config = JSON.parse(root.attrs.model_config as string) as {
      config: { layers: { name: string }[] };
    };
    assert.deepEqual(
      config.config.layers.map((l) => l.name),
      keras,
    );
    // The .keras file lists them the same way (its weights paths follow that order too).
    const archive = readKerasArchive((await saveKerasArchive(model)).bytes, 'w.keras')
      .config as typeof config;
    assert.deepEqual(
      archive.config.layers.map((l) => l.name),
      keras,
    );
  });

  it('a written .h5 has Keras 2 layout: model_config, layer_names, weight_names, <layer>/<layer>/<weight>:0', async () => {
    const f = all.find((x) => x.name.startsWith('tf.keras 2.2.4-tf'))!;
    const { model } = await loadKerasModel(f.bytes, f.name);
    const root = await readH5((await saveKerasH5(model)).bytes, 'w.h5');
    assert.equal(root.attrs.keras_version, '2.15.0');
    const cfg = JSON.parse(root.attrs.model_config as string) as {
      class_name: string;
      config: { layers: { class_name: string }[] };
    };
    assert.equal(cfg.class_name, 'Sequential');
    assert.deepEqual(
      cfg.config.layers.map((l) => l.class_name),
      ['Embedding', 'Bidirectional', 'RepeatVector', 'LSTM', 'TimeDistributed'],
    );
    const mw = root.children.get('model_weights') as H5Group;
    assert.deepEqual(mw.attrs.layer_names, [
      'embedding_1',
      'bidirectional',
      'repeat_vector',
      'lstm_1',
      'time_distributed',
    ]);
    const bi = mw.children.get('bidirectional') as H5Group;
    assert.deepEqual((bi.attrs.weight_names as string[]).slice(0, 2), [
      'bidirectional/forward_lstm/kernel:0',
      'bidirectional/forward_lstm/recurrent_kernel:0',
    ]);
    const k = (
      (bi.children.get('bidirectional') as H5Group).children.get('forward_lstm') as H5Group
    ).children.get('kernel:0')!;
    assert.equal(k.kind, 'dataset');
    assert.deepEqual(k.kind === 'dataset' ? k.shape : [], [4, 12]);
  });

  it('a model with Keras 2 hard_sigmoid is refused as .keras (Keras 3 computes it differently), naming the layer', async () => {
    const f = all.find((x) => x.name.startsWith('Keras 2.0'))!;
    const { model } = await loadKerasModel(f.bytes, f.name);
    await assert.rejects(
      saveKerasArchive(model),
      /layer 'lstm_1' uses Keras 2's hard_sigmoid.*Save it as \.h5/,
    );
    const k3 = all.find((x) => x.name.startsWith('Keras 3.9'))!;
    await assert.rejects(
      saveKerasH5((await loadKerasModel(k3.bytes, 'x')).model),
      /layer 'gru_1' uses Keras 3's hard_sigmoid.*save it as \.keras/,
    );
  });

  it("a .h5 with Keras 2's hard_sigmoid says Keras 3, which loads .h5 files too, computes it otherwise, naming the layers", async () => {
    const f = all.find((x) => x.name.startsWith('Keras 2.0'))!;
    const { model } = await loadKerasModel(f.bytes, f.name);
    const note =
      /Keras 2's hard_sigmoid, clip\(0\.2x \+ 0\.5, 0, 1\).*Keras 3 loads \.h5 files too.*clip\(x\/6 \+ 0\.5, 0, 1\)/;
    const single = (await saveKerasH5(model)).notes.filter((n) => note.test(n));
    assert.equal(single.length, 1);
    assert.match(single[0], /^layer 'lstm_1' uses /);
    // Wrapped layers are named by their own name, each once.
    const m = new Sequential({ seed: 4 });
    m.add(
      L.bidirectional({
        layer: L.gru({ name: 'inner', units: 2, recurrentActivation: 'hard_sigmoid' }),
        inputShape: [3, 2],
      }),
    );
    m.add(L.repeatVector({ n: 2 }));
    m.add(L.lstm({ name: 'outer', units: 2, recurrentActivation: 'hard_sigmoid' }));
    m.build();
    const both = (await saveKerasH5(m)).notes.filter((n) => note.test(n));
    assert.equal(both.length, 1);
    assert.match(both[0], /^layers 'inner', 'outer' use /);
    assert.deepEqual((await saveKerasH5(await sigmoidTwin(model))).notes, []);
  });

  it("gelu_new (tfjs's tanh gelu) is refused in Keras files, naming the layer: Keras's 'gelu' is the exact form", async () => {
    const m = new Sequential({
      seed: 3,
      layers: [new L.Dense({ name: 'approx', units: 2, activation: 'geluNew', inputShape: [3] })],
    });
    m.build();
    for (const save of [saveKerasArchive, saveKerasH5])
      await assert.rejects(save(m), /layer 'approx' uses gelu_new, the tanh approximation of gelu/);
  });

  it("a masked GlobalMaxPooling1D (Keras's takes no mask) is a note when saved as .keras or .h5 and when read back", async () => {
    const pooled = (maskZero: boolean): Sequential => {
      const m = new Sequential({ seed: 2 });
      m.add(L.embedding({ inputDim: 6, outputDim: 3, inputShape: [5], maskZero }));
      m.add(L.bidirectional({ layer: L.lstm({ units: 2, returnSequences: true }) }));
      m.add(L.globalMaxPooling1d());
      m.add(L.dense({ units: 1, activation: 'sigmoid' }));
      m.build();
      return m;
    };
    const note = /GlobalMaxPooling1D ignores the mask .*Keras's predictions differ from recur's/;
    for (const save of [saveKerasArchive, saveKerasH5]) {
      const saved = await save(pooled(true));
      assert.equal(saved.notes.filter((n) => note.test(n)).length, 1, saved.notes.join('\n'));
      const { notes } = await loadKerasModel(saved.bytes, 'pooled');
      assert.ok(
        notes.some((n) => n.startsWith('pooled: ') && note.test(n)),
        notes.join('\n'),
      );
      assert.deepEqual((await save(pooled(false))).notes, []);
    }
  });

  it("a masked Bidirectional returning sequences (Keras zeroes its padded steps, recur's repeat) is a note when saved as .keras or .h5", async () => {
    const bidi = (maskZero: boolean, returnSequences: boolean): Sequential => {
      const m = new Sequential({ seed: 3 });
      m.add(L.embedding({ inputDim: 6, outputDim: 3, inputShape: [5], maskZero }));
      m.add(L.bidirectional({ layer: L.lstm({ units: 2, returnSequences }), name: 'bidi' }));
      m.build();
      return m;
    };
    // What recur computes at the padded steps 3 and 4: the forward RNN repeats step 2's output (Keras: zeros).
    const y = bidi(true, true).predict(indexTensor([[1, 2, 3, 0, 0]])) as Tensor;
    const forward = (t: number): number[] => Array.from(y.data.subarray(t * 4, t * 4 + 2));
    assert.ok(forward(2).some((v) => v !== 0));
    assert.deepEqual(forward(4), forward(2));
    const note =
      /^Keras's Bidirectional outputs zeros at masked steps when it returns sequences \(it sets zero_output_for_mask\), where recur's repeats the previous step's output: on padded inputs the outputs of 'bidi' at padded steps/;
    for (const save of [saveKerasArchive, saveKerasH5]) {
      const notes = (await save(bidi(true, true))).notes;
      assert.equal(notes.filter((n) => note.test(n)).length, 1, notes.join('\n'));
      assert.deepEqual((await save(bidi(false, true))).notes, []);
      assert.deepEqual((await save(bidi(true, false))).notes, []);
    }
  });

  it("Keras 3's dict of inputs and outputs ({key: [layer, node, tensor]}) loads in Keras's order, sorted by key", async () => {
    const f = all.find((x) => x.name.startsWith('Keras 3.8 .keras Functional'))!;
    const files = unzipSync(f.bytes);
    const cfg = JSON.parse(new TextDecoder().decode(files['config.json'])) as {
      config: Record<string, Json>;
    };
    // Keys sorting the other way round from the layers: 'dec' (input_layer_1) comes first.
    cfg.config.input_layers = { enc: ['input_layer', 0, 0], dec: ['input_layer_1', 0, 0] };
    cfg.config.output_layers = { probs: ['time_distributed', 0, 0] };
    const edited = zipSync({ ...files, 'config.json': strToU8(JSON.stringify(cfg)) });
    const { model } = await loadKerasModel(edited, 'dict.keras');
    assert.ok(model instanceof Functional);
    assert.deepEqual(
      model.inputs.map((x) => x.node.layer.name),
      ['input_layer_1', 'input_layer'],
    );
    const [a, b] = f.inputs;
    assert.deepEqual(predictAll(model, [b, a])[0].data, predictAll(f.reference, [a, b])[0].data);
  });

  it('predictJson reads token ids and floats and names the outputs', async () => {
    const f = all.find((x) => x.name.startsWith('Keras 3.8 .keras'))!;
    const { model } = await loadKerasModel(f.bytes, f.name);
    const out = predictJson(
      model,
      { input_layer: f.inputs[0].toArray(), input_layer_1: f.inputs[1].toArray() },
      'stdin',
    );
    assert.deepEqual(Object.keys(out), ['time_distributed']);
    assert.throws(
      () => predictJson(model, { input_layer: [[1.5, 2]], input_layer_1: [[1]] }, 'stdin'),
      /input 'input_layer'.*token id/,
    );
    assert.throws(() => predictJson(model, [[1, 2]], 'stdin'), /takes 2 inputs/);
    assert.throws(() => predictJson(model, { nope: [] }, 'stdin'), /'nope' is not an input/);
  });
});

describe('loadModel (browser entry): bytes, Blob/File, or a recur model.json with its weights', () => {
  it('loads every format and says which', async () => {
    const f = all.find((x) => x.name.startsWith('Keras 3.8 .keras'))!;
    const fromBlob = await loadModel(new Blob([f.bytes.slice().buffer as ArrayBuffer]), 'm.keras');
    assert.equal(fromBlob.format, 'keras');
    samePredictions(fromBlob.model, f.reference, f.inputs, 0, 'Blob');
    const h5 = all.find((x) => x.name.startsWith('tf.keras 2.2.4-tf'))!;
    const fromBuffer = await loadModel(h5.bytes.slice().buffer as ArrayBuffer);
    assert.equal(fromBuffer.format, 'keras-h5');
    const art = serializeModel(fromBuffer.model as Sequential, {});
    const files = { modelJson: modelJsonFor(art, 'weights.bin'), weights: art.weightData };
    const fromFiles = await loadModel(files, 'model.json');
    assert.equal(fromFiles.format, 'recur');
    samePredictions(fromFiles.model, h5.reference, h5.inputs, 0, 'model.json + weights');
    await assert.rejects(loadModel(new Uint8Array(0), 'empty.h5'), /empty\.h5: empty/);
  });
});

describe('Keras weights-only files (save_weights, ModelCheckpoint)', () => {
  function sameArchitecture(build = true, inputShape: number[] | null = [6]): Sequential {
    const m = new Sequential({
      seed: 3,
      layers: [
        new L.Embedding({
          name: 'embedding',
          inputDim: 9,
          outputDim: 4,
          maskZero: true,
          inputShape: inputShape ?? undefined,
        }),
        new L.GRU({
          name: 'gru',
          units: 3,
          resetAfter: false,
          recurrentActivation: 'hardSigmoid',
          returnSequences: true,
        }),
        new L.GRU({ name: 'gru_1', units: 4, resetAfter: true }),
        new L.Dense({ name: 'dense', units: 1, activation: 'sigmoid' }),
      ],
    });
    if (build) m.build();
    return m;
  }

  it('apply by layer name to a recur model of the same architecture', async () => {
    const f = all.find((x) => x.name.startsWith('tf.keras 2.4'))!;
    const { bytes } = await legacyH5(
      f.reference,
      null,
      '2.4.0',
      (l) => l.weights.map((w) => `${l.name}/${w.name}:0`),
      { weightsOnly: true },
    );
    await assert.rejects(
      loadKerasModel(bytes, 'w.h5'),
      /weights-only Keras file \(save_weights; .*save the whole model in Keras \(model\.save.*loadKerasWeights/,
    );
    const m = sameArchitecture();
    const report = await loadKerasWeights(m, bytes, 'w.h5');
    assert.deepEqual(report.loaded, ['embedding', 'gru', 'gru_1', 'dense']);
    samePredictions(m, f.reference, f.inputs, 0, 'weights-only');
  });

  it('build a model not yet built for its declared input shape first (as Keras), and refuse one with none', async () => {
    const f = all.find((x) => x.name.startsWith('tf.keras 2.4'))!;
    const { bytes } = await legacyH5(
      f.reference,
      null,
      '2.4.0',
      (l) => l.weights.map((w) => `${l.name}/${w.name}:0`),
      { weightsOnly: true },
    );
    // Unbuilt, its layers have no weights yet: they once matched nothing, and the file loaded into no layer.
    const unbuilt = sameArchitecture(false);
    const report = await loadKerasWeights(unbuilt, bytes, 'w.h5');
    assert.deepEqual(report.loaded, ['embedding', 'gru', 'gru_1', 'dense']);
    samePredictions(unbuilt, f.reference, f.inputs, 0, 'weights-only, unbuilt');
    await assert.rejects(loadKerasWeights(sameArchitecture(false, null), bytes, 'w.h5'), (e: Error) => {
      assert.ok(e instanceof InvalidInputError);
      assert.match(
        e.message,
        /^w\.h5: model '\w+' has no weights yet to load these into: give its first layer/,
      );
      return true;
    });
  });

  it('list every mismatch (missing layer, extra layer, shape) and change nothing', async () => {
    const other = new Sequential({
      seed: 4,
      layers: [
        new L.Embedding({ name: 'embedding', inputDim: 9, outputDim: 5, inputShape: [6] }),
        new L.GRU({ name: 'gru_x', units: 3 }),
        new L.Dense({ name: 'dense', units: 1 }),
      ],
    });
    other.build();
    randomizeWeights(other, 1);
    const { bytes } = await legacyH5(
      all.find((x) => x.name.startsWith('tf.keras 2.4'))!.reference,
      null,
      '2.4.0',
      (l) => l.weights.map((w) => `${l.name}/${w.name}:0`),
      { weightsOnly: true },
    );
    const before = other.layers.map((l) => l.weights.map((w) => w.value.slice()));
    await assert.rejects(loadKerasWeights(other, bytes, 'w.h5'), (e: Error) => {
      assert.ok(e instanceof InvalidInputError);
      assert.match(e.message, /w\.h5: the weights do not fit the model/);
      assert.match(
        e.message,
        /layer 'embedding' \(Embedding\) needs 9×5; the file has \/embedding\/embedding\/embeddings:0 9×4/,
      );
      assert.match(e.message, /layer 'gru_x' \(GRU\) has weights but the file has none for it/);
      assert.match(e.message, /the file has weights for 'gru', which is not a layer of the model/);
      assert.match(
        e.message,
        /layer 'dense' \(Dense\) needs 3×1, 1; the file has \/dense\/dense\/kernel:0 4×1/,
      );
      return true;
    });
    other.layers.forEach((l, i) => l.weights.forEach((w, j) => assert.deepEqual(w.value, before[i][j])));
  });
  it("Keras 3's layout (a .keras archive, or save_weights's .weights.h5) applies by Keras's layer paths", async () => {
    // As sameArchitecture, with Keras 3's gates (a .keras file cannot hold Keras 2's hard sigmoid).
    const k3Architecture = (): Sequential => {
      const m = new Sequential({
        seed: 3,
        layers: [
          new L.Embedding({ name: 'embedding', inputDim: 9, outputDim: 4, maskZero: true, inputShape: [6] }),
          new L.GRU({ name: 'gru', units: 3, resetAfter: false, returnSequences: true }),
          new L.GRU({ name: 'gru_1', units: 4, resetAfter: true }),
          new L.Dense({ name: 'dense', units: 1, activation: 'sigmoid' }),
        ],
      });
      m.build();
      return m;
    };
    const source = k3Architecture();
    randomizeWeights(source, 7);
    const archive = (await saveKerasArchive(source)).bytes;
    const x = all.find((f) => f.name.startsWith('tf.keras 2.4'))!.inputs;
    for (const [what, bytes] of [
      ['.keras', archive],
      ['.weights.h5', readKerasArchive(archive, 'w.keras').weights],
    ] as const) {
      const m = k3Architecture();
      const report = await loadKerasWeights(m, bytes, `w${what}`);
      assert.deepEqual(report.loaded, ['embedding', 'gru', 'gru_1', 'dense'], what);
      samePredictions(m, source, x, 0, what);
    }
    // Another architecture: every layer that does not fit is named, and nothing changes.
    const other = new Sequential({
      seed: 4,
      layers: [
        new L.Embedding({ name: 'e', inputDim: 9, outputDim: 5, inputShape: [6] }),
        new L.GRU({ name: 'g', units: 3, resetAfter: false, returnSequences: true }),
        new L.GRU({ name: 'g2', units: 4, resetAfter: true }),
        new L.Dense({ name: 'd', units: 1 }),
      ],
    });
    other.build();
    const before = other.layers.map((l) => l.weights.map((w) => w.value.slice()));
    await assert.rejects(loadKerasWeights(other, archive, 'w.keras'), (e: Error) => {
      assert.ok(e instanceof InvalidInputError);
      assert.match(e.message, /w\.keras: the weights \(Keras 3 layout\) do not fit the model/);
      assert.match(
        e.message,
        /layer 'e' \(Embedding\) needs 9×5; the file has \/layers\/embedding\/vars\/0 9×4/,
      );
      assert.match(
        e.message,
        /layer 'g' \(GRU\) needs 5×9, 3×9, 9; the file has \/layers\/gru\/cell\/vars\/0 4×9/,
      );
      return true;
    });
    other.layers.forEach((l, i) => l.weights.forEach((w, j) => assert.deepEqual(w.value, before[i][j])));
  });
});

describe('damaged Keras files are clear errors naming the file and the place', () => {
  const base = (): Fixture => all.find((x) => x.name.startsWith('Keras 2.0'))!;
  async function mutated(edit: (root: H5Group) => void): Promise<Uint8Array> {
    const root = await readH5(base().bytes, 'x');
    edit(root);
    return writeH5(root);
  }
  const fails = async (bytes: Uint8Array, re: RegExp): Promise<void> => {
    await assert.rejects(loadKerasModel(bytes, 'm.h5'), (e: Error) => {
      assert.ok(e instanceof InvalidInputError, `${e.name}: ${e.message}`);
      assert.match(e.message, re);
      return true;
    });
  };

  it('truncated HDF5 and .keras files', async () => {
    const b = base().bytes;
    await fails(b.subarray(0, Math.floor(b.length / 2)), /m\.h5: .*(truncated|damaged)/);
    await fails(b.subarray(0, 5), /not an HDF5 file|neither an HDF5/);
    const k = all.find((x) => x.name.startsWith('Keras 3.9'))!.bytes;
    await fails(k.subarray(0, k.length - 200), /m\.h5: .*(zip|truncated|damaged)/);
    await fails(
      new TextEncoder().encode('{"modelTopology": {}}'),
      /neither an HDF5 file \(\.h5\) nor a zip archive/,
    );
  });

  it('a dataset of the wrong shape names the dataset, the layer and both shapes', async () => {
    const bytes = await mutated((root) => {
      const g = (
        (root.children.get('model_weights') as H5Group).children.get('lstm_1') as H5Group
      ).children.get('lstm_1') as H5Group;
      g.children.set('kernel:0', dataset([5, 12], new Float32Array(60)));
    });
    await fails(
      bytes,
      /m\.h5: \/model_weights\/lstm_1\/lstm_1\/kernel:0: weight 'kernel' of layer 'lstm_1' \(LSTM\) should have shape \[4, 12\] but the file has \[5, 12\]/,
    );
  });

  it('missing attributes and datasets', async () => {
    await fails(
      await mutated((r) => delete (r.children.get('model_weights') as H5Group).attrs.layer_names),
      /\/model_weights: missing attribute 'layer_names'/,
    );
    await fails(
      await mutated(
        (r) =>
          delete ((r.children.get('model_weights') as H5Group).children.get('lstm_1') as H5Group).attrs
            .weight_names,
      ),
      /\/model_weights\/lstm_1: missing attribute 'weight_names'/,
    );
    await fails(
      await mutated((r) =>
        (
          ((r.children.get('model_weights') as H5Group).children.get('lstm_1') as H5Group).children.get(
            'lstm_1',
          ) as H5Group
        ).children.delete('bias:0'),
      ),
      /\/model_weights\/lstm_1\/lstm_1\/bias:0: missing/,
    );
    await fails(
      await mutated((r) => (r.attrs.model_config = '{"class_name": "Sequential", "config": [')),
      /attribute 'model_config': not valid JSON at line 1, column 41 \(the text ends where a value was expected\)$/,
    );
  });

  it('an unknown layer class names the class and its path in the file', async () => {
    const bytes = await mutated((r) => {
      const cfg = JSON.parse(r.attrs.model_config as string) as {
        config: { class_name: string; config: Record<string, unknown> }[];
      };
      cfg.config[1] = { class_name: 'Conv1D', config: { name: 'conv1d_1', filters: 3 } };
      r.attrs.model_config = JSON.stringify(cfg);
    });
    await fails(
      bytes,
      /m\.h5: model_config\.config\[1\]: layer 'conv1d_1' has class 'Conv1D', which recur cannot read \(recur reads .*CuDNNLSTM.*LSTM/,
    );
    const nested = await mutated((r) => {
      const cfg = JSON.parse(r.attrs.model_config as string) as { config: unknown[] };
      cfg.config.push({
        class_name: 'TimeDistributed',
        config: { name: 'td', layer: { class_name: 'Conv2D', config: { name: 'c' } } },
      });
      r.attrs.model_config = JSON.stringify(cfg);
    });
    await fails(nested, /model_config\.config\[3\]\.config\.layer: layer 'c' has class 'Conv2D'/);
  });

  it('Keras 1 files are refused as such', async () => {
    await fails(await mutated((r) => (r.attrs.keras_version = '1.2.2')), /Keras 1 files are not supported/);
    await fails(
      await mutated((r) => {
        const cfg = JSON.parse(r.attrs.model_config as string) as {
          config: { config: Record<string, unknown> }[];
        };
        Object.assign(cfg.config[0].config, {
          init: 'glorot_uniform',
          inner_init: 'orthogonal',
          inner_activation: 'hard_sigmoid',
        });
        delete r.attrs.keras_version;
        r.attrs.model_config = JSON.stringify(cfg);
      }),
      /layer 'lstm_1' has Keras 1 options \(init, inner_init, inner_activation\); Keras 1 files are not supported/,
    );
  });

  it('non-finite weights are refused, naming the dataset', async () => {
    const bytes = await mutated((r) => {
      const g = (
        (r.children.get('model_weights') as H5Group).children.get('dense_1') as H5Group
      ).children.get('dense_1') as H5Group;
      const b = new Float32Array(6);
      b[2] = NaN;
      g.children.set('bias:0', dataset([6], b));
    });
    await fails(bytes, /\/model_weights\/dense_1\/dense_1\/bias:0: holds NaN at index 2/);
  });

  it('a .keras without weights or with bad JSON', async () => {
    const { zipSync } = await import('fflate');
    const enc = new TextEncoder();
    await fails(
      zipSync({ 'config.json': enc.encode('{}'), 'metadata.json': enc.encode('{}') }),
      /no model\.weights\.h5/,
    );
    await fails(
      zipSync({ 'config.json': enc.encode('{"class_name": '), 'model.weights.h5': await writeH5(group()) }),
      /config\.json: not valid JSON at line 1, column 16 \(the text ends where a value was expected\)/,
    );
    // A layer's weights group missing from model.weights.h5: the path and the layer that needs it.
    const f = all.find((x) => x.name.startsWith('Keras 3.9 .keras Sequential'))!;
    const files = unzipSync(f.bytes);
    const root = await readH5(files['model.weights.h5'], 'w');
    (root.children.get('layers') as H5Group).children.delete('dense');
    await fails(
      zipSync({ ...files, 'model.weights.h5': await writeH5(root) }),
      /model\.weights\.h5: \/layers\/dense: missing \(Keras keeps the weights of layer 'dense\w*' \(Dense\) there\)/,
    );
  });
});
