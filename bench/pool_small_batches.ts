/**
 * `node dist/bench/pool_small_batches.js` — does a second thread pay on small batches of short texts (issue #18)?
 *
 * The classify default model (Embedding 64 with padding masked → BiLSTM(64) → max over time → Dropout 0.2 → one
 * sigmoid unit, Adam 3e-3 with global clipnorm 5) trained on length-bucketed batches of 32 and 64 texts, on 1 and on
 * 2 threads: short review-like texts (test/cli_helpers.ts `reviews`, 3–8 words, a vocabulary of 14 words) and SST-2
 * phrases (../shared/eval/sst2/train.tsv, skipped when absent; a 20,000-word vocabulary). Each configuration trains
 * a fresh model (seed 1), warms up, then times several passes over the same batches: the median samples/s, and where
 * the main thread's time goes per batch (src/parallel/pool.ts PoolTimings, plus the optimizer step timed here).
 * Flags: --runs N (timed passes, default 5), --batches N (batches per pass, default 100), --batch N,M,… (these batch
 * sizes), --skip-sst2, --json.
 */
import '../src/node/index.js';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Tokenizer,
  bucketedBatches,
  buildClassifier,
  classifierSettings,
  compileClassifier,
} from '../src/classify/index.js';
import { Tensor, type IndexTensor } from '../src/core/tensor.js';
import { loadTable } from '../src/node/classify_data.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import * as poolModel from '../src/models/pool_model.js';
import * as pool from '../src/parallel/pool.js';
import type { PoolTimings } from '../src/parallel/pool.js';
import { reviews } from '../test/cli_helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const SST2 = join(here, '..', '..', '..', 'shared', 'eval', 'sst2', 'train.tsv');
const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const RUNS = flag('--runs', 5);
// Looked up, not imported by name, so that this compiled file also runs against a build from before they existed
// (the "before" column of BENCHMARKS.md): no timings there, and every batch split.
const setPoolTimings = (pool as Partial<typeof pool>).setPoolTimings ?? ((): null => null);
const setMinSplitWork = (poolModel as Partial<typeof poolModel>).setMinSplitWork;
const defaultMinSplitWork = (poolModel as Partial<typeof poolModel>).getMinSplitWork?.();
const BATCHES = flag('--batches', 100);

interface Corpus {
  name: string;
  texts: string[];
  labels: number[];
}

function reviewCorpus(): Corpus {
  const rows = reviews(4000, 7).trim().split('\n').slice(1);
  return {
    name: 'reviews (3–8 words)',
    texts: rows.map((r) => r.slice(0, r.lastIndexOf(','))),
    labels: rows.map((r) => (r.endsWith(',pos') ? 1 : 0)),
  };
}

function sst2Corpus(): Corpus {
  const t = loadTable(SST2);
  return { name: 'SST-2 phrases', texts: t.texts, labels: t.labels.map((l) => (l === '1' ? 1 : 0)) };
}

