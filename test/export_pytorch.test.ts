/**
 * `recur export pytorch` (issue #17): the weight-layout mapping checked against PyTorch's own equations in TypeScript;
 * the command's files and errors; and, where a Python with PyTorch is installed (RECUR_PYTHON, python3 or
 * /usr/bin/python3; CI installs Debian's python3-torch), the exported module's forward against recur's predict for
 * every exported layer, a 2-process torchrun on 127.0.0.1 whose written model loads in recur with the weights PyTorch
 * holds, and a run stopped by --max-steps and resumed to the end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor } from '../src/core/tensor.js';
import {
  PYTORCH_ACTIVATIONS,
  kerasToTorch,
  pytorchExportProblem,
  pytorchGraphProblem,
  torchToKeras,
  type ExportLayerJson,
  type LayoutParams,
  type LayoutTensor,
} from '../src/export/pytorch_layout.js';
import {
  ACTIVATION_SPELLINGS,
  activationName,
  activationToKeras,
  type ActivationIdentifier,
} from '../src/layers/activations.js';
import * as L from '../src/layers/index.js';
import type { Layer } from '../src/layers/layer.js';
import type { SymbolicTensor } from '../src/layers/symbolic.js';
import { cosineDecay } from '../src/models/callbacks.js';
import { input, model as functionalModel } from '../src/models/functional.js';
import { functionalTopology } from '../src/models/functional_serialization.js';
import { layerToKeras } from '../src/models/serialization.js';
import { Sequential } from '../src/models/sequential.js';
import { loadFunctionalModel, loadModel, saveModel } from '../src/node/model_io.js';
import { G2P_SETTINGS, buildSeq2SeqModel, type Seq2SeqSettings } from '../src/seq2seq/model.js';
import { pytorchProjectFiles } from '../src/export/pytorch_project.js';
import { maxAbsDiff, randomTensor } from './helpers.js';
import { runCli as run, pairs, pseudoText, reviews } from './cli_helpers.js';

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** y = W x + b for W [R, C] (row-major), x [C]. */
function affine(W: LayoutTensor, x: ArrayLike<number>, b?: LayoutTensor): Float64Array {
  const [R, C] = W.shape;
  const y = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    let s = b ? b.data[r] : 0;
    for (let c = 0; c < C; c++) s += W.data[r * C + c] * x[c];
    y[r] = s;
  }
  return y;
}

/**
 * PyTorch's LSTM, GRU and RNN equations (torch.nn docs), written out naively over its parameters: the outputs of
 * every step for one sequence x [T, D].
 */
function torchRecurrent(kind: string, p: LayoutParams, H: number, x: Float32Array, T: number): Float64Array {
  const D = x.length / T;
  let h: ArrayLike<number> = new Float64Array(H);
  let c = new Float64Array(H);
  const out = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    const xt = x.subarray(t * D, (t + 1) * D);
    const gi = affine(p.weight_ih_l0, xt, p.bias_ih_l0);
    const gh = affine(p.weight_hh_l0, h, p.bias_hh_l0);
    const next = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      if (kind === 'LSTM') {
        const i = sigmoid(gi[j] + gh[j]);
        const f = sigmoid(gi[H + j] + gh[H + j]);
        const g = Math.tanh(gi[2 * H + j] + gh[2 * H + j]);
        const o = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
        c[j] = f * c[j] + i * g;
        next[j] = o * Math.tanh(c[j]);
      } else if (kind === 'GRU') {
        const r = sigmoid(gi[j] + gh[j]);
        const z = sigmoid(gi[H + j] + gh[H + j]);
        const n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
        next[j] = (1 - z) * n + z * h[j];
      } else next[j] = Math.tanh(gi[j] + gh[j]);
    }
    h = next;
    c = c.slice();
    out.set(next, t * H);
  }
  return out;
}

function paramsOf(layer: L.Dense | L.LSTM | L.GRU | L.SimpleRNN): LayoutParams {
  return Object.fromEntries(
    layer.weights.map((w) => [w.name, { shape: [...w.shape], data: w.value.slice() }]),
  );
}

