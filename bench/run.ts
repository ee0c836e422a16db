/**
 * `npm run bench` — the seed recipe's speed against the peers, in one run on this machine:
 *   recur (1 thread, all threads), @tensorflow/tfjs wasm and cpu backends, and PyTorch when /usr/bin/python3 has it.
 * Measures training samples/s (LSTM(128) → Dense(vocab) softmax, RMSprop(0.01), batch 128, 40-char windows),
 * generation chars/s (recur: stateful, one step per char, on one thread and with a step helper computing each step's
 * recurrent product on a second; tfjs: the recipe's re-run of the 40-char window per char),
 * and peak RSS of a full recur training epoch (a child process). recur figures are medians of 5 timed runs (the spread
 * is printed and saved). Prints a Markdown table and writes
 * bench/results.json. Corpus: ../shared/data/sherlock.txt when present, else Moby Dick.
 */
import '../src/node/index.js';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { coreRoundTripNs } from './core_round_trip.js';
import { kernels } from '../src/core/backend.js';
import { IndexTensor } from '../src/core/tensor.js';
import { Dense, LSTM } from '../src/layers/index.js';
import { RMSprop } from '../src/models/optimizers.js';
import { Sequential } from '../src/models/sequential.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { startStepHelper } from '../src/node/step_helper.js';
import type { StepHelper } from '../src/parallel/step_helper.js';
import { mobyDick, readTextFile } from '../src/node/text_file.js';
import { TextCorpus } from '../src/text/corpus.js';
import { TextGenerator } from '../src/text/generator.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const SHERLOCK = join(root, '..', 'shared', 'data', 'sherlock.txt');
const MAXLEN = 40;
const STEP = 3;
const BATCH = 128;

const corpusName = existsSync(SHERLOCK) ? 'sherlock.txt' : 'Moby Dick (@stdlib)';
const corpus = TextCorpus.fromText(existsSync(SHERLOCK) ? readTextFile(SHERLOCK) : mobyDick());
const V = corpus.vocabulary.size;
const batches = [
  ...corpus.windows({ maxlen: MAXLEN, step: STEP, batchSize: BATCH, seed: 1, maxBatches: 40 }).batches(0),
];

function recurModel(): Sequential {
  const m = new Sequential({
    seed: 1,
    layers: [
      new LSTM({ units: 128, inputShape: [MAXLEN, V] }),
      new Dense({ units: V, activation: 'softmax' }),
    ],
  });
  m.compile({ optimizer: new RMSprop({ learningRate: 0.01 }), loss: 'categoricalCrossentropy' });
  return m;
}

/** Each recur figure is the median of this many timed runs (the VM is noisy; the spread is printed). */
const REPEATS = 5;
const spreads: string[] = [];

function summarize(rates: number[]): number {
  const sorted = [...rates].sort((a, b) => a - b);
  spreads.push(sorted.map((r) => Math.round(r)).join(' / '));
  return sorted[Math.floor(sorted.length / 2)];
}

async function recurTrain(threads: number, n: number): Promise<number> {
  const m = recurModel();
  m.threads = threads;
  const data = {
    batchesPerEpoch: n,
    *batches() {
      for (let i = 0; i < n; i++) yield batches[i % batches.length];
    },
  };
  await m.fitDataset(
    {
      batchesPerEpoch: 3,
      *batches() {
        for (let i = 0; i < 3; i++) yield batches[i];
      },
    },
    { epochs: 1 },
  ); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    await m.fitDataset(data, { epochs: 1 });
    rates.push((n * BATCH) / ((performance.now() - t0) / 1000));
  }
  return summarize(rates);
}

/**
 * chars/s of stateful generation, or with `window` of exact-window generation (recipe-identical numbers); with a
 * step helper, also with its recurrent products on a second thread (the same text: checked), the two ways taking
 * turns run by run so that the VM's drift from one minute to the next reaches both alike: [one thread, helper].
 */
function recurGenerate(
  chars: number,
  window?: number,
  helper: StepHelper | null = null,
): [number, number | null] {
  const m = recurModel();
  m.build();
  const gen = new TextGenerator(m, corpus.vocabulary, true, window);
  const prime = corpus.windowText(0, MAXLEN, STEP);
  const ways = helper ? [null, helper] : [null];
  // Warm-up long enough for V8 to tier the kernels and the loop up to optimised code.
  const first = ways.map((h) =>
    gen.generate({ prime, length: Math.min(chars, 5000), temperature: 0.5, seed: 1, helper: h }),
  );
  if (first.some((text) => text !== first[0]))
    throw new Error('generation with the step helper differs from generation without it');
  const rates: number[][] = ways.map(() => []);
  for (let r = 0; r < REPEATS; r++)
    ways.forEach((h, i) => {
      const t0 = performance.now();
      gen.generate({ prime, length: chars, temperature: 0.5, seed: 1, helper: h });
      rates[i].push(chars / ((performance.now() - t0) / 1000));
    });
  return [summarize(rates[0]), helper ? summarize(rates[1]) : null];
}

function tfjsModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(
    tf.layers.lstm({
      units: 128,
      inputShape: [MAXLEN, V],
      recurrentActivation: 'sigmoid',
      kernelInitializer: 'glorotUniform',
    }),
  );
  m.add(tf.layers.dense({ units: V, activation: 'softmax' }));
  m.compile({ optimizer: tf.train.rmsprop(0.01), loss: 'categoricalCrossentropy' });
  return m;
}

function oneHot(x: IndexTensor): tf.Tensor {
  return tf.oneHot(tf.tensor(Array.from(x.data), [...x.shape], 'int32'), V).toFloat();
}

async function tfjsTrain(backend: string, n: number): Promise<number> {
  await tf.setBackend(backend);
  await tf.ready();
  const m = tfjsModel();
  const data = batches
    .slice(0, n + 1)
    .map((b) => ({ x: oneHot(b.xs as IndexTensor), y: oneHot(b.ys as IndexTensor) }));
  await m.trainOnBatch(data[0].x, data[0].y); // warm-up
  const t0 = performance.now();
  for (let i = 1; i <= n; i++) await m.trainOnBatch(data[i].x, data[i].y);
  const sps = (n * BATCH) / ((performance.now() - t0) / 1000);
  tf.dispose(data.flatMap((d) => [d.x, d.y]));
  return sps;
}

/** The Keras recipe's generation: predict on the last 40 chars (one-hot) for every new char. */
async function tfjsGenerate(backend: string, chars: number): Promise<number> {
  await tf.setBackend(backend);
  const m = tfjsModel();
  const window = Array.from(corpus.data.subarray(0, MAXLEN));
  const gen = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const p = tf.tidy(
        () =>
          (
            m.predict(
              tf.oneHot(tf.tensor2d([window.slice(-MAXLEN)], [1, MAXLEN], 'int32'), V).toFloat(),
            ) as tf.Tensor
          )
            .argMax(-1)
            .dataSync()[0],
      );
      window.push(p);
    }
  };
  gen(3);
  const t0 = performance.now();
  gen(chars);
  return chars / ((performance.now() - t0) / 1000);
}

interface TorchResult {
  version: string;
  train1: number;
  train2: number;
  generate: number;
  generateWindow: number;
}

/**
 * PyTorch's best setting: the recipe under OpenBLAS with 1 and 2 BLAS threads × 1 and 2 torch threads (they
 * oversubscribe the cores when both are 2). Null when /usr/bin/python3 has no torch.
 */
interface TorchBest {
  train: number;
  setting: string;
  generate: number;
  generateWindow: number;
  version: string;
}

function torchBench(): TorchBest | null {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return null;
  const runs: TorchBest[] = [];
  for (const blasThreads of [1, 2]) {
    const r = spawnSync('/usr/bin/python3', [join(root, 'bench', 'torch_recipe.py'), String(V)], {
      encoding: 'utf8',
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(blasThreads) },
    });
    if (r.status !== 0) {
      console.error(`PyTorch run failed (OPENBLAS_NUM_THREADS=${blasThreads}):\n${r.stderr}`);
      continue;
    }
    const t = JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchResult;
    console.error(
      `PyTorch ${t.version}, OpenBLAS ${blasThreads} thread(s): ${fmt(t.train1)} samples/s (torch 1 thread), ${fmt(t.train2)} (2)`,
    );
    for (const torchThreads of [1, 2]) {
      runs.push({
        train: torchThreads === 1 ? t.train1 : t.train2,
        setting: `OPENBLAS_NUM_THREADS=${blasThreads}, torch threads ${torchThreads}`,
        generate: t.generate,
        generateWindow: t.generateWindow,
        version: t.version,
      });
    }
  }
  if (runs.length === 0) return null;
  const best = runs.reduce((a, b) => (b.train > a.train ? b : a));
  // Generation runs on one thread in every setting: report its best too.
  return {
    ...best,
    generate: Math.max(...runs.map((r) => r.generate)),
    generateWindow: Math.max(...runs.map((r) => r.generateWindow)),
  };
}

