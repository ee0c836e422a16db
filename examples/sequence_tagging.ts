/**
 * Many-to-many: one output per input step (tagging / transliteration-like). Each output is the running parity of
 * the 1-tokens seen so far — it needs memory of the whole prefix. Stacked GRU(returnSequences) → time-distributed
 * Dense(softmax) with per-step class-index targets (no one-hot anywhere).
 * Run: node dist/examples/sequence_tagging.js
 */
import '../src/node/index.js';
import { Random, indexTensor, layers, sequential } from '../src/index.js';

const T = 16;

export function makeData(n: number, seed: number): { x: number[][]; y: number[][] } {
  const rng = new Random(seed);
  const x: number[][] = [];
  const y: number[][] = [];
  for (let i = 0; i < n; i++) {
    const seq = Array.from({ length: T }, () => rng.int(2));
    let parity = 0;
    x.push(seq);
    y.push(seq.map((v) => (parity ^= v)));
  }
  return { x, y };
}

export async function main(epochs = 20): Promise<number> {
  const train = makeData(2000, 1);
  const test = makeData(300, 2);
  const model = sequential({ seed: 2 });
  // Index inputs over a vocabulary of 2: the GRU gathers kernel rows instead of multiplying one-hot vectors.
  model.add(layers.gru({ units: 16, returnSequences: true, inputShape: [T, 2] }));
  model.add(layers.gru({ units: 16, returnSequences: true }));
  model.add(layers.dense({ units: 2, activation: 'softmax' }));
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  await model.fit(indexTensor(train.x), indexTensor(train.y), { epochs, batchSize: 32 });
  const { accuracy } = model.evaluate(indexTensor(test.x), indexTensor(test.y));
  console.log(`per-step test accuracy: ${(accuracy * 100).toFixed(1)}%`);
  return accuracy;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
