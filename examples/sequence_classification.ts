/**
 * Many-to-one: classify a whole sequence. Token sequences (think: words of a message) are labelled 1 when a
 * "spam" token appears before a "stop" token. Embedding → LSTM → Dense(sigmoid), binary cross-entropy.
 * Run: node dist/examples/sequence_classification.js
 */
import '../src/node/index.js';
import { Random, indexTensor, layers, sequential, tensor } from '../src/index.js';

const VOCAB = 20;
const T = 12;
const SPAM = 3;
const STOP = 4;

export function makeData(n: number, seed: number): { x: number[][]; y: number[] } {
  const rng = new Random(seed);
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const seq = Array.from({ length: T }, () => 5 + rng.int(VOCAB - 5));
    const label = rng.next() < 0.5 ? 1 : 0;
    const stopAt = 2 + rng.int(T - 3); // 2 … T−2, so there is room after it
    seq[stopAt] = STOP;
    // A spam token before the stop token makes a positive; negatives may carry one after it, which does not count.
    if (label) seq[rng.int(stopAt)] = SPAM;
    else if (rng.next() < 0.5) seq[stopAt + 1 + rng.int(T - stopAt - 1)] = SPAM;
    x.push(seq);
    y.push(label);
  }
  return { x, y };
}

export async function main(epochs = 15): Promise<number> {
  const train = makeData(2000, 1);
  const test = makeData(500, 2);
  const model = sequential({ seed: 1 });
  model.add(layers.embedding({ inputDim: VOCAB, outputDim: 8, inputShape: [T] }));
  model.add(layers.lstm({ units: 24 }));
  model.add(layers.dense({ units: 1, activation: 'sigmoid' }));
  model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  await model.fit(indexTensor(train.x), tensor(train.y.map((v) => [v])), {
    epochs,
    batchSize: 32,
    validationSplit: 0.1,
  });
  const { acc } = model.evaluate(indexTensor(test.x), tensor(test.y.map((v) => [v])));
  console.log(`test accuracy: ${(acc * 100).toFixed(1)}%`);
  return acc;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