describe('weight layout: recur (Keras) ↔ PyTorch', () => {
  const T = 5;
  const D = 3;
  const H = 4;
  const cells = [
    ['LSTM', (a: object) => new L.LSTM({ units: H, ...a })],
    ['GRU', (a: object) => new L.GRU({ units: H, ...a })],
    ['SimpleRNN', (a: object) => new L.SimpleRNN({ units: H, ...a })],
  ] as const;
  for (const [kind, make] of cells) {
    it(`${kind}: PyTorch's equations on the mapped weights give recur's outputs; the mapping round-trips`, () => {
      const layer = make({ inputShape: [T, D], returnSequences: true, biasInitializer: 'randomNormal' });
      const model = new Sequential({ seed: 4, layers: [layer] });
      model.build();
      const x = randomTensor([2, T, D], new Random(9));
      const want = model.predict(x);
      const p = kerasToTorch(kind, layer.name, H, paramsOf(layer));
      for (let n = 0; n < 2; n++) {
        const got = torchRecurrent(kind, p, H, x.data.slice(n * T * D, (n + 1) * T * D), T);
        assert.ok(
          maxAbsDiff(got, want.data.subarray(n * T * H, (n + 1) * T * H)) < 1e-5,
          `${kind}, sequence ${n}`,
        );
      }
      const back = torchToKeras(kind, layer.name, H, p);
      for (const w of layer.weights) {
        assert.deepEqual(back[w.name].shape, [...w.shape], `${w.name} shape`);
        assert.deepEqual(back[w.name].data, w.value, `${w.name} values`);
      }
    });
  }

  it('Dense: Linear(x) = x·kernel + bias', () => {
    const dense = new L.Dense({ units: 3, inputShape: [5], biasInitializer: 'randomNormal' });
    const model = new Sequential({ seed: 2, layers: [dense] });
    model.build();
    const x = randomTensor([1, 5], new Random(3));
    const p = kerasToTorch('Dense', dense.name, 3, paramsOf(dense));
    assert.deepEqual(p.weight.shape, [3, 5]);
    assert.ok(maxAbsDiff(affine(p.weight, x.data, p.bias), model.predict(x).data) < 1e-6);
    assert.deepEqual(torchToKeras('Dense', dense.name, 3, p).kernel.data, dense.weights[0].value);
  });

  it("Embedding, PReLU: the same table, alpha; GRU reset_after=false: Keras's layout kept (model.py's GRUResetBefore)", () => {
    const table: LayoutTensor = { shape: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    assert.deepEqual(kerasToTorch('Embedding', 'e', 0, { embeddings: table }), { weight: table });
    assert.deepEqual(torchToKeras('Embedding', 'e', 0, { weight: table }), { embeddings: table });
    assert.deepEqual(kerasToTorch('PReLU', 'p', 0, { alpha: table }), { alpha: table });
    assert.deepEqual(torchToKeras('PReLU', 'p', 0, { alpha: table }), { alpha: table });
    const gru = new L.GRU({ units: H, resetAfter: false, inputShape: [T, D] });
    new Sequential({ seed: 3, layers: [gru] }).build();
    const p = kerasToTorch('GRU', gru.name, H, paramsOf(gru), false);
    assert.deepEqual(Object.keys(p).sort(), ['bias', 'kernel', 'recurrent_kernel']);
    assert.deepEqual(torchToKeras('GRU', gru.name, H, p).bias.data, gru.weights[2].value);
  });

  it("Bidirectional over right-padded rows: each half is PyTorch's layer on the row's own steps (the backward half reversed)", () => {
    const V = 6;
    const E = 3;
    const lstm = new L.LSTM({ units: H, returnSequences: true, biasInitializer: 'randomNormal' });
    const bi = new L.Bidirectional({ layer: lstm });
    const emb = new L.Embedding({ inputDim: V, outputDim: E, maskZero: true, inputShape: [null] });
    const model = new Sequential({ seed: 8, layers: [emb, bi] });
    model.build();
    const rows = [
      [3, 1, 4, 5, 2],
      [2, 5, 0, 0, 0],
      [0, 0, 0, 0, 0],
    ];
    const want = model.predict(new IndexTensor(Int32Array.from(rows.flat()), [3, T])).data;
    const table = emb.weights[0].value;
    const half = (dir: 'forward' | 'backward'): LayoutParams =>
      kerasToTorch(
        'LSTM',
        dir,
        H,
        Object.fromEntries(
          bi.weights
            .filter((w) => w.name.includes(`${dir}_`))
            .map((w) => [w.name.split('/').pop()!, { shape: [...w.shape], data: w.value.slice() }]),
        ),
      );
    rows.forEach((row, n) => {
      const ids = row.filter((i) => i !== 0);
      const len = ids.length;
      const x = (order: number[]): Float32Array =>
        Float32Array.from(order.flatMap((i) => Array.from(table.subarray(i * E, (i + 1) * E))));
      const f = len ? torchRecurrent('LSTM', half('forward'), H, x(ids), len) : new Float64Array(0);
      const b = len
        ? torchRecurrent('LSTM', half('backward'), H, x([...ids].reverse()), len)
        : new Float64Array(0);
      for (let t = 0; t < T; t++) {
        const got = want.subarray((n * T + t) * 2 * H, (n * T + t + 1) * 2 * H);
        // A masked step repeats the forward half's last output; the backward half read the padding first: zeros.
        const ft = len
          ? f.subarray(Math.min(t, len - 1) * H, (Math.min(t, len - 1) + 1) * H)
          : new Float64Array(H);
        const bt = t < len ? b.subarray((len - 1 - t) * H, (len - t) * H) : new Float64Array(H);
        assert.ok(maxAbsDiff([...ft, ...bt], got) < 1e-5, `row ${n}, step ${t}`);
      }
    });
  });

  it("model.py computes every one of recur's activations", () => {
    const recur = new Set(ACTIVATION_SPELLINGS.map((a) => activationToKeras(activationName(a, 'test'))));
    assert.deepEqual([...PYTORCH_ACTIVATIONS].sort(), [...recur].sort());
  });

  it('refuses what PyTorch cannot compute the same way, naming the layer', () => {
    const problem = (layers: Layer[]): string | null => {
      const m = new Sequential({ seed: 1, layers });
      m.build();
      return pytorchExportProblem(m.layers.map(layerToKeras));
    };
    const first = { inputShape: [5, 7] as const };
    const embedding = (): L.Embedding =>
      new L.Embedding({ inputDim: 9, outputDim: 4, maskZero: true, inputShape: [null] });
    assert.equal(
      problem([new L.LSTM({ units: 3, ...first }), new L.Dense({ units: 7, activation: 'softmax' })]),
      null,
    );
    assert.equal(problem([new L.GRU({ units: 3, resetAfter: false, ...first })]), null);
    assert.equal(
      problem([
        embedding(),
        new L.Bidirectional({ layer: new L.GRU({ units: 3, returnSequences: true }), mergeMode: 'ave' }),
        new L.GlobalAveragePooling1D(),
        new L.Dropout({ rate: 0.1 }),
        new L.Dense({ units: 1, activation: 'sigmoid' }),
      ]),
      null,
    );
    assert.match(
      problem([new L.LSTM({ units: 3, recurrentDropout: 0.1, ...first })]) ?? '',
      /dropout inside a recurrent layer is not exported/,
    );
    assert.match(
      problem([new L.LSTM({ units: 3, recurrentActivation: 'hardSigmoid', ...first })]) ?? '',
      /needs activation tanh and recurrent_activation sigmoid/,
    );
    assert.equal(
      problem([
        new L.LSTM({ units: 3, ...first }),
        new L.Dense({ units: 4, activation: 'gelu' }),
        new L.Dense({ units: 2 }),
      ]),
      null,
    );
    assert.match(
      problem([new L.LSTM({ units: 3, ...first }), new L.Dense({ units: 4, activation: 'relu' })]) ?? '',
      /Dense\): activation relu is not exported on the last layer \(linear, softmax or sigmoid are/,
    );
    assert.match(
      problem([embedding(), new L.LSTM({ units: 3, goBackwards: true })]) ?? '',
      /go_backwards and return_state are not exported/,
    );
    assert.match(
      problem([embedding(), new L.LSTM({ units: 3 }), new L.RepeatVector({ n: 2 })]) ?? '',
      /\(RepeatVector\) is not exported yet/,
    );
    // Keras's activation layers anywhere; the last one linear, softmax or sigmoid, as a last Dense.
    const hidden = (): Layer[] => [
      new L.Activation({ activation: 'gelu_new' }),
      new L.ReLU({ maxValue: 2, negativeSlope: 0.1, threshold: 0.5 }),
      new L.LeakyReLU(),
      new L.ThresholdedReLU(),
      new L.ELU({ alpha: 0.5 }),
      new L.Softmax(),
      new L.PReLU({ sharedAxes: [1] }),
    ];
    for (const last of [
      new L.Activation({ activation: 'softmax' }),
      new L.Activation({ activation: 'sigmoid' }),
      new L.Softmax(),
    ])
      assert.equal(
        problem([embedding(), new L.LSTM({ units: 3, returnSequences: true }), ...hidden(), last]),
        null,
        last.className,
      );
    assert.match(
      problem([
        embedding(),
        new L.LSTM({ units: 3 }),
        new L.Dense({ units: 2 }),
        new L.LeakyReLU({ name: 'lr' }),
      ]) ?? '',
      /layer 'lr' \(LeakyReLU\) is not exported on the last layer \(linear, softmax or sigmoid are/,
    );
    assert.match(
      problem([embedding(), new L.LSTM({ units: 3 }), new L.Activation({ name: 'a', activation: 'relu' })]) ??
        '',
      /layer 'a' \(Activation\): activation relu is not exported on the last layer/,
    );

    // The seq2seq encoder–decoders' graphs (attention, initial states, Concatenate) are exported as they are.
    const graph = functionalTopology(
      buildSeq2SeqModel({ ...G2P_SETTINGS, units: 2, embeddingDim: 2 }, 6, 6),
    ) as {
      layers: ExportLayerJson[];
    };
    assert.equal(pytorchGraphProblem(graph.layers), null);
    const tokens = input({ shape: [null], dtype: 'int32' });
    let h = new L.Embedding({ inputDim: 9, outputDim: 4, maskZero: true }).apply(tokens) as SymbolicTensor;
    h = new L.LSTM({ units: 3, returnSequences: true }).apply(h) as SymbolicTensor;
    h = new L.PReLU({ sharedAxes: [1] }).apply(h) as SymbolicTensor;
    h = new L.Activation({ name: 'act', activation: 'mish' }).apply(h) as SymbolicTensor;
    const activations = functionalTopology(
      functionalModel({ inputs: tokens, outputs: new L.Softmax().apply(h) as SymbolicTensor }),
    ) as { layers: ExportLayerJson[] };
    assert.equal(pytorchGraphProblem(activations.layers), null);
    assert.match(
      pytorchGraphProblem(
        activations.layers.map((l) =>
          l.config.name === 'act' ? { ...l, config: { ...l.config, activation: 'crelu' } } : l,
        ),
      ) ?? '',
      /layer 'act' \(Activation\): activation crelu is not exported/,
    );
    const withCrelu = graph.layers.map((l) =>
      l.config.name === 'next_token' ? { ...l, config: { ...l.config, activation: 'crelu' } } : l,
    );
    assert.match(
      pytorchGraphProblem(withCrelu) ?? '',
      /layer 'next_token' \(Dense\): activation crelu is not exported/,
    );
    const withDropout = graph.layers.map((l) =>
      l.class_name === 'Attention' ? { ...l, config: { ...l.config, dropout: 0.1 } } : l,
    );
    assert.match(
      pytorchGraphProblem(withDropout) ?? '',
      /layer 'attention' \(Attention\): attention dropout and score_mode concat are not exported/,
    );
  });
});

/** A Python that imports torch and numpy, or null (the integration tests then skip). */
function torchPython(): string | null {
  for (const py of [process.env.RECUR_PYTHON, 'python3', '/usr/bin/python3']) {
    if (!py) continue;
    const r = spawnSync(py, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

const WHALE_WORDS = ['the', 'whale', 'sea', 'ship', 'and', 'of', 'a', 'captain', 'white', 'deep', 'storm'];

describe('recur export pytorch', () => {
  let dir = '';
  let book = '';
  const python = torchPython();
  const skipTorch = python ? false : 'no Python with PyTorch here (RECUR_PYTHON, python3, /usr/bin/python3)';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-export-'));
    book = join(dir, 'book.txt');
    writeFileSync(book, pseudoText(3000, 5, WHALE_WORDS));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A tiny model trained one short epoch by recur train, exported; returns [model dir, project dir]. */
  function exported(name: string, args: string[]): [string, string] {
    const model = trained(name, args);
    const project = join(dir, `${name}-project`);
    const e = run(['export', 'pytorch', model, project, '-q']);
    assert.equal(e.code, 0, e.stderr);
    return [model, project];
  }
  /** A tiny model trained one short epoch by recur train; returns its directory. */
  function trained(name: string, args: string[]): string {
    const model = join(dir, `${name}-model`);
    const t = run([
      'train',
      book,
      '--out',
      model,
      '--epochs',
      '1',
      '--units',
      '6',
      '--threads',
      '1',
      '--no-samples',
      '-q',
      ...args,
    ]);
    assert.equal(t.code, 0, t.stderr);
    return model;
  }
  /** A tiny classifier trained a few steps by recur classify train on its own CSV; returns its model dir. */
  function classifier(name: string, args: string[]): string {
    const csv = join(dir, `${name}.csv`);
    writeFileSync(csv, reviews(160, 4));
    const model = join(dir, `${name}-model`);
    const t = run([
      'classify',
      'train',
      csv,
      '--out',
      model,
      '--epochs',
      '1',
      '--units',
      '4',
      '--embedding-dim',
      '5',
      '--max-length',
      '12',
      '--batch-size',
      '16',
      '--steps-per-epoch',
      '2',
      '--threads',
      '1',
      '--seed',
      '3',
      '-q',
      ...args,
    ]);
    assert.equal(t.code, 0, t.stderr);
    return model;
  }

  const CHAR_RNN = [
    '--recipe',
    'char-rnn',
    '--batch-size',
    '4',
    '--seq-length',
    '10',
    '--layers',
    '2',
    '--steps-per-epoch',
    '3',
  ];
  const KERAS = ['--maxlen', '10', '--batch-size', '16', '--steps-per-epoch', '3'];

  it('writes the project and start/, the model without its optimizer state or training state', () => {
    const [model, project] = exported('files', CHAR_RNN);
    assert.deepEqual(readdirSync(project).sort(), [
      'README.md',
      'data.py',
      'model.py',
      'optim.py',
      'recur-export.json',
      'recur_io.py',
      'run.py',
      'start',
      'train.py',
    ]);
    const a = loadModel(model);
    const b = loadModel(join(project, 'start'));
    assert.deepEqual(
      b.model.getWeights().map((w) => w.data),
      a.model.getWeights().map((w) => w.data),
    );
    assert.equal((b.metadata as { state?: unknown }).state, undefined);
    assert.deepEqual(
      (b.metadata as { vocabulary: string[] }).vocabulary,
      (a.metadata as { vocabulary: string[] }).vocabulary,
    );
    assert.doesNotMatch(readFileSync(join(project, 'start', 'model.json'), 'utf8'), /optimizer\//);
  });

  it("a seq2seq model's joint n-gram is not exported, and start/ names none: it decodes as a new model does", () => {
    const tsv = join(dir, 'ngram-pairs.tsv');
    writeFileSync(tsv, pairs(40, 2));
    const m = join(dir, 'ngram-model');
    const train = ['seq2seq', 'train', tsv, '--out', m, '--epochs', '1', '--units', '2', '--threads', '1'];
    const first = run([...train, '--joint-ngram', '2', '-q']);
    assert.equal(first.code, 0, first.stderr);
    // A model that replaced another (--overwrite) names its n-gram file in its model.json.
    const again = run([...train, '--joint-ngram', '2', '-q', '--overwrite']);
    assert.equal(again.code, 0, again.stderr);
    const metaOf = (d: string): Record<string, unknown> =>
      (
        JSON.parse(readFileSync(join(d, 'model.json'), 'utf8')) as {
          userDefinedMetadata: Record<string, unknown>;
        }
      ).userDefinedMetadata;
    const named = metaOf(m).jointNgram as string;
    assert.ok(existsSync(join(m, named)), named);
    const project = join(dir, 'ngram-project');
    const e = run(['export', 'pytorch', m, project]);
    assert.equal(e.code, 0, e.stderr);
    assert.ok(e.stderr.includes(`note: the joint n-gram (${named}) is not exported`), e.stderr);
    const start = join(project, 'start');
    assert.equal('jointNgram' in metaOf(start), false, 'start/ names an n-gram file it does not hold');
    // As the README says for what train.py writes: recur seq2seq ngram fits one, the plain joint-ngram.json.
    const n = run(['seq2seq', 'ngram', start, '--order', '2', '-q']);
    assert.equal(n.code, 0, n.stderr);
    assert.ok(existsSync(join(start, 'joint-ngram.json')), readdirSync(start).join(', '));
  });

  it("the 'Train with' line names a cosine run's own epochs (train.py's rate is 0 past them), 20 for a plateau run", () => {
    const tsv = join(dir, 'hint-pairs.tsv');
    writeFileSync(tsv, pairs(40, 2));
    const hint = (schedule: string[], name: string): string => {
      const m = join(dir, `hint-${name}-model`);
      const t = run([
        'seq2seq',
        'train',
        tsv,
        '--out',
        m,
        '--epochs',
        '3',
        '--units',
        '2',
        '--threads',
        '1',
        ...schedule,
        '-q',
      ]);
      assert.equal(t.code, 0, t.stderr);
      const e = run(['export', 'pytorch', m, join(dir, `hint-${name}-project`)]);
      assert.equal(e.code, 0, e.stderr);
      return /Train with: (.*)/.exec(e.stderr)?.[1] ?? e.stderr;
    };
    assert.match(hint(['--lr-schedule', 'cosine'], 'cosine'), /train\.py --epochs 3 --out run$/);
    assert.match(hint([], 'plateau'), /train\.py --epochs 20 --out run$/);
  });

  it('bad usage: an unknown format, a non-empty or file OUT, a model PyTorch cannot compute (exit 2, nothing written)', () => {
    const [model] = exported('bad', [...KERAS]);
    const busy = join(dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'notes.txt'), 'mine');
    const moved = classifier('moved', []);
    rmSync(join(dir, 'moved.csv'));
    const cases: [string[], RegExp][] = [
      [['export', 'onnx', model, join(dir, 'x1')], /export: the format must be pytorch, got 'onnx'/],
      [['export', 'pytorch', model, busy], /busy is not empty; give a new \(or empty\) directory/],
      [['export', 'pytorch', model, book], /book\.txt is a file; give a new directory/],
      [
        ['export', 'pytorch', moved, join(dir, 'x2')],
        /moved-model: its training data is needed to export the classify recipe, but .*moved\.csv cannot be read/,
      ],
      [
        ['export', 'pytorch', join(dir, 'nowhere'), join(dir, 'x3')],
        /nowhere: no such file or directory; expected a model directory/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    assert.deepEqual(readdirSync(busy), ['notes.txt']);
    for (const x of ['x1', 'x2', 'x3']) assert.ok(!existsSync(join(dir, x)), `${x} not written`);
  });

  /** Runs Python in the project directory; returns stdout (fails the test on a non-zero exit). */
  function py(project: string, args: string[], env: Record<string, string> = {}): string {
    const r = spawnSync(python!, args, {
      cwd: project,
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, ...env },
    });
    assert.equal(r.status, 0, `python ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  const PREDICT = String.raw`
import json, sys
import numpy as np, torch
import recur_io
from model import RecurModel
model_json, arrays = recur_io.read_model_dir("start")
m = RecurModel(model_json["modelTopology"])
m.load_recur_weights(arrays)
m.eval()
x = torch.tensor(json.load(open(sys.argv[1])), dtype=torch.long)
with torch.no_grad():
    y, _ = m.predict(x)
print(json.dumps(y.double().numpy().ravel().tolist()))
`;

  const forwardCases: [string, string[]][] = [
    ['lstm, keras recipe', [...KERAS, '--cell', 'lstm', '--layers', '2']],
    ['gru, keras recipe', [...KERAS, '--cell', 'gru']],
    ['simple-rnn, keras recipe', [...KERAS, '--cell', 'simple-rnn']],
    ['lstm, char-rnn recipe (stateful, dropout between layers)', [...CHAR_RNN, '--dropout', '0.2']],
    ['gru, char-rnn recipe', [...CHAR_RNN, '--cell', 'gru']],
    ['gru reset_after=false, keras recipe', [...KERAS, '--cell', 'gru', '--gru-reset-after', 'false']],
  ];
  for (const [name, args] of forwardCases) {
    it(`the exported module's forward equals recur's predict: ${name}`, { skip: skipTorch }, () => {
      const [model, project] = exported(name.replace(/[^a-z]+/g, '-'), args);
      const { model: m, metadata } = loadModel(model);
      const s = (
        metadata as { settings: { recipe: string; maxlen: number; seqLength: number; batchSize: number } }
      ).settings;
      const V = (metadata as { vocabulary: string[] }).vocabulary.length;
      const [N, T] = s.recipe === 'char-rnn' ? [s.batchSize, s.seqLength] : [3, s.maxlen];
      checkPredict(m, project, N, T, V);
    });
  }

  /** The project's predict of start/ on random ids [N, T] < V against recur's predict of the model. */
  function checkPredict(m: Sequential, project: string, N: number, T: number, V: number): void {
    const rng = new Random(7);
    const ids = Int32Array.from({ length: N * T }, () => rng.int(V));
    m.resetStates();
    const want = m.predict(new IndexTensor(ids, [N, T]));
    const xFile = join(project, 'x.json');
    writeFileSync(
      xFile,
      JSON.stringify(Array.from({ length: N }, (_, n) => Array.from(ids.subarray(n * T, (n + 1) * T)))),
    );
    const got = JSON.parse(py(project, ['-c', PREDICT, xFile])) as number[];
    assert.equal(got.length, want.size);
    const diff = maxAbsDiff(got, want.data);
    assert.ok(diff <= 1e-5, `max difference ${diff}`);
  }

  const TORCH_WEIGHTS = String.raw`
import json, sys
import torch
import recur_io
from model import RecurModel
model_json, _ = recur_io.read_model_dir("start")
m = RecurModel(model_json["modelTopology"])
m.load_state_dict(torch.load(sys.argv[1])["model"])
print(json.dumps({k: v.astype(float).ravel().tolist() for k, v in m.recur_weights().items()}))
`;

  it(
    'a 2-process torchrun on 127.0.0.1 trains a few steps; its model loads in recur with the weights PyTorch holds',
    { skip: skipTorch },
    () => {
      const [, project] = exported('ddp', CHAR_RNN);
      const out = join(project, 'run');
      const port = String(20000 + Math.floor(Math.random() * 20000));
      py(project, [
        '-m',
        'torch.distributed.run',
        // Debian's torch 1.13 on Python 3.11 fails with torchrun's default output options; these work everywhere.
        '--redirects',
        '1',
        '--tee',
        '1',
        '--nnodes',
        '1',
        '--nproc_per_node',
        '2',
        '--master_addr',
        '127.0.0.1',
        '--master_port',
        port,
        'train.py',
        '--text',
        book,
        '--epochs',
        '1',
        '--max-steps',
        '3',
        '--out',
        out,
      ]);
      assert.ok(existsSync(join(out, 'pytorch-checkpoint.rank1.pt')), 'both processes ran');
      const loaded = loadModel(out);
      assert.deepEqual(loaded.notes, [], 'recur verified the hashes the Python side recorded');
      const torchWeights = JSON.parse(
        py(project, ['-c', TORCH_WEIGHTS, join(out, 'pytorch-checkpoint.rank0.pt')]),
      ) as Record<string, number[]>;
      const start = loadModel(join(project, 'start')).model.getWeights();
      let changed = 0;
      loaded.model.namedWeights().forEach(({ name, weight }, i) => {
        assert.deepEqual(Float32Array.from(torchWeights[name]), weight.value, name);
        if (maxAbsDiff(start[i].data, weight.value) > 0) changed++;
      });
      assert.ok(changed > 0, 'training changed the weights');
      const g = run(['generate', out, '--length', '10', '--seed', '1']);
      assert.equal(g.code, 0, g.stderr);
    },
  );

  /**
   * A keras-recipe text model written as Keras's character-model example writes one, LSTM → Dense → Activation
   * ('softmax'), with activation layers between (`recur train --from` reads such files): a trained model's metadata
   * over these layers. `last` ends it.
   */
  function activationTextModel(name: string, last: Layer): string {
    const base = join(dir, 'activation-text-base-model');
    if (!existsSync(base)) trained('activation-text-base', KERAS);
    const metadata = { ...loadModel(base).metadata } as {
      vocabulary: string[];
      settings: { maxlen: number };
    };
    delete (metadata as { state?: unknown }).state;
    const V = metadata.vocabulary.length;
    const model = new Sequential({
      seed: 3,
      layers: [
        new L.LSTM({ units: 6, inputShape: [metadata.settings.maxlen, V] }),
        new L.Dense({ units: 8 }),
        new L.PReLU({ alphaInitializer: 'randomNormal' }),
        new L.ELU({ alpha: 0.5 }),
        new L.Dense({ units: V }),
        last,
      ],
    });
    model.build();
    const at = join(dir, `${name}-model`);
    saveModel(model, at, { metadata });
    return at;
  }

  it("a text model whose last layer is an activation layer train.py's loss cannot take is refused, naming it (exit 2, nothing written)", () => {
    const model = activationTextModel('relu-last', new L.ReLU({ name: 'last_relu' }));
    const project = join(dir, 'relu-last-project');
    const r = run(['export', 'pytorch', model, project]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /relu-last-model: cannot be exported to PyTorch: layer 'last_relu' \(ReLU\) is not exported on the last layer \(linear, softmax or sigmoid are/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.ok(!existsSync(project), 'nothing written');
  });

  it(
    "a text model with activation layers (PReLU, ELU, Activation('softmax')): exported, its predict is recur's; train.py trains it and recur reads the result, PReLU's alpha as PyTorch holds it",
    { skip: skipTorch },
    () => {
      const model = activationTextModel('activations', new L.Activation({ activation: 'softmax' }));
      const project = join(dir, 'activations-project');
      const e = run(['export', 'pytorch', model, project, '-q']);
      assert.equal(e.code, 0, e.stderr);
      const { model: m, metadata } = loadModel(model);
      const s = (metadata as { vocabulary: string[]; settings: { maxlen: number } }).settings;
      checkPredict(m, project, 3, s.maxlen, (metadata as { vocabulary: string[] }).vocabulary.length);
      const out = join(project, 'run');
      py(project, ['train.py', '--text', book, '--epochs', '1', '--max-steps', '3', '--out', out]);
      const loaded = loadModel(out);
      assert.deepEqual(loaded.notes, []);
      const torchWeights = JSON.parse(
        py(project, ['-c', TORCH_WEIGHTS, join(out, 'pytorch-checkpoint.rank0.pt')]),
      ) as Record<string, number[]>;
      const start = loadModel(join(project, 'start')).model;
      loaded.model.namedWeights().forEach(({ name, weight }, i) => {
        assert.deepEqual(Float32Array.from(torchWeights[name]), weight.value, name);
        if (name.endsWith('/alpha'))
          assert.ok(maxAbsDiff(start.getWeights()[i].data, weight.value) > 0, 'training changed alpha');
      });
      assert.ok(
        loaded.model.namedWeights().some(({ name }) => name.endsWith('/alpha')),
        'alpha written back',
      );
      const g = run(['generate', out, '--length', '10', '--seed', '1']);
      assert.equal(g.code, 0, g.stderr);
    },
  );

  it(
    'a run stopped by --max-steps resumes and finishes (keras recipe, one process)',
    { skip: skipTorch },
    () => {
      const [, project] = exported('resume', [...KERAS, '--validation-split', '0.1']);
      const out = join(project, 'run');
      const common = ['train.py', '--text', book, '--epochs', '2', '--out', out];
      const first = py(project, [...common, '--max-steps', '2']);
      assert.match(first, /Stopped after 2 steps \(--max-steps\) at epoch 1, batch 2/);
      const second = py(project, [...common, '--resume']);
      assert.match(second, /Resuming at epoch 1, batch 3/);
      assert.match(second, /Epoch 2\/2: loss/);
      const log = readFileSync(join(out, 'log.csv'), 'utf8').trim().split('\n');
      assert.deepEqual(log[0].split(','), ['epoch', 'loss', 'lr', 'val_loss']);
      assert.equal(log.length, 3);
      const r = run(['evaluate', out, book, '--threads', '1', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(JSON.parse(r.stdout).loss > 0);
    },
  );

  it(
    "train.py refuses a text too short for the recipe's windows, as recur train does, and writes no model",
    { skip: skipTorch },
    () => {
      const [, project] = exported('short', [...KERAS, '--validation-split', '0.1']);
      const cases: [string, RegExp][] = [
        // The training part named as recur train names it (the file holds more than it trains on).
        [
          '',
          /the training part of the text \(all but its last 10%, the recipe's validationSplit\) has 0 characters .*needs at least 11/,
        ],
        [
          'the',
          /the training part of the text \(all but its last 10%, the recipe's validationSplit\) has 2 characters .*needs at least 11/,
        ],
        // 25 characters to train on, the last 3 held out: too few for one validation window.
        ['the whale and the sea of the', /the validation text has 3 characters .*needs at least 11/],
      ];
      for (const [text, message] of cases) {
        const file = join(project, 'short.txt');
        writeFileSync(file, text);
        const out = join(project, 'run');
        const r = spawnSync(python!, ['train.py', '--text', file, '--epochs', '1', '--out', out], {
          cwd: project,
          encoding: 'utf8',
          timeout: 300_000,
        });
        assert.equal(r.status, 1, `${JSON.stringify(text)}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, message);
        assert.doesNotMatch(r.stderr, /Traceback/);
        assert.ok(!existsSync(join(out, 'model.json')), 'no model saved');
      }
    },
  );

  it(
    "train.py does not replace a run (or the user's model.json) in --out without --resume or --overwrite",
    { skip: skipTorch },
    () => {
      const [, project] = exported('rerun', KERAS);
      const out = join(project, 'run');
      const train = (extra: string[]) =>
        spawnSync(python!, ['train.py', '--text', book, '--epochs', '1', '--out', out, ...extra], {
          cwd: project,
          encoding: 'utf8',
          timeout: 300_000,
        });
      mkdirSync(out);
      writeFileSync(join(out, 'model.json'), 'mine');
      const refused = train([]);
      assert.equal(refused.status, 1, refused.stdout + refused.stderr);
      assert.match(
        refused.stderr,
        /run already holds a run \(model\.json\); continue it with --resume, start it over with --overwrite/,
      );
      assert.equal(readFileSync(join(out, 'model.json'), 'utf8'), 'mine');
      assert.deepEqual(readdirSync(out), ['model.json']);
      const first = train(['--overwrite', '--max-steps', '2']);
      assert.equal(first.status, 0, first.stderr);
      assert.notEqual(
        readFileSync(join(out, 'model.json'), 'utf8'),
        'mine',
        'the stopped run wrote its own model',
      );
      const model = readFileSync(join(out, 'model.json'), 'utf8');
      const again = train(['--max-steps', '2']);
      assert.equal(again.status, 1, again.stdout + again.stderr);
      assert.equal(readFileSync(join(out, 'model.json'), 'utf8'), model, 'the first run kept');
      assert.equal(train(['--resume', '--overwrite']).status, 1);
      const resumed = train(['--resume']);
      assert.equal(resumed.status, 0, resumed.stderr);
      assert.match(resumed.stdout, /Resuming at epoch 1, batch 3/);
    },
  );

  it(
    "train.py keeps the user's weights.bin in an --out without a run: refused, --overwrite or not",
    { skip: skipTorch },
    () => {
      const [, project] = exported('users-weights', KERAS);
      const out = join(project, 'run');
      mkdirSync(out);
      writeFileSync(join(out, 'weights.bin'), 'mine');
      for (const extra of [[], ['--overwrite']]) {
        const r = spawnSync(
          python!,
          ['train.py', '--text', book, '--epochs', '1', '--max-steps', '1', '--out', out, ...extra],
          { cwd: project, encoding: 'utf8', timeout: 300_000 },
        );
        assert.equal(r.status, 1, r.stdout + r.stderr);
        assert.match(
          r.stderr,
          /run\/weights\.bin is not part of a recur model here and saving one would replace it/,
        );
      }
      assert.deepEqual(readdirSync(out), ['weights.bin']);
      assert.equal(readFileSync(join(out, 'weights.bin'), 'utf8'), 'mine');
    },
  );

  it(
    'train.py --resume refuses another text than the run was stopped on, as recur train --resume does',
    { skip: skipTorch },
    () => {
      const [, project] = exported('retext', KERAS);
      const out = join(project, 'run');
      const other = join(project, 'other.txt');
      writeFileSync(other, readFileSync(book, 'utf8').split('').reverse().join(''));
      py(project, ['train.py', '--text', book, '--epochs', '1', '--out', out, '--max-steps', '2']);
      const checkpoint = readFileSync(join(out, 'pytorch-checkpoint.rank0.pt'));
      const r = spawnSync(python!, ['train.py', '--text', other, '--epochs', '1', '--out', out, '--resume'], {
        cwd: project,
        encoding: 'utf8',
        timeout: 300_000,
      });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /--resume: .*other\.txt is not the text the run in .*run was trained on/);
      assert.deepEqual(
        readFileSync(join(out, 'pytorch-checkpoint.rank0.pt')),
        checkpoint,
        'checkpoint unchanged',
      );
      assert.match(
        py(project, ['train.py', '--text', book, '--epochs', '1', '--out', out, '--resume']),
        /Epoch 1\/1/,
      );
    },
  );

  /** Classifier-shaped models (Embedding with mask_zero first), built with random weights and saved as recur does. */
  const H = 3;
  const rnd = { biasInitializer: 'randomNormal' } as const;
  const classifierCases: [string, () => Layer[]][] = [
    [
      'BiLSTM, max pooling, sigmoid',
      () => [
        new L.Bidirectional({ layer: new L.LSTM({ units: H, returnSequences: true, ...rnd }) }),
        new L.GlobalMaxPooling1D(),
        new L.Dense({ units: 1, activation: 'sigmoid', ...rnd }),
      ],
    ],
    [
      'two BiGRUs (merge sum, then mul), final state, softmax',
      () => [
        new L.Bidirectional({
          layer: new L.GRU({ units: H, returnSequences: true, ...rnd }),
          mergeMode: 'sum',
        }),
        new L.Dropout({ rate: 0.3 }),
        new L.Bidirectional({ layer: new L.GRU({ units: H, ...rnd }), mergeMode: 'mul' }),
        new L.Dense({ units: 3, activation: 'softmax', ...rnd }),
      ],
    ],
    [
      'LSTM, then BiSimpleRNN (merge ave), mean pooling',
      () => [
        new L.LSTM({ units: H, returnSequences: true, ...rnd }),
        new L.Bidirectional({
          layer: new L.SimpleRNN({ units: H, returnSequences: true, ...rnd }),
          mergeMode: 'ave',
        }),
        new L.GlobalAveragePooling1D(),
        new L.Dense({ units: 2, activation: 'softmax' }),
      ],
    ],
    [
      'BiGRU with reset_after=false, final state',
      () => [
        new L.Bidirectional({ layer: new L.GRU({ units: H, resetAfter: false, ...rnd }) }),
        new L.Dense({ units: 2, activation: 'softmax' }),
      ],
    ],
  ];
  // Right-padded rows of mixed lengths (one all padding), as recur's batches are; then 0s inside and before a text.
  const PADDED = [
    [3, 1, 4, 1, 5, 0, 0],
    [2, 7, 1, 8, 2, 8, 1],
    [5, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
  ];
  const ANY_MASK = [...PADDED, [6, 2, 0, 4, 3, 0, 0], [0, 3, 3, 0, 0, 0, 0]];
  const FORWARD = String.raw`
import json, sys
import numpy as np, torch
import recur_io
from model import RecurModel
model_json, arrays = recur_io.read_model_dir(sys.argv[1])
m = RecurModel(model_json["modelTopology"])
m.load_recur_weights(arrays)
m.eval()
out = {}
for name, rows in json.load(open(sys.argv[2])).items():
    with torch.no_grad():
        y, _ = m.predict(torch.tensor(rows))
    out[name] = y.double().numpy().ravel().tolist()
back = m.recur_weights()
out["roundtrip"] = max(float(np.abs(back[k] - arrays[k]).max()) for k in arrays)
print(json.dumps(out))
`;
  /** A project's Python files (no start/), for running model.py on models written here. */
  function classifierProject(): string {
    const projectDir = join(dir, 'classifier-project');
    if (!existsSync(projectDir)) {
      mkdirSync(projectDir);
      for (const [f, text] of Object.entries(pytorchProjectFiles('classify')))
        writeFileSync(join(projectDir, f), text);
    }
    return projectDir;
  }
  for (const [name, layers] of classifierCases) {
    it(
      `the exported module's forward equals recur's predict on masked inputs: ${name}`,
      { skip: skipTorch },
      () => {
        const model = new Sequential({
          seed: 5,
          layers: [
            new L.Embedding({ inputDim: 9, outputDim: 4, maskZero: true, inputShape: [null] }),
            ...layers(),
          ],
        });
        model.build();
        const at = join(dir, `classifier-${name.replace(/[^a-z]+/gi, '-')}`);
        saveModel(model, at);
        const inputs = { padded: PADDED, any: ANY_MASK };
        writeFileSync(join(at, 'x.json'), JSON.stringify(inputs));
        const got = JSON.parse(py(classifierProject(), ['-c', FORWARD, at, join(at, 'x.json')])) as Record<
          string,
          number[] | number
        >;
        for (const [k, rows] of Object.entries(inputs)) {
          const want = model.predict(new IndexTensor(Int32Array.from(rows.flat()), [rows.length, 7])).data;
          const diff = maxAbsDiff(got[k] as number[], want);
          assert.equal((got[k] as number[]).length, want.length);
          assert.ok(diff <= 1e-5, `${k}: max difference ${diff}`);
        }
        assert.equal(got.roundtrip, 0, 'PyTorch → recur gives the weights back');
      },
    );
  }

  /**
   * A Dense's pre-activations over about ±8 (every branch of the piecewise activations, relu6's cap, squareplus's far
   * left), and the Dense of U units after the activation the identity: the model's output is the activation's.
   */
  function aroundActivation(dense: Layer, identity: Layer, U: number, rng: Random): void {
    dense.setWeights([randomTensor([H, U], rng, 4), randomTensor([U], rng, 2)]);
    const eye = Float32Array.from({ length: U * U }, (_, i) => (i % (U + 1) === 0 ? 1 : 0));
    identity.setWeights([new Tensor(eye, [U, U]), new Tensor(new Float32Array(U), [U])]);
  }
  /** The largest difference, relative beyond 1 (exponential reaches thousands). */
  const relativeDiff = (got: number[], want: ArrayLike<number>): number =>
    Math.max(...Array.from(want, (w, i) => Math.abs(got[i] - w) / Math.max(1, Math.abs(w))));
  /**
   * Each job's model (a Sequential or a graph) on the job's rows: predict, forward, and whether PyTorch's weights
   * give recur's back.
   */
  const MODELS_FORWARD = String.raw`
import json, sys
import numpy as np, torch
import recur_io
from model import recur_model
job = json.load(open(sys.argv[1]))
out = {}
for at in job["models"]:
    model_json, arrays = recur_io.read_model_dir(at)
    m = recur_model(model_json["modelTopology"])
    m.load_recur_weights(arrays)
    m.eval()
    x = torch.tensor(job["rows"])
    with torch.no_grad():
        y, logits = m.predict(x), m(x)
    y, logits = (y[0], logits[0]) if isinstance(y, tuple) else (y, logits)
    back = m.recur_weights()
    assert sorted(back) == sorted(arrays), (sorted(back), sorted(arrays))
    out[at] = {"y": y.double().numpy().ravel().tolist(), "logits": logits.double().numpy().ravel().tolist(),
               "roundtrip": max([float(np.abs(back[k] - arrays[k]).max()) for k in arrays])}
print(json.dumps(out))
`;
  it(
    "the exported module's forward equals recur's predict for a hidden Dense of each of recur's activations",
    { skip: skipTorch },
    () => {
      const U = 8;
      const rng = new Random(9);
      const models = PYTORCH_ACTIVATIONS.map((act) => {
        const model = new Sequential({
          seed: 6,
          layers: [
            new L.Embedding({ inputDim: 9, outputDim: 4, maskZero: true, inputShape: [null] }),
            new L.LSTM({ units: H, returnSequences: true, ...rnd }),
            new L.Dense({ units: U, activation: act as ActivationIdentifier, ...rnd }),
            new L.Dense({ units: U }),
          ],
        });
        model.build();
        aroundActivation(model.layers[2], model.layers[3], U, rng);
        const at = join(dir, `activation-${act}`);
        saveModel(model, at);
        return { act, model, at };
      });
      const job = join(dir, 'activations.json');
      writeFileSync(job, JSON.stringify({ models: models.map((m) => m.at), rows: PADDED }));
      const got = JSON.parse(py(classifierProject(), ['-c', MODELS_FORWARD, job])) as Record<
        string,
        { y: number[] }
      >;
      for (const { act, model, at } of models) {
        const want = model.predict(new IndexTensor(Int32Array.from(PADDED.flat()), [PADDED.length, 7])).data;
        assert.equal(got[at].y.length, want.length, act);
        const worst = relativeDiff(got[at].y, want);
        assert.ok(worst <= 1e-5, `${act}: max difference ${worst}`);
      }
    },
  );

  it(
    "the exported module's forward equals recur's predict for each of Keras's activation layers, in Sequential and functional models (masked steps, PReLU's alpha both ways, an output's softmax or sigmoid left out of forward)",
    { skip: skipTorch },
    () => {
      const U = 6;
      const rng = new Random(12);
      const learnt = { alphaInitializer: 'randomNormal' } as const;
      const cases: [string, () => Layer][] = [
        ...PYTORCH_ACTIVATIONS.map((act): [string, () => Layer] => [
          `Activation ${act}`,
          () => new L.Activation({ activation: act as ActivationIdentifier }),
        ]),
        ['ReLU', () => new L.ReLU()],
        [
          'ReLU max 2, slope 0.1, threshold 0.5',
          () => new L.ReLU({ maxValue: 2, negativeSlope: 0.1, threshold: 0.5 }),
        ],
        ['ReLU max 3, threshold -1', () => new L.ReLU({ maxValue: 3, threshold: -1 })],
        ['ReLU slope 0.2, threshold -0.5', () => new L.ReLU({ negativeSlope: 0.2, threshold: -0.5 })],
        ['LeakyReLU', () => new L.LeakyReLU()],
        ['LeakyReLU 0.05', () => new L.LeakyReLU({ alpha: 0.05 })],
        ['ThresholdedReLU', () => new L.ThresholdedReLU()],
        ['ThresholdedReLU -0.5', () => new L.ThresholdedReLU({ theta: -0.5 })],
        ['ELU', () => new L.ELU()],
        ['ELU 0.4', () => new L.ELU({ alpha: 0.4 })],
        ['Softmax (masked steps)', () => new L.Softmax()],
        ['PReLU shared over time', () => new L.PReLU({ sharedAxes: [1], ...learnt })],
        ['PReLU per step', () => new L.PReLU(learnt)],
      ];
      const models: {
        name: string;
        model: Sequential | ReturnType<typeof functionalModel>;
        at: string;
        out?: string;
      }[] = [];
      const save = (
        name: string,
        model: Sequential | ReturnType<typeof functionalModel>,
        out?: string,
      ): void => {
        const at = join(dir, `activation-layer-${models.length}`);
        saveModel(model, at, { includeOptimizer: false });
        models.push({ name, model, at, out });
      };
      for (const [name, layer] of cases) {
        // Embedding → LSTM → Dense → the layer → Dense(identity), over the masked steps of right-padded rows.
        const seq = new Sequential({
          seed: 6,
          layers: [
            new L.Embedding({ inputDim: 9, outputDim: 4, maskZero: true, inputShape: [7] }),
            new L.LSTM({ units: H, returnSequences: true, ...rnd }),
            new L.Dense({ units: U }),
            layer(),
            new L.Dense({ units: U }),
          ],
        });
        seq.build();
        aroundActivation(seq.layers[2], seq.layers[4], U, rng);
        save(`Sequential, ${name}`, seq);
        const tokens = input({ shape: [7], dtype: 'int32' });
        let h = new L.Embedding({ inputDim: 9, outputDim: 4, maskZero: true }).apply(
          tokens,
        ) as SymbolicTensor;
        h = new L.LSTM({ units: H, returnSequences: true, ...rnd }).apply(h) as SymbolicTensor;
        const dense = new L.Dense({ units: U });
        const identity = new L.Dense({ units: U });
        h = identity.apply(layer().apply(dense.apply(h))) as SymbolicTensor;
        const graph = functionalModel({ inputs: tokens, outputs: h, seed: 6 });
        aroundActivation(dense, identity, U, rng);
        save(`functional, ${name}`, graph);
      }
      // The output layer's softmax or sigmoid: forward gives its logits, as the training losses take them.
      for (const [name, last, out] of [
        ['Activation softmax', () => new L.Activation({ activation: 'softmax' }), 'softmax'],
        ['Softmax', () => new L.Softmax(), 'softmax'],
        ['Activation sigmoid', () => new L.Activation({ activation: 'sigmoid' }), 'sigmoid'],
      ] as const) {
        const seq = new Sequential({
          seed: 8,
          layers: [
            new L.Embedding({ inputDim: 9, outputDim: 4, maskZero: true, inputShape: [null] }),
            new L.LSTM({ units: H, ...rnd }),
            new L.Dense({ units: U, ...rnd }),
            last(),
          ],
        });
        seq.build();
        save(`Sequential, last ${name}`, seq, out);
        const tokens = input({ shape: [null], dtype: 'int32' });
        let h = new L.Embedding({ inputDim: 9, outputDim: 4, maskZero: true }).apply(
          tokens,
        ) as SymbolicTensor;
        h = new L.LSTM({ units: H, returnSequences: true, ...rnd }).apply(h) as SymbolicTensor;
        h = last().apply(new L.Dense({ units: U, ...rnd }).apply(h)) as SymbolicTensor;
        // A graph's softmax output over masked steps: predict gives them zero probability (Softmax), forward logits.
        save(`functional, output ${name}`, functionalModel({ inputs: tokens, outputs: h, seed: 8 }));
      }
      const job = join(dir, 'activation-layers.json');
      writeFileSync(job, JSON.stringify({ models: models.map((m) => m.at), rows: PADDED }));
      const got = JSON.parse(py(classifierProject(), ['-c', MODELS_FORWARD, job])) as Record<
        string,
        { y: number[]; logits: number[]; roundtrip: number }
      >;
      const x = new IndexTensor(Int32Array.from(PADDED.flat()), [PADDED.length, 7]);
      for (const { name, model, at, out } of models) {
        const want = (model.predict(x) as Tensor).data;
        const { y, logits, roundtrip } = got[at];
        assert.equal(y.length, want.length, name);
        assert.ok(relativeDiff(y, want) <= 1e-5, `${name}: max difference ${relativeDiff(y, want)}`);
        assert.equal(roundtrip, 0, `${name}: PyTorch → recur gives the weights back`);
        if (out === undefined) continue;
        const rows = Array.from({ length: logits.length / U }, (_, r) => logits.slice(r * U, (r + 1) * U));
        const activated = rows.flatMap((row) => {
          if (out === 'sigmoid') return row.map(sigmoid);
          const e = row.map((v) => Math.exp(v - Math.max(...row)));
          return e.map((v) => v / e.reduce((a, b) => a + b, 0));
        });
        assert.ok(relativeDiff(activated, want) <= 1e-5, `${name}: forward is not the logits of predict`);
        assert.ok(relativeDiff(logits, want) > 1e-3, `${name}: forward applied the ${out}`);
      }
    },
  );

  /**
   * train.py's validation loss of start/ (its own data module and loss, on the exported split), to compare with the
   * val_loss recur logged for the same weights: the split, the encoding, the masking and the loss all agree.
   */
  const VALIDATION_LOSS = String.raw`
import sys, torch
import data, recur_io, train
import model as M
model_json, arrays = recur_io.read_model_dir("start")
settings = model_json["userDefinedMetadata"]["settings"]
m = M.recur_model(model_json["modelTopology"])
m.load_recur_weights(arrays)
m.eval()
with torch.no_grad():
    if sys.argv[1] == "classify":
        d = data.load("classify_data.json")
        split = data.Texts(d["validation"])
        x, y = data.collate([split[i] for i in range(len(split))])
        print(train.Loss(settings, d["classWeights"], "cpu")(m(x)[0], y, weighted=False).item())
    else:
        split = data.Pairs(data.load("seq2seq_data.json")["validation"])
        source, previous, following = data.collate([split[i] for i in range(len(split))])
        print(train.masked_loss(m(source, previous), following).item())
`;

  /** The val_loss of the last row of a recur run's log.csv. */
  function loggedValLoss(modelDir: string): number {
    const [head, ...rows] = readFileSync(join(modelDir, 'log.csv'), 'utf8').trim().split('\n');
    return Number(rows[rows.length - 1].split(',')[head.split(',').indexOf('val_loss')]);
  }

  /** The classifier in 'out' (written by train.py) against the weights PyTorch holds in its rank-0 checkpoint. */
  function checkWrittenClassifier(project: string, out: string): void {
    const loaded = loadModel(out);
    assert.deepEqual(loaded.notes, [], 'recur verified the hashes the Python side recorded');
    const torchWeights = JSON.parse(
      py(project, ['-c', TORCH_WEIGHTS, join(out, 'pytorch-checkpoint.rank0.pt')]),
    ) as Record<string, number[]>;
    const start = loadModel(join(project, 'start')).model.getWeights();
    let changed = 0;
    loaded.model.namedWeights().forEach(({ name, weight }, i) => {
      assert.deepEqual(Float32Array.from(torchWeights[name]), weight.value, name);
      if (maxAbsDiff(start[i].data, weight.value) > 0) changed++;
    });
    assert.ok(changed > 0, 'training changed the weights');
    const e = run(['classify', 'eval', out, '--json']);
    assert.equal(e.code, 0, e.stderr);
    const p = run(['classify', 'predict', out, 'a great film', '--json', '--threads', '1']);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /"label":"(pos|neg)"/);
  }

  it(
    "a classifier: classify_data.json is recur's split, train.py trains it on one process and resumes; recur classify eval/predict read the result",
    { skip: skipTorch },
    () => {
      const model = classifier('one', ['--pooling', 'mean', '--cell', 'gru']);
      const project = join(dir, 'one-project');
      const e = run(['export', 'pytorch', model, project, '-q']);
      assert.equal(e.code, 0, e.stderr);
      const data = JSON.parse(readFileSync(join(project, 'classify_data.json'), 'utf8')) as {
        classes: string[];
        train: { ids: number[][]; labels: number[] };
        validation: { ids: number[][]; labels: number[] };
      };
      assert.deepEqual(data.classes, ['neg', 'pos']);
      // recur's own split of 160 records (10% validation, 10% test, stratified) and its tokenizer's ids.
      assert.equal(data.train.ids.length + data.validation.ids.length, 160 - 16);
      assert.equal(data.validation.ids.length, 16);
      assert.ok(data.train.ids.every((ids) => ids.length > 0 && ids.length <= 12 && !ids.includes(0)));
      const pythonLoss = Number(py(project, ['-c', VALIDATION_LOSS, 'classify']));
      assert.ok(
        Math.abs(pythonLoss - loggedValLoss(model)) < 1e-5,
        `${pythonLoss} vs recur's ${loggedValLoss(model)}`,
      );
      const out = join(project, 'run');
      const first = py(project, ['train.py', '--out', out, '--epochs', '2', '--max-steps', '3']);
      assert.match(first, /Stopped after 3 steps \(--max-steps\) at epoch 1, batch 3/);
      const second = py(project, ['train.py', '--out', out, '--epochs', '2', '--resume']);
      assert.match(second, /Resuming at epoch 1, batch 4/);
      assert.match(second, /Epoch 2\/2: loss [\d.]+, val_loss [\d.]+, val_macro_f1/);
      checkWrittenClassifier(project, out);
    },
  );

  it(
    "a multi-label classifier: train.py's validation loss of start/ is recur's; a few steps; recur classify predict reads it",
    { skip: skipTorch },
    () => {
      // Texts tagged by keywords: any number of the three labels per text.
      const rng = new Random(6);
      const tags: Record<string, string> = { funny: 'joke', sad: 'tears', long: 'endless' };
      const rows = ['text,labels'];
      for (let i = 0; i < 120; i++) {
        const words = Array.from(
          { length: 3 + rng.int(4) },
          () => ['the', 'film', 'was', 'plot'][rng.int(4)],
        );
        const labels = Object.keys(tags).filter(() => rng.next() < 0.4);
        for (const l of labels) words.splice(rng.int(words.length + 1), 0, tags[l]);
        rows.push(`${words.join(' ')},${labels.join('|')}`);
      }
      const csv = join(dir, 'tagged.csv');
      writeFileSync(csv, rows.join('\n') + '\n');
      const model = join(dir, 'tagged-model');
      const t = run([
        'classify',
        'train',
        csv,
        '--multi-label',
        '--out',
        model,
        '--epochs',
        '1',
        '--units',
        '4',
        '--embedding-dim',
        '5',
        '--steps-per-epoch',
        '2',
        '--threads',
        '1',
        '--seed',
        '2',
        '-q',
      ]);
      assert.equal(t.code, 0, t.stderr);
      const project = join(dir, 'tagged-project');
      const e = run(['export', 'pytorch', model, project, '-q']);
      assert.equal(e.code, 0, e.stderr);
      const data = JSON.parse(readFileSync(join(project, 'classify_data.json'), 'utf8')) as {
        multiLabel: boolean;
        train: { labels: number[][] };
      };
      assert.equal(data.multiLabel, true);
      assert.ok(data.train.labels.every((l) => l.length === 3 && l.every((v) => v === 0 || v === 1)));
      const pythonLoss = Number(py(project, ['-c', VALIDATION_LOSS, 'classify']));
      assert.ok(
        Math.abs(pythonLoss - loggedValLoss(model)) < 1e-5,
        `${pythonLoss} vs recur's ${loggedValLoss(model)}`,
      );
      const out = join(project, 'run');
      assert.match(
        py(project, ['train.py', '--out', out, '--epochs', '1']),
        /Epoch 1\/1: loss [\d.]+, val_loss [\d.]+, val_micro_f1/,
      );
      const p = run(['classify', 'predict', out, 'the joke was endless', '--json', '--threads', '1']);
      assert.equal(p.code, 0, p.stderr);
      assert.match(p.stdout, /"labels":\[/);
    },
  );

  it(
    'a classifier with class weights: a 2-process torchrun trains a few steps; recur reads the model it writes',
    { skip: skipTorch },
    () => {
      const model = classifier('ddp-classifier', ['--class-weight', 'balanced', '--layers', '2']);
      const project = join(dir, 'ddp-classifier-project');
      const e = run(['export', 'pytorch', model, project, '-q']);
      assert.equal(e.code, 0, e.stderr);
      const weights = (
        JSON.parse(readFileSync(join(project, 'classify_data.json'), 'utf8')) as {
          classWeights: number[];
        }
      ).classWeights;
      assert.equal(weights.length, 2);
      const out = join(project, 'run');
      const port = String(20000 + Math.floor(Math.random() * 20000));
      py(project, [
        '-m',
        'torch.distributed.run',
        '--redirects',
        '1',
        '--tee',
        '1',
        '--nnodes',
        '1',
        '--nproc_per_node',
        '2',
        '--master_addr',
        '127.0.0.1',
        '--master_port',
        port,
        'train.py',
        '--epochs',
        '1',
        '--out',
        out,
      ]);
      assert.ok(existsSync(join(out, 'pytorch-checkpoint.rank1.pt')), 'both processes ran');
      assert.equal(readFileSync(join(out, 'log.csv'), 'utf8').trim().split('\n').length, 2);
      checkWrittenClassifier(project, out);
    },
  );

  const seq2seqCases: [string, Partial<Seq2SeqSettings>][] = [
    ['BiLSTM encoder, Luong attention', { attention: 'luong' }],
    [
      'two BiGRU encoder layers, Bahdanau attention',
      { attention: 'bahdanau', cell: 'gru', encoderLayers: 2 },
    ],
    ['one-direction LSTM encoder, no attention', { attention: 'none', bidirectional: false }],
    ['BiLSTM encoder, Luong attention, post-attention LSTM', { attention: 'luong', postAttentionUnits: 5 }],
  ];
  const SEQ2SEQ_FORWARD = String.raw`
import json, sys
import numpy as np, torch
import recur_io
from model import recur_model
model_json, arrays = recur_io.read_model_dir(sys.argv[1])
m = recur_model(model_json["modelTopology"])
m.load_recur_weights(arrays)
m.eval()
x = json.load(open(sys.argv[2]))
with torch.no_grad():
    y = m.predict(torch.tensor(x["source"]), torch.tensor(x["previous"]))
back = m.recur_weights()
own = [n for n, _ in recur_io.model_weight_specs(model_json)]
assert sorted(back) == sorted(own), (sorted(back), sorted(own))
print(json.dumps({"y": y.double().numpy().ravel().tolist(),
                  "roundtrip": max(float(np.abs(back[k] - arrays[k]).max()) for k in own)}))
`;
  for (const [name, settings] of seq2seqCases) {
    it(
      `the exported encoder–decoder's teacher-forced forward equals recur's predict: ${name}`,
      { skip: skipTorch },
      () => {
        const model = buildSeq2SeqModel({ ...G2P_SETTINGS, units: 3, embeddingDim: 4, ...settings }, 9, 8);
        // Non-zero biases too, so every weight's mapping counts.
        const rng = new Random(11);
        for (const { weight } of model.namedWeights())
          for (let i = 0; i < weight.value.length; i++) weight.value[i] += 0.3 * rng.normal();
        const at = join(dir, `seq2seq-${name.replace(/[^a-z]+/gi, '-')}`);
        saveModel(model, at, { includeOptimizer: false });
        // Sources and decoder inputs right-padded to mixed lengths, as recur's batches.
        const source = [
          [3, 1, 4, 1, 5],
          [2, 7, 0, 0, 0],
          [5, 0, 0, 0, 0],
        ];
        const previous = [
          [1, 2, 3, 0],
          [1, 4, 0, 0],
          [1, 5, 6, 7],
        ];
        writeFileSync(join(at, 'x.json'), JSON.stringify({ source, previous }));
        const want = (
          model.predict([
            new IndexTensor(Int32Array.from(source.flat()), [3, 5]),
            new IndexTensor(Int32Array.from(previous.flat()), [3, 4]),
          ]) as Tensor
        ).data;
        const got = JSON.parse(py(classifierProject(), ['-c', SEQ2SEQ_FORWARD, at, join(at, 'x.json')])) as {
          y: number[];
          roundtrip: number;
        };
        assert.equal(got.y.length, want.length);
        const diff = maxAbsDiff(got.y, want);
        assert.ok(diff <= 1e-5, `max difference ${diff}`);
        assert.equal(got.roundtrip, 0, 'PyTorch → recur gives the weights back');
      },
    );
  }

  it(
    "a functional graph's Dense layers of recur's newer activations, a sigmoid output: forward equals recur's predict",
    { skip: skipTorch },
    () => {
      const tokens = input({ shape: [null], dtype: 'int32', name: 'tokens' });
      let h = new L.Embedding({ inputDim: 9, outputDim: 4 }).apply(tokens) as SymbolicTensor;
      h = new L.LSTM({ units: 3, returnSequences: true }).apply(h) as SymbolicTensor;
      h = new L.Dense({ units: 6, activation: 'gelu_new', biasInitializer: 'randomNormal' }).apply(
        h,
      ) as SymbolicTensor;
      h = new L.Dense({ units: 5, activation: 'squareplus' }).apply(h) as SymbolicTensor;
      // The output's sigmoid is applied once (predict applied it again over forward's).
      const out = new L.Dense({ units: 2, activation: 'sigmoid', name: 'out' }).apply(h) as SymbolicTensor;
      const graph = functionalModel({ inputs: tokens, outputs: out, seed: 4 });
      const at = join(dir, 'graph-activations');
      saveModel(graph, at, { includeOptimizer: false });
      const rows = PADDED;
      writeFileSync(join(at, 'x.json'), JSON.stringify(rows));
      const GRAPH_FORWARD = String.raw`
import json, sys
import torch
import recur_io
from model import recur_model
model_json, arrays = recur_io.read_model_dir(sys.argv[1])
m = recur_model(model_json["modelTopology"])
m.load_recur_weights(arrays)
m.eval()
with torch.no_grad():
    y = m.predict(torch.tensor(json.load(open(sys.argv[2]))))
print(json.dumps(y.double().numpy().ravel().tolist()))
`;
      const got = JSON.parse(
        py(classifierProject(), ['-c', GRAPH_FORWARD, at, join(at, 'x.json')]),
      ) as number[];
      const want = (graph.predict(new IndexTensor(Int32Array.from(rows.flat()), [rows.length, 7])) as Tensor)
        .data;
      assert.equal(got.length, want.length);
      const diff = maxAbsDiff(got, want);
      assert.ok(diff <= 1e-5, `max difference ${diff}`);
    },
  );

  it(
    "an encoder–decoder with --lr-schedule cosine, --ema and a joint n-gram: train.py follows recur's cosine by the step, across a resume; the average and the n-gram are said not to be exported",
    { skip: skipTorch },
    () => {
      const tsv = join(dir, 'cosine-pairs.tsv');
      writeFileSync(tsv, pairs(120, 5));
      const small = ['--units', '4', '--embedding-dim', '5', '--batch-size', '4', '--threads', '1'];
      const m = join(dir, 'cosine-ema-model');
      const args = [
        '--epochs',
        '1',
        '--lr-schedule',
        'cosine',
        '--ema',
        '0.9',
        '--lr',
        '0.01',
        '--joint-ngram',
        '2',
        ...small,
        '-q',
      ];
      const r = run(['seq2seq', 'train', tsv, '--out', m, ...args]);
      assert.equal(r.code, 0, r.stderr);
      const project = join(dir, 'cosine-project');
      const e = run(['export', 'pytorch', m, project]);
      assert.equal(e.code, 0, e.stderr);
      assert.match(e.stderr, /note: the run's weight average \(--ema 0\.9\) is not exported/);
      assert.match(e.stderr, /note: the joint n-gram \(joint-ngram\.json\) is not exported/);
      const n = (
        JSON.parse(readFileSync(join(project, 'seq2seq_data.json'), 'utf8')) as {
          train: { sources: number[][] };
        }
      ).train.sources.length;
      const perEpoch = Math.ceil(n / 4);
      const out = join(project, 'run');
      // Python trains 2 epochs of the 1-epoch cosine: the second stays at 0; stopped and resumed mid-epoch 1.
      py(project, ['train.py', '--out', out, '--epochs', '2', '--max-steps', '2']);
      py(project, ['train.py', '--out', out, '--epochs', '2', '--resume']);
      const [head, ...rows] = readFileSync(join(out, 'log.csv'), 'utf8').trim().split('\n');
      const lr = rows.map((row) => Number(row.split(',')[head.split(',').indexOf('lr')]));
      // The rate of each epoch's last step (0-based step perEpoch·(e + 1) − 1), as recur's cosineDecay gives it.
      const want = [0, 1].map((ep) =>
        cosineDecay(perEpoch * (ep + 1) - 1, { initialLearningRate: 0.01, decaySteps: perEpoch }),
      );
      assert.equal(lr.length, 2);
      lr.forEach((x, i) =>
        assert.ok(Math.abs(x - want[i]) < 1e-12, `epoch ${i + 1}: lr ${x}, want ${want[i]}`),
      );
      // recur's own run logged the same rate for its one epoch.
      const [rh, rr] = readFileSync(join(m, 'log.csv'), 'utf8').trim().split('\n');
      assert.ok(Math.abs(Number(rr.split(',')[rh.split(',').indexOf('lr')]) - want[0]) < 1e-12);
    },
  );

  it(
    'an encoder–decoder refit with --train-on-validation: train.py trains on the same pairs (the validation split among them), validates nothing and saves every epoch',
    { skip: skipTorch },
    () => {
      const tsv = join(dir, 'refit-pairs.tsv');
      writeFileSync(tsv, pairs(120, 5));
      const small = ['--units', '4', '--embedding-dim', '5', '--batch-size', '4', '--threads', '1'];
      const plainModel = join(dir, 'refit-plain');
      const refitModel = join(dir, 'refit-model');
      const cosine = ['--epochs', '1', '--lr-schedule', 'cosine', ...small, '-q'];
      assert.equal(run(['seq2seq', 'train', tsv, '--out', plainModel, ...cosine]).code, 0);
      const t = run(['seq2seq', 'train', tsv, '--out', refitModel, ...cosine, '--train-on-validation']);
      assert.equal(t.code, 0, t.stderr);
      type Data = { train: { sources: number[][] }; validation: { sources: number[][] } };
      const exported = (model: string, project: string): { data: Data; stderr: string } => {
        const e = run(['export', 'pytorch', model, project]);
        assert.equal(e.code, 0, e.stderr);
        const data = JSON.parse(readFileSync(join(project, 'seq2seq_data.json'), 'utf8')) as Data;
        return { data, stderr: e.stderr };
      };
      const plain = exported(plainModel, join(dir, 'refit-plain-project')).data;
      const project = join(dir, 'refit-project');
      const { data: refit, stderr } = exported(refitModel, project);
      assert.match(stderr, /note: the run trained on its validation split too \(--train-on-validation\)/);
      assert.ok(plain.validation.sources.length > 0);
      assert.equal(refit.validation.sources.length, 0);
      assert.deepEqual(refit.train.sources, [...plain.train.sources, ...plain.validation.sources]);
      const out = join(project, 'run');
      const said = py(project, ['train.py', '--out', out, '--epochs', '2']);
      assert.match(said, /Epoch 2: saved .* \(no validation: the last epoch is the model\)/);
      const head = readFileSync(join(out, 'log.csv'), 'utf8').split('\n')[0];
      assert.doesNotMatch(head, /val_/);
      assert.ok(existsSync(join(out, 'model.json')));
    },
  );

  it(
    "an encoder–decoder: seq2seq_data.json is recur's split; train.py trains it, stops, resumes, and under a 2-process torchrun; recur seq2seq reads the result",
    { skip: skipTorch },
    () => {
      const tsv = join(dir, 'pairs.tsv');
      writeFileSync(tsv, pairs(120, 5));
      const model = join(dir, 'pairs-model');
      const t = run([
        'seq2seq',
        'train',
        tsv,
        '--out',
        model,
        '--epochs',
        '1',
        '--units',
        '4',
        '--embedding-dim',
        '5',
        '--batch-size',
        '4',
        '--threads',
        '1',
        '-q',
      ]);
      assert.equal(t.code, 0, t.stderr);
      const project = join(dir, 'pairs-project');
      const e = run(['export', 'pytorch', model, project, '-q']);
      assert.equal(e.code, 0, e.stderr);
      const data = JSON.parse(readFileSync(join(project, 'seq2seq_data.json'), 'utf8')) as {
        train: { sources: number[][]; targets: number[][] };
        validation: { sources: number[][]; targets: number[][] };
      };
      // 16 distinct sources (4 × 4 animals), split 90/5/5 by source, every alternative target with its source.
      assert.ok(data.train.sources.length >= 12 && data.validation.sources.length >= 1);
      assert.ok(data.train.targets.every((ids) => ids.length === 5 && !ids.includes(0)));
      const pythonLoss = Number(py(project, ['-c', VALIDATION_LOSS, 'seq2seq']));
      assert.ok(
        Math.abs(pythonLoss - loggedValLoss(model)) < 1e-5,
        `${pythonLoss} vs recur's ${loggedValLoss(model)}`,
      );
      const out = join(project, 'run');
      const first = py(project, ['train.py', '--out', out, '--epochs', '2', '--max-steps', '2']);
      assert.match(first, /Stopped after 2 steps \(--max-steps\) at epoch 1, batch 2/);
      const second = py(project, ['train.py', '--out', out, '--epochs', '2', '--resume']);
      assert.match(second, /Resuming at epoch 1, batch 3/);
      assert.match(second, /Epoch 2\/2: loss [\d.]+, val_loss [\d.]+, val_accuracy [\d.]+, lr/);
      const loaded = loadFunctionalModel(out);
      // recur's functional loader does not check sha256 records; check those the Python side wrote here.
      const written = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as {
        userDefinedMetadata: { recur: { sha256: { weights: Record<string, string> } } };
      };
      for (const [file, hash] of Object.entries(written.userDefinedMetadata.recur.sha256.weights))
        assert.equal(
          createHash('sha256')
            .update(readFileSync(join(out, file)))
            .digest('hex'),
          hash,
          file,
        );
      const torchWeights = JSON.parse(
        py(project, [
          '-c',
          TORCH_WEIGHTS.replace(/RecurModel/g, 'RecurGraph'),
          join(out, 'pytorch-checkpoint.rank0.pt'),
        ]),
      ) as Record<string, number[]>;
      const start = loadFunctionalModel(join(project, 'start')).model;
      const startWeights = new Map(start.namedWeights().map(({ name, weight }) => [name, weight.value]));
      let changed = 0;
      for (const { name, weight } of loaded.model.namedWeights()) {
        assert.deepEqual(Float32Array.from(torchWeights[name]), weight.value, name);
        if (maxAbsDiff(startWeights.get(name)!, weight.value) > 0) changed++;
      }
      assert.ok(changed > 0, 'training changed the weights');
      const p = run(['seq2seq', 'predict', out, 'the cat and the dog', '--threads', '1']);
      assert.equal(p.code, 0, p.stderr);
      assert.ok(p.stdout.trim().length > 0);
      // And under a 2-process torchrun (DistributedDataParallel over the graph, gloo).
      const ddp = join(project, 'run-ddp');
      const port = String(20000 + Math.floor(Math.random() * 20000));
      py(project, [
        '-m',
        'torch.distributed.run',
        '--redirects',
        '1',
        '--tee',
        '1',
        '--nnodes',
        '1',
        '--nproc_per_node',
        '2',
        '--master_addr',
        '127.0.0.1',
        '--master_port',
        port,
        'train.py',
        '--epochs',
        '1',
        '--out',
        ddp,
      ]);
      assert.ok(existsSync(join(ddp, 'pytorch-checkpoint.rank1.pt')), 'both processes ran');
      const q = run(['seq2seq', 'predict', ddp, 'the bird and the fish', '--threads', '1']);
      assert.equal(q.code, 0, q.stderr);
      // Without its pairs file, an encoder–decoder cannot be handed off with its recipe: bad input, nothing written.
      rmSync(tsv);
      const gone = run(['export', 'pytorch', model, join(dir, 'pairs-project-2')]);
      assert.equal(gone.code, 2, gone.stderr);
      assert.match(
        gone.stderr,
        /pairs-model: its training pairs are needed to export the seq2seq recipe, but .*pairs\.tsv is not there/,
      );
      assert.ok(!existsSync(join(dir, 'pairs-project-2')));
    },
  );
});
