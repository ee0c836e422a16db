/**
 * `recur classify train` run as a user runs it, for the classification benches (bench/classify.ts,
 * bench/brainjs_classify.ts): the built CLI with --json, its test event and epoch rows read back.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

/**
 * The SST-2 recipe: word tokens seen at least twice, 64-d embedding, BiLSTM(64)'s final state, dropout 0.5, Adam 2e-3,
 * batch 64, 4 epochs, 2% of train for validation (BENCHMARKS.md: 84.0% ± 1.1 dev accuracy over seeds 1–3).
 */
const SST2_FLAGS = [
  '--max-length',
  '64',
  '--embedding-dim',
  '64',
  '--units',
  '64',
  '--pooling',
  'last',
  '--dropout',
  '0.5',
  '--min-count',
  '2',
  '--batch-size',
  '64',
  '--lr',
  '0.002',
  '--epochs',
  '4',
  '--patience',
  '1',
  '--validation-split',
  '0.02',
  '--seed',
  '1',
];

/** `recur classify train`'s arguments for the SST-2 recipe on the TSV files in `dir` (dev.tsv as the test set). */
export function sst2TrainArgs(dir: string): string[] {
  return [join(dir, 'train.tsv'), '--test', join(dir, 'dev.tsv'), ...SST2_FLAGS];
}

export interface TestEvent {
  train_seconds: number;
  /** CPU seconds of the training process, all threads: the cost independent of other jobs on the machine. */
  train_cpu_seconds: number;
  accuracy: number;
  macro_f1: number;
  auc: number | null;
  count: number;
  baselines: {
    majority: { accuracy: number; macro_f1: number };
    naive_bayes: { accuracy: number; macro_f1: number };
  };
  /** A seed ensemble's members on their own. */
  members?: { member: number; seed: number; accuracy: number; macro_f1: number }[];
}

/** Runs `recur classify train` with --json; returns its test event and the epochs' rows. */
export function cliTrain(args: string[]): {
  test: TestEvent;
  epochs: Record<string, number>[];
  wall: number;
} {
  const out = mkdtempSync(join(tmpdir(), 'recur-bench-classify-'));
  const full = ['classify', 'train', ...args, '--out', join(out, 'model'), '--json'];
  console.error(`$ node dist/src/cli/main.js ${full.join(' ').replace(out, '$TMP')}`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...full], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const wall = (performance.now() - t0) / 1000;
  rmSync(out, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`recur classify train failed (exit ${r.status}): ${r.stderr}`);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const test = lines.find((l) => l.event === 'test') as unknown as TestEvent;
  const epochs = lines.filter((l) => typeof l.epoch === 'number' && l.event === undefined) as Record<
    string,
    number
  >[];
  return { test, epochs, wall };
}
