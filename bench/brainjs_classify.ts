/**
 * `node dist/bench/brainjs_classify.js [--seconds S]` — sentiment the way a brain.js user would (its `recurrent.LSTM`
 * with its defaults, trained on {input: sentence, output: 'positive' | 'negative'} pairs, its answer `run(sentence)`)
 * against `recur classify train` with the SST-2 recipe (bench/classify_cli.ts), on SST-2 (../shared/eval/sst2):
 * train.tsv to train on, accuracy on the 872 sentences of dev.tsv. brain.js trains for S seconds (default 600) on the
 * training pairs in a shuffled order; recur runs its recipe to the end. An answer of brain.js that is neither label
 * counts as wrong (the count is printed). Prints one JSON line; brain.js is installed on first run
 * (./brainjs_install.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Random } from '../src/core/random.js';
import { loadBrain } from './brainjs_install.js';
import { cliTrain, sst2TrainArgs } from './classify_cli.js';

const { values: flags } = parseArgs({ options: { seconds: { type: 'string', default: '600' } } });
const SECONDS = Number(flags.seconds);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SST2 = join(root, '..', 'shared', 'eval', 'sst2');
if (!existsSync(join(SST2, 'train.tsv'))) {
  console.error(`${SST2} is absent: nothing to compare on`);
  process.exit(2);
}

interface Pair {
  input: string;
  output: 'positive' | 'negative';
}
const read = (file: string): Pair[] =>
  readFileSync(join(SST2, file), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [sentence, label] = line.split('\t');
      return { input: sentence.trim(), output: label.trim() === '1' ? 'positive' : 'negative' };
    });
const train = read('train.tsv');
const dev = read('dev.tsv');
const report: Record<string, number> = { seconds: SECONDS, devSentences: dev.length };

// ----- brain.js -----
{
  const brain = loadBrain(root);
  const net = new brain.recurrent.LSTM({});
  const rng = new Random(1);
  const deadline = performance.now() + SECONDS * 1000;
  let pairs = 0;
  // train() takes every pair once per iteration: a pass over SST-2 takes brain.js about half an hour, so the pairs go
  // in slices of 500, shuffled, until the time is up.
  const order = Array.from({ length: train.length }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (let start = 0; performance.now() < deadline; start = (start + 500) % order.length) {
    const slice = order.slice(start, start + 500).map((i) => train[i]);
    net.train(slice, { iterations: 1, timeout: Math.max(1, deadline - performance.now()) });
    pairs += slice.length;
  }
  report.brainTrainedPairs = pairs;
  let right = 0;
  let other = 0;
  const t0 = performance.now();
  for (const d of dev) {
    const answer = net.run(d.input);
    if (answer === d.output) right++;
    else if (answer !== 'positive' && answer !== 'negative') other++;
  }
  report.brainDevAccuracy = Number((right / dev.length).toFixed(4));
  report.brainAnswersNotALabel = other;
  report.brainPredictSentencesPerSec = Math.round(dev.length / ((performance.now() - t0) / 1000));
}

// ----- recur -----
{
  const { test, epochs, wall } = cliTrain([...sst2TrainArgs(SST2), '--ensemble', '1']);
  report.recurDevAccuracy = Number(test.accuracy.toFixed(4));
  report.recurEpochs = epochs.length;
  report.recurWallSeconds = Math.round(wall);
  report.recurTrainSeconds = Math.round(test.train_seconds);
}
console.log(JSON.stringify(report));
