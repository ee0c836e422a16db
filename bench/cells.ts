/**
 * `npm run bench:cells` (node dist/bench/cells.js) — the seed recipe with each other cell against PyTorch (issue #18 item 3): GRU with
 * reset_after true (Keras 2+'s default, PyTorch's own equations) and false (Keras 1 / tfjs), and SimpleRNN, each
 * 128 units over 40-char windows → Dense(vocab) softmax, RMSprop 0.01, batch 128 — against PyTorch's nn.GRU and nn.RNN
 * (bench/cells_torch.py, /usr/bin/python3 with torch) on the same shapes, in the same run. recur's rate is the median
 * of 5 timed passes of 20 batches after one untimed pass, on 1 thread and on all cores; PyTorch's is the same median
 * at its fastest split of the cores (torch threads × OpenBLAS threads, every pair tried). Corpus:
 * ../shared/data/sherlock.txt when present, else Moby Dick. Flags: --batches N, --passes N, --json.
 */
import '../src/node/index.js';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dense, GRU, SimpleRNN } from '../src/layers/index.js';
import type { Layer } from '../src/layers/layer.js';
import { RMSprop } from '../src/models/optimizers.js';
import { Sequential } from '../src/models/sequential.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { mobyDick, readTextFile } from '../src/node/text_file.js';
import { TextCorpus } from '../src/text/corpus.js';
import { bestTorchSplit, median, torchComparisonRow, type RecurRates } from './torch_splits.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const SHERLOCK = join(root, '..', 'shared', 'data', 'sherlock.txt');
const MAXLEN = 40;
const BATCH = 128;
const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const BATCHES = flag('--batches', 20);
const PASSES = flag('--passes', 5);
const CORES = availableParallelism();

const corpus = TextCorpus.fromText(existsSync(SHERLOCK) ? readTextFile(SHERLOCK) : mobyDick());
const V = corpus.vocabulary.size;
const batches = [
  ...corpus.windows({ maxlen: MAXLEN, step: 3, batchSize: BATCH, seed: 1, maxBatches: BATCHES }).batches(0),
];

interface Cell {
  name: string;
  torch: 'gru' | 'rnn';
  layer: () => Layer;
}
const CELLS: Cell[] = [
  {
    name: 'GRU, reset_after=true',
    torch: 'gru',
    layer: () => new GRU({ units: 128, resetAfter: true, inputShape: [MAXLEN, V] }),
  },
  {
    name: 'GRU, reset_after=false',
    torch: 'gru',
    layer: () => new GRU({ units: 128, resetAfter: false, inputShape: [MAXLEN, V] }),
  },
  {
    name: 'SimpleRNN (tanh)',
    torch: 'rnn',
    layer: () => new SimpleRNN({ units: 128, inputShape: [MAXLEN, V] }),
  },
];

async function recurRate(cell: Cell, threads: number): Promise<RecurRates> {
  const m = new Sequential({
    seed: 1,
    layers: [cell.layer(), new Dense({ units: V, activation: 'softmax' })],
  });
  m.compile({ optimizer: new RMSprop({ learningRate: 0.01 }), loss: 'categoricalCrossentropy' });
  m.threads = threads;
  const data = { batchesPerEpoch: batches.length, batches: () => batches };
  await m.fitDataset(data, { epochs: 1 }); // untimed
  const passes: number[] = [];
  for (let p = 0; p < PASSES; p++) {
    const t0 = performance.now();
    await m.fitDataset(data, { epochs: 1 });
    passes.push((batches.length * BATCH) / ((performance.now() - t0) / 1000));
  }
  return { rate: median(passes), passes };
}

function torchRate(cell: Cell): { rate: number; setting: string; version: string } | null {
  return bestTorchSplit(
    join(root, 'bench', 'cells_torch.py'),
    (threads) => [
      ...['--cell', cell.torch, '--vocab', String(V), '--threads', String(threads)],
      ...['--batches', String(BATCHES), '--passes', String(PASSES)],
    ],
    `PyTorch nn.${cell.torch.toUpperCase()}`,
    'samples/s',
  );
}

const rows: Record<string, unknown>[] = [];
console.log(
  `Corpus ${existsSync(SHERLOCK) ? 'sherlock.txt' : 'Moby Dick'} (vocabulary ${V}); ${BATCHES} batches of ${BATCH} a pass, median of ${PASSES} passes`,
);
console.log(`| cell | recur, 1 thread | recur, ${CORES} threads | PyTorch (best split) | recur ÷ PyTorch |`);
console.log('| --- | --: | --: | --: | --: |');
for (const cell of CELLS) {
  const one = await recurRate(cell, 1);
  const all = await recurRate(cell, CORES);
  rows.push(torchComparisonRow('cell', cell.name, one, all, torchRate(cell)));
}
await shutdownWorkerPool();
if (args.includes('--json'))
  console.log(JSON.stringify({ date: new Date().toISOString(), cores: CORES, vocab: V, rows }));
