/**
 * `recur export pytorch` (issue #17): the weight-layout mapping checked against PyTorch's own equations in TypeScript;
 * the command's files and errors; and, where a Python with PyTorch is installed (RECUR_PYTHON, python3 or
 * /usr/bin/python3; CI installs Debian's python3-torch), the exported module's forward against recur's predict for
 * every exported layer, a 2-process torchrun on 127.0.0.1 whose written model loads in recur with the weights PyTorch
 * holds, and a run stopped by --max-steps and resumed to the end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
import { IndexTensor } from '../src/core/tensor.js';
import {
  kerasToTorch,
  pytorchExportProblem,
  torchToKeras,
  type LayoutParams,
  type LayoutTensor,
} from '../src/export/pytorch_layout.js';
import * as L from '../src/layers/index.js';
import type { Layer } from '../src/layers/layer.js';
import { layerToKeras } from '../src/models/serialization.js';
import { Sequential } from '../src/models/sequential.js';
import { loadModel } from '../src/node/model_io.js';
import { maxAbsDiff, randomTensor } from './helpers.js';
import { runCli as run, pseudoText } from './cli_helpers.js';

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

  it('refuses what PyTorch cannot compute the same way, naming the layer', () => {
    const problem = (layers: Layer[]): string | null => {
      const m = new Sequential({ seed: 1, layers });
      m.build();
      return pytorchExportProblem(m.layers.map(layerToKeras));
    };
    const first = { inputShape: [5, 7] as const };
    assert.equal(
      problem([new L.LSTM({ units: 3, ...first }), new L.Dense({ units: 7, activation: 'softmax' })]),
      null,
    );
    assert.match(
      problem([new L.GRU({ units: 3, resetAfter: false, ...first })]) ?? '',
      /layer 'gru\w*' \(GRU\): a GRU with reset_after=false has no PyTorch equal/,
    );
    assert.match(
      problem([new L.LSTM({ units: 3, recurrentDropout: 0.1, ...first })]) ?? '',
      /dropout inside a recurrent layer is not exported/,
    );
    assert.match(
      problem([new L.LSTM({ units: 3, recurrentActivation: 'hardSigmoid', ...first })]) ?? '',
      /needs activation tanh and recurrent_activation sigmoid/,
    );
    assert.match(
      problem([
        new L.LSTM({ units: 3, ...first }),
        new L.Dense({ units: 4, activation: 'relu' }),
        new L.Dense({ units: 2 }),
      ]) ?? '',
      /Dense\): activation relu is not exported/,
    );
    assert.match(
      problem([new L.Bidirectional({ layer: new L.LSTM({ units: 3 }), ...first })]) ?? '',
      /\(Bidirectional\) is not exported yet/,
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
    const project = join(dir, `${name}-project`);
    const e = run(['export', 'pytorch', model, project, '-q']);
    assert.equal(e.code, 0, e.stderr);
    return [model, project];
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
      'recur_io.py',
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

  it('bad usage: an unknown format, a non-empty or file OUT, a model PyTorch cannot compute (exit 2, nothing written)', () => {
    const [model] = exported('bad', [...KERAS]);
    const busy = join(dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'notes.txt'), 'mine');
    const gru = join(dir, 'gru-ra-false');
    const t = run([
      'train',
      book,
      '--out',
      gru,
      '--epochs',
      '1',
      '--units',
      '4',
      '--cell',
      'gru',
      '--gru-reset-after',
      'false',
      '--threads',
      '1',
      '--no-samples',
      '-q',
      ...KERAS,
    ]);
    assert.equal(t.code, 0, t.stderr);
    const cases: [string[], RegExp][] = [
      [['export', 'onnx', model, join(dir, 'x1')], /export: the format must be pytorch, got 'onnx'/],
      [['export', 'pytorch', model, busy], /busy is not empty; give a new \(or empty\) directory/],
      [['export', 'pytorch', model, book], /book\.txt is a file; give a new directory/],
      [
        ['export', 'pytorch', gru, join(dir, 'x2')],
        /cannot be exported to PyTorch: layer 'gru\w*' \(GRU\): a GRU with reset_after=false/,
      ],
      [['export', 'pytorch', join(dir, 'nowhere'), join(dir, 'x3')], /nowhere: no such model directory/],
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
    });
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
});
