/**
 * `npm run bench:charrnn` (node dist/bench/charrnn.js) — the char-rnn recipe's training speed against PyTorch (issue
 * #18 item 2): two LSTM(256) layers with dropout 0.2, Dense(vocab) softmax at every step, Adam 4e-3, global-norm
 * clipping 5, stateful batches of `--batch` streams × 50 characters (the recipe: 32; `--batch 32,128` also measures a
 * larger batch, for per-character efficiency) — against PyTorch's nn.LSTM(num_layers=2) on the same shapes
 * (bench/charrnn_torch.py, /usr/bin/python3 with torch), in the same run. recur's rate is the median of `--passes`
 * timed passes of `--batches` batches after one untimed pass, on 1 thread and on all cores; PyTorch's is the same
 * median at its fastest split of the cores (torch threads × OpenBLAS threads, every pair tried). Corpus:
 * ../shared/data/sherlock.txt when present, else Moby Dick. `--json` adds one JSON line.
 */
import '../src/node/index.js';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { mobyDick, readTextFile } from '../src/node/text_file.js';
import { TextCorpus } from '../src/text/corpus.js';
import { buildTextModel, compileTextModel, textSettings } from '../src/text/recipes.js';
import { bestTorchSplit, median, torchComparisonRow, type RecurRates } from './torch_splits.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const SHERLOCK = join(root, '..', 'shared', 'data', 'sherlock.txt');
const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const BATCHES = Number(flag('--batches', '10'));
const PASSES = Number(flag('--passes', '3'));
const BATCH_SIZES = flag('--batch', '32').split(',').map(Number);
const CORES = availableParallelism();
const corpus = TextCorpus.fromText(existsSync(SHERLOCK) ? readTextFile(SHERLOCK) : mobyDick());
const V = corpus.vocabulary.size;

async function recurRate(batchSize: number, threads: number): Promise<RecurRates> {
  const s = textSettings('char-rnn', { batchSize, seed: 1 });
  const model = buildTextModel(s, V);
  compileTextModel(model, s);
  model.threads = threads;
  const data = corpus.streams({ seqLength: s.seqLength, batchSize, maxBatches: BATCHES });
  await model.fitDataset(data, { epochs: 1 }); // untimed: starts the workers, warms the kernels
  const passes: number[] = [];
  for (let p = 0; p < PASSES; p++) {
    const t0 = performance.now();
    await model.fitDataset(data, { epochs: 1 });
    passes.push(
      ((data.batchesPerEpoch ?? BATCHES) * batchSize * s.seqLength) / ((performance.now() - t0) / 1000),
    );
  }
  return { rate: median(passes), passes };
}

function torchRate(batchSize: number): { rate: number; setting: string; version: string } | null {
  return bestTorchSplit(
    join(root, 'bench', 'charrnn_torch.py'),
    (threads) => [
      ...['--vocab', String(V), '--threads', String(threads), '--batch', String(batchSize)],
      ...['--batches', String(BATCHES), '--passes', String(PASSES)],
    ],
    `PyTorch char-rnn, batch ${batchSize}`,
    'chars/s',
  );
}

const rows: Record<string, unknown>[] = [];
console.log(
  `char-rnn recipe on ${existsSync(SHERLOCK) ? 'sherlock.txt' : 'Moby Dick'} (vocabulary ${V}); ${BATCHES} batches a pass, median of ${PASSES} passes; training characters/s`,
);
console.log(
  `| streams × 50 chars | recur, 1 thread | recur, ${CORES} threads | PyTorch (best split) | recur ÷ PyTorch |`,
);
console.log('| --- | --: | --: | --: | --: |');
for (const batchSize of BATCH_SIZES) {
  const one = await recurRate(batchSize, 1);
  const all = await recurRate(batchSize, CORES);
  rows.push(torchComparisonRow('batchSize', batchSize, one, all, torchRate(batchSize)));
}
await shutdownWorkerPool();
if (args.includes('--json'))
  console.log(JSON.stringify({ date: new Date().toISOString(), cores: CORES, vocab: V, rows }));