/** Peak RSS (MB) and seconds of one full training epoch of the recipe, in a child process. */
function epochRss(): { rssMb: number; seconds: number; loss: number } | null {
  const cli = join(root, 'dist', 'src', 'cli', 'main.js');
  const out = join(root, 'runs', 'bench-epoch');
  const args = [
    cli,
    'train',
    ...(existsSync(SHERLOCK) ? [SHERLOCK] : []),
    '--out',
    out,
    '--overwrite',
    '--epochs',
    '1',
    '--no-samples',
    '--json',
    '--seed',
    '1',
  ];
  const r = spawnSync(process.execPath, [join(root, 'dist', 'bench', 'maxrss.js'), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) {
    console.error(r.stderr);
    return null;
  }
  const lines = r.stdout.trim().split('\n');
  const rss = JSON.parse(lines.pop()!) as { maxRssMb: number };
  const epoch = JSON.parse(lines.find((l) => l.includes('"epoch"'))!) as { seconds: number; loss: number };
  return { rssMb: rss.maxRssMb, seconds: epoch.seconds, loss: epoch.loss };
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const ratio = (a: number, b: number | null): string => (b ? `${(a / b).toFixed(1)}×` : '–');

const cores = cpus().length;
console.error(
  `Machine: ${cpus()[0].model}, ${cores} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; kernels ${kernels().name}; corpus ${corpusName}, vocab ${V}`,
);
const r1 = await recurTrain(1, 30);
console.error(`recur 1 thread: ${fmt(r1)} samples/s (median; runs ${spreads.at(-1)})`);
const rN = await recurTrain(cores, 40);
console.error(`recur ${cores} threads: ${fmt(rN)} samples/s (median; runs ${spreads.at(-1)})`);
const helper = cores > 1 ? startStepHelper(cores) : null;
for (let waited = 0; helper && !helper.ready && waited < 10_000; waited += 10)
  await new Promise((r) => setTimeout(r, 10));
// The helper's rate follows how far apart the two cores are at the moment (bench/core_round_trip.ts): recorded beside it.
const roundTripBefore = cores > 1 ? await coreRoundTripNs() : null;
const [rGen, rGenHelper] = recurGenerate(50000, undefined, helper);
helper?.close();
const roundTripNs = roundTripBefore === null ? null : [roundTripBefore, await coreRoundTripNs()];
console.error(`recur generation: ${fmt(rGen)} chars/s (median; runs ${spreads.at(helper ? -2 : -1)})`);
if (rGenHelper !== null)
  console.error(
    `recur generation, step helper: ${fmt(rGenHelper)} chars/s (median; runs ${spreads.at(-1)}; ` +
      `cores' round trip ${roundTripNs?.join(' → ')} ns before → after)`,
  );
const [rGenWindow] = recurGenerate(5000, MAXLEN);
console.error(`recur exact-window generation: ${fmt(rGenWindow)} chars/s (median; runs ${spreads.at(-1)})`);
await shutdownWorkerPool();
setWasmPaths(join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist') + '/');
const wasm = await tfjsTrain('wasm', 4);
console.error(`tfjs wasm: ${fmt(wasm)} samples/s`);
const wasmGen = await tfjsGenerate('wasm', 100);
console.error(`tfjs wasm generation (window re-run): ${fmt(wasmGen)} chars/s`);
const cpu = await tfjsTrain('cpu', 2);
console.error(`tfjs cpu: ${fmt(cpu)} samples/s`);
const cpuGen = await tfjsGenerate('cpu', 20);
const torch = torchBench();
console.error(
  torch
    ? `PyTorch best: ${fmt(torch.train)} samples/s (${torch.setting})`
    : 'PyTorch: not available (/usr/bin/python3 cannot import torch) — skipped',
);
const epoch = process.argv.includes('--no-epoch') ? null : epochRss();
if (epoch) console.error(`full epoch: ${epoch.seconds.toFixed(1)} s, peak RSS ${epoch.rssMb.toFixed(0)} MB`);

const rows = [
  ['recur, 1 thread', fmt(r1), fmt(rGen) + ' (stateful)', ratio(r1, wasm), ratio(r1, torch?.train ?? null)],
  [
    `recur, ${cores} threads`,
    fmt(rN),
    (rGenHelper !== null ? `${fmt(rGenHelper)} (stateful, step helper); ` : '') +
      fmt(rGenWindow) +
      ' (exact window)',
    ratio(rN, wasm),
    ratio(rN, torch?.train ?? null),
  ],
  ['tfjs 4.22 wasm (SIMD)', fmt(wasm), fmt(wasmGen) + ' (window re-run)', '1.0×', ''],
  ['tfjs 4.22 cpu', fmt(cpu), fmt(cpuGen) + ' (window re-run)', ratio(cpu, wasm), ''],
  [
    torch ? `PyTorch ${torch.version} + OpenBLAS (${torch.setting})` : 'PyTorch',
    torch ? fmt(torch.train) : 'not installed',
    torch ? `${fmt(torch.generate)} (stateful); ${fmt(torch.generateWindow)} (window re-run)` : '',
    torch ? ratio(torch.train, wasm) : '',
    torch ? '1.0×' : '',
  ],
];
const table = [
  '| runtime | train samples/s | generate chars/s | vs tfjs-wasm | vs PyTorch |',
  '|---|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');
console.log(table);
if (epoch)
  console.log(
    `\nFull epoch of the recipe (${corpusName}, recur, ${cores} threads): ${epoch.seconds.toFixed(1)} s, mean training loss ${epoch.loss.toFixed(4)}, peak RSS ${epoch.rssMb.toFixed(0)} MB.`,
  );
writeFileSync(
  join(root, 'bench', 'results.json'),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: cpus()[0].model,
      cores,
      node: process.version,
      kernels: kernels().name,
      corpus: corpusName,
      recur1: r1,
      recurN: rN,
      recurGenerate: rGen,
      recurGenerateHelper: rGenHelper,
      coreRoundTripNs: roundTripNs,
      recurGenerateWindow: rGenWindow,
      recurRuns: spreads,
      tfjsWasm: wasm,
      tfjsWasmGenerate: wasmGen,
      tfjsCpu: cpu,
      tfjsCpuGenerate: cpuGen,
      torch,
      epoch,
    },
    null,
    1,
  ) + '\n',
);
