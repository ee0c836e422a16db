/**
 * `npm run bench:rmsprop` — why the recipe's first-epoch loss differs from the tutorial's: one epoch of the Keras
 * recipe on Sherlock (seed 1, 2 threads) with three RMSprop variants: ε inside the square root (Keras 3, TF, tfjs —
 * recur's definition), the same with ε = 1e-10, and ε outside the root (Keras 2, PyTorch).
 */
import '../src/node/index.js';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dense, LSTM } from '../src/layers/index.js';
import { RMSprop } from '../src/models/optimizers.js';
import { Sequential } from '../src/models/sequential.js';
import { readTextFile } from '../src/node/text_file.js';
import { TextCorpus } from '../src/text/corpus.js';

/** Keras 2 / PyTorch form: w ← w − lr·g / (√v + ε). */
class RMSpropEpsilonOutside extends RMSprop {
  protected override update(w: Float32Array, g: Float32Array, slots: Float32Array[]): void {
    const v = slots[0];
    for (let i = 0; i < w.length; i++) {
      v[i] = this.rho * v[i] + (1 - this.rho) * g[i] * g[i];
      w[i] -= (this.learningRate * g[i]) / (Math.sqrt(v[i]) + this.epsilon);
    }
  }
}

const SHERLOCK = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'shared',
  'data',
  'sherlock.txt',
);
if (!existsSync(SHERLOCK)) {
  console.log('../shared/data/sherlock.txt not found; nothing to measure');
  process.exit(0);
}
const corpus = TextCorpus.fromText(readTextFile(SHERLOCK));
const V = corpus.vocabulary.size;
for (const [name, make] of [
  ['ε inside √, 1e-7 (recur, Keras 3)', () => new RMSprop({ learningRate: 0.01 })],
  ['ε inside √, 1e-10', () => new RMSprop({ learningRate: 0.01, epsilon: 1e-10 })],
  ['ε outside √, 1e-7 (Keras 2, PyTorch)', () => new RMSpropEpsilonOutside({ learningRate: 0.01 })],
] as const) {
  const m = new Sequential({
    seed: 1,
    layers: [new LSTM({ units: 128, inputShape: [40, V] }), new Dense({ units: V, activation: 'softmax' })],
  });
  m.compile({ optimizer: make(), loss: 'categoricalCrossentropy' });
  m.threads = 2;
  const h = await m.fitDataset(corpus.windows({ maxlen: 40, step: 3, batchSize: 128, seed: 1 }), {
    epochs: 1,
  });
  console.log(`${name}: epoch-1 mean training loss ${h.history.loss[0].toFixed(4)}`);
}