interface Result {
  corpus: string;
  batchSize: number;
  threads: number;
  /** 'split': every batch split across the threads; 'auto': only batches worth it (the default threshold). */
  mode: 'split' | 'auto' | '';
  /** Batches timed, and how many of them the pool ran. */
  timed: number;
  pooled: number;
  vocab: number;
  stepsPerText: number;
  samplesPerSec: number;
  runs: number[];
  /**
   * Milliseconds per batch: wall-clock, and CPU time of all the process's threads (`process.cpuUsage`), which other
   * jobs on the machine inflate far less than the wall clock: what splitting costs in work, whatever the load.
   */
  perBatch: { total: number; cpu: number; optimizer: number } & Partial<Omit<PoolTimings, 'batches'>>;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(c: Corpus, batchSize: number, threads: number, mode: Result['mode']): Promise<Result> {
  if (setMinSplitWork && defaultMinSplitWork !== undefined)
    setMinSplitWork(mode === 'split' ? 0 : defaultMinSplitWork);
  const settings = classifierSettings(2, { seed: 1, batchSize });
  const tokenizer = Tokenizer.fit(c.texts, settings.tokenizer);
  const seqs = c.texts.map((t) => tokenizer.encode(t, settings.maxLength, settings.truncating));
  const batches: { xs: IndexTensor; ys: Tensor }[] = [];
  for (const b of bucketedBatches(seqs, { batchSize, shuffle: true, seed: 1 })) {
    if (batches.length === BATCHES) break;
    batches.push({
      xs: b.xs,
      ys: new Tensor(
        Float32Array.from(b.rows, (r) => c.labels[r]),
        [b.rows.length, 1],
      ),
    });
  }
  const samples = batches.reduce((s, b) => s + b.xs.shape[0], 0);
  const steps = batches.reduce((s, b) => s + b.xs.shape[0] * b.xs.shape[1], 0) / samples;
  const model = buildClassifier(settings, tokenizer.size, 2);
  compileClassifier(model, settings);
  model.threads = threads;
  const opt = model.optimizer!;
  const apply = opt.applyGradients.bind(opt);
  let optMs = 0;
  opt.applyGradients = (w) => {
    const t0 = performance.now();
    apply(w);
    optMs += performance.now() - t0;
  };
  await model.fitDataset({ batches: () => batches.slice(0, 5) }, { epochs: 1 }); // warm-up: pool, replicas, arenas
  optMs = 0;
  const timings = setPoolTimings(true);
  const runs: number[] = [];
  let wall = 0;
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    await model.fitDataset({ batches: () => batches }, { epochs: 1 });
    const ms = performance.now() - t0;
    wall += ms;
    runs.push(samples / (ms / 1000));
  }
  const cpu = process.cpuUsage(cpu0);
  setPoolTimings(false);
  const n = batches.length * RUNS;
  const perBatch: Result['perBatch'] = {
    total: wall / n,
    cpu: (cpu.user + cpu.system) / 1000 / n,
    optimizer: optMs / n,
  };
  if (timings && timings.batches > 0)
    for (const k of [
      'split',
      'ownForward',
      'forwardWait',
      'ownFinish',
      'finishWait',
      'reduce',
      'workerBusy',
    ] as const)
      perBatch[k] = timings[k] / timings.batches;
  return {
    corpus: c.name,
    batchSize,
    threads,
    mode,
    timed: n,
    pooled: timings?.batches ?? (threads > 1 ? n : 0),
    vocab: tokenizer.size,
    stepsPerText: steps,
    samplesPerSec: median(runs),
    runs,
    perBatch,
  };
}

const corpora = [reviewCorpus()];
if (!args.includes('--skip-sst2')) {
  if (existsSync(SST2)) corpora.push(sst2Corpus());
  else console.error(`SST-2: skipped (${SST2} is absent)`);
}
const results: Result[] = [];
const f1 = (x: number | undefined): string => (x === undefined ? '' : x.toFixed(2));
console.log(
  '| texts | batch | threads | samples/s (median) | ÷ 1 thread | batches split | ms/batch | CPU ms/batch | optimizer | split | own fwd | fwd wait | own finish | finish wait | reduce | worker busy |',
);
console.log(
  '| --- | --: | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
);
// Before the threshold existed every batch was split: one 2-thread mode then.
const modes: Result['mode'][] = setMinSplitWork ? ['split', 'auto'] : [''];
for (const c of corpora) {
  const i = args.indexOf('--batch');
  for (const bs of i >= 0 ? args[i + 1].split(',').map(Number) : [32, 64]) {
    let one = 0;
    for (const [threads, mode] of [[1, ''] as const, ...modes.map((m) => [2, m] as const)]) {
      const r = await measure(c, bs, threads, mode);
      results.push(r);
      if (threads === 1) one = r.samplesPerSec;
      const p = r.perBatch;
      console.log(
        `| ${r.corpus} (vocab ${r.vocab}, ${r.stepsPerText.toFixed(1)} steps) | ${bs} | ${threads}${mode ? ` (${mode})` : ''} | ` +
          `${Math.round(r.samplesPerSec).toLocaleString('en')} | ${threads === 1 ? '' : (r.samplesPerSec / one).toFixed(2) + '×'} | ` +
          `${Math.round((100 * r.pooled) / r.timed)}% | ${f1(p.total)} | ${f1(p.cpu)} | ${f1(p.optimizer)} | ${f1(p.split)} | ` +
          `${f1(p.ownForward)} | ${f1(p.forwardWait)} | ${f1(p.ownFinish)} | ${f1(p.finishWait)} | ${f1(p.reduce)} | ${f1(p.workerBusy)} |`,
      );
    }
  }
}
if (args.includes('--json')) console.log(JSON.stringify(results));
await shutdownWorkerPool();
