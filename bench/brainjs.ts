/**
 * `node dist/bench/brainjs.js [--seconds S] [--threads N]` — recur against brain.js, the JavaScript library users reach
 * for first, on the task both do: a character-level LSTM language model. The same text (../shared/data/sherlock.txt,
 * else Moby Dick from npm), lowercased; the same strings of 51 characters (non-overlapping; the first 90 % of the text
 * to train on, the last 10 % held out); the same model (one LSTM of 128 units, softmax over the characters); each
 * library with its own optimizer defaults (brain.js: RMSprop 0.01 with per-weight clipping at 5, a string at a time;
 * recur: the char-rnn recipe's Adam 4e-3 with global-norm clipping at 5, batches of 32 strings), each for the same wall
 * time. Reports training chars/s, the held-out loss in nats per character over the same transitions (each string's 50
 * next characters), and stateful generation chars/s.
 *
 * brain.js is not a dependency of recur: the first run installs it (./brainjs_install.ts).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { IndexTensor } from '../src/core/tensor.js';
import { Random } from '../src/core/random.js';
import { Dense, LSTM } from '../src/layers/index.js';
import { Adam } from '../src/models/optimizers.js';
import { Sequential, type Batch } from '../src/models/sequential.js';
import { mobyDick, readTextFile } from '../src/node/index.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { TextGenerator } from '../src/text/generator.js';
import { Vocabulary } from '../src/text/vocabulary.js';
import { loadBrain } from './brainjs_install.js';

const UNITS = 128;
const STRING = 51;
const BATCH = 32;

const { values: flags } = parseArgs({
  options: { seconds: { type: 'string', default: '120' }, threads: { type: 'string', default: '2' } },
});
const SECONDS = Number(flags.seconds);
const THREADS = Number(flags.threads);

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const text = (
  existsSync(join(root, '..', 'shared', 'data', 'sherlock.txt'))
    ? readTextFile(join(root, '..', 'shared', 'data', 'sherlock.txt'))
    : mobyDick()
).toLowerCase();
const strings: string[] = [];
for (let i = 0; i + STRING <= text.length; i += STRING) strings.push(text.slice(i, i + STRING));
const cut = Math.floor(strings.length * 0.9);
const train = strings.slice(0, cut);
const heldOut = strings.slice(cut, cut + 400); // 20,000 transitions: brain.js scores them in seconds
const rng = new Random(1);
const shuffled = (n: number): number[] => {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
};
const report: Record<string, number | string> = { text: `${text.length} chars`, seconds: SECONDS };

// ----- brain.js -----
{
  const brain = loadBrain(root);
  const formatter = new brain.utilities.DataFormatter(strings);
  const net = new brain.recurrent.LSTM({
    hiddenLayers: [UNITS],
    dataFormatter: formatter,
    maxPredictionLength: 200,
  });
  net.initialize();
  const encoded = train.map((s) => formatter.formatDataIn(s));
  const deadline = performance.now() + SECONDS * 1000;
  let chars = 0;
  const t0 = performance.now();
  for (let pass = 0; performance.now() < deadline; pass++)
    for (const i of shuffled(encoded.length)) {
      net.trainPattern(encoded[i], true);
      chars += STRING - 1;
      if (performance.now() >= deadline) break;
    }
  report.brainTrainCharsPerSec = Math.round(chars / ((performance.now() - t0) / 1000));
  report.brainTrainedChars = chars;
  // Held-out loss: the string's own forward pass (START, then its characters), scoring its 50 next characters — not
  // the START → first or last → END predictions brain.js also makes.
  let nats = 0;
  let n = 0;
  for (const s of heldOut) {
    const idx = formatter.formatDataIn(s);
    while (net.model.equations.length <= idx.length + 1) net.bindEquation();
    const eq = net.model.equations;
    eq[0].predictTargetIndex(0, idx[0] + 1);
    for (let t = 0; t < idx.length - 1; t++) {
      nats += eq[t + 1].predictTargetIndex(idx[t] + 1, idx[t + 1] + 1) * Math.LN2;
      n++;
    }
  }
  report.brainHeldOutNats = Number((nats / n).toFixed(4));
  const g0 = performance.now();
  let generated = 0;
  while (performance.now() - g0 < 3000) generated += net.run(heldOut[0].slice(0, 20), true, 0.5).length;
  report.brainGenerateCharsPerSec = Math.round(generated / ((performance.now() - g0) / 1000));
}

// ----- recur -----
{
  const vocabulary = Vocabulary.fromText(text);
  const V = vocabulary.size;
  const encode = (s: string): Int32Array => vocabulary.encode(s);
  const batchOf = (ss: string[]): Batch => {
    const x = new Int32Array(ss.length * (STRING - 1));
    const y = new Int32Array(ss.length * (STRING - 1));
    ss.forEach((s, b) => {
      const ids = encode(s);
      x.set(ids.subarray(0, STRING - 1), b * (STRING - 1));
      y.set(ids.subarray(1), b * (STRING - 1));
    });
    return {
      xs: new IndexTensor(x, [ss.length, STRING - 1]),
      ys: new IndexTensor(y, [ss.length, STRING - 1]),
    };
  };
  const bound = 1 / Math.sqrt(UNITS);
  const uniform = { className: 'RandomUniform', config: { minval: -bound, maxval: bound, seed: null } };
  const newModel = (): Sequential => {
    const model = new Sequential({
      seed: 1,
      layers: [
        new LSTM({
          units: UNITS,
          returnSequences: true,
          inputShape: [STRING - 1, V],
          kernelInitializer: uniform,
          recurrentInitializer: uniform,
          biasInitializer: uniform,
          unitForgetBias: false,
        }),
        new Dense({ units: V, activation: 'softmax', kernelInitializer: uniform, biasInitializer: uniform }),
      ],
    });
    model.compile({
      optimizer: new Adam({ learningRate: 0.004, globalClipnorm: 5 }),
      loss: 'categoricalCrossentropy',
    });
    model.threads = THREADS;
    return model;
  };
  /** Trains a new model on shuffled passes over the training strings until `seconds` or `maxChars` run out. */
  const trainRecur = async (
    seconds: number,
    maxChars: number,
  ): Promise<{ model: Sequential; chars: number }> => {
    const model = newModel();
    let chars = 0;
    const deadline = performance.now() + seconds * 1000;
    const dataset = {
      *batches() {
        for (;;) {
          const order = shuffled(train.length);
          for (let i = 0; i + BATCH <= order.length; i += BATCH) {
            if (performance.now() >= deadline || chars >= maxChars) return;
            chars += BATCH * (STRING - 1);
            yield batchOf(order.slice(i, i + BATCH).map((j) => train[j]));
          }
        }
      },
    };
    await model.fitDataset(dataset, { epochs: 1, verbose: 0 });
    return { model, chars };
  };
  const held = batchOf(heldOut);
  const heldOutNats = (m: Sequential): number =>
    Number(m.evaluate(held.xs, held.ys, { batchSize: 100 }).loss.toFixed(4));
  // As many characters as brain.js trained on in its time: what each library learns per character.
  const equalChars = await trainRecur(Infinity, report.brainTrainedChars as number);
  report.recurHeldOutNatsAtBrainChars = heldOutNats(equalChars.model);
  const t0 = performance.now();
  const { model, chars } = await trainRecur(SECONDS, Infinity);
  report.recurTrainCharsPerSec = Math.round(chars / ((performance.now() - t0) / 1000));
  report.recurTrainedChars = chars;
  report.recurHeldOutNats = heldOutNats(model);
  await shutdownWorkerPool();
  // Stateful generation, one stream: a copy of the model for one step at a time.
  const gen = new TextGenerator(model, vocabulary, false);
  gen.generate({ prime: heldOut[0].slice(0, 20), length: 5000, temperature: 0.5, seed: 1 });
  const g0 = performance.now();
  const g = gen.generate({ prime: heldOut[0].slice(0, 20), length: 100_000, temperature: 0.5, seed: 1 });
  report.recurGenerateCharsPerSec = Math.round(g.length / ((performance.now() - g0) / 1000));
}

report.trainSpeedRatio = Number(
  ((report.recurTrainCharsPerSec as number) / (report.brainTrainCharsPerSec as number)).toFixed(1),
);
report.generateSpeedRatio = Number(
  ((report.recurGenerateCharsPerSec as number) / (report.brainGenerateCharsPerSec as number)).toFixed(1),
);
console.log(JSON.stringify(report));
