/**
 * Many-to-one: classify a whole sequence of varying length. Token sequences (think: the words of a message, 4 to 16
 * long) are labelled 1 when a "spam" token appears before a "stop" token. Messages are right-padded with id 0 to the
 * batch's length; Embedding(maskZero) marks the padding, so the Bidirectional LSTM skips it in both directions and a
 * message gets the same prediction however much padding follows it.
 * Embedding(maskZero) → Bidirectional(LSTM) → Dense(sigmoid), binary cross-entropy.
 * Run: node dist/examples/sequence_classification.js
 */
import '../src/node/index.js';
import { Random, indexTensor, layers, sequential, tensor } from '../src/index.js';

const VOCAB = 20;
const PAD = 0;
const SPAM = 3;
const STOP = 4;
const MIN_LEN = 4;
const MAX_LEN = 16;

export function makeData(n: number, seed: number): { x: number[][]; y: number[] } {
  const rng = new Random(seed);
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = MIN_LEN + rng.int(MAX_LEN - MIN_LEN + 1);
    const seq = Array.from({ length: len }, () => 5 + rng.int(VOCAB - 5));
    const label = rng.next() < 0.5 ? 1 : 0;
    const stopAt = 1 + rng.int(len - 2); // 1 … len−2, so there is room before and after it
    seq[stopAt] = STOP;
    // A spam token before the stop token makes a positive; negatives may carry one after it, which does not count.
    if (label) seq[rng.int(stopAt)] = SPAM;
    else if (rng.next() < 0.5) seq[stopAt + 1 + rng.int(len - stopAt - 1)] = SPAM;
    x.push(seq);
    y.push(label);
  }
  return { x, y };
}

/** Right-pads every sequence with PAD to `length`. */
export function pad(x: number[][], length: number): number[][] {
  return x.map((s) => [...s, ...new Array<number>(length - s.length).fill(PAD)]);
}

export async function main(epochs = 12): Promise<{ accuracy: number; paddingChange: number }> {
  const train = makeData(2000, 1);
  const test = makeData(500, 2);
  const model = sequential({ seed: 1 });
  // inputShape [null]: any sequence length; the mask, not the length, says where each message ends.
  model.add(layers.embedding({ inputDim: VOCAB, outputDim: 8, maskZero: true, inputShape: [null] }));
  model.add(layers.bidirectional({ layer: layers.lstm({ units: 16 }) }));
  model.add(layers.dense({ units: 1, activation: 'sigmoid' }));
  model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  model.summary();
  await model.fit(indexTensor(pad(train.x, MAX_LEN)), tensor(train.y.map((v) => [v])), {
    epochs,
    batchSize: 32,
    validationSplit: 0.1,
  });
  const { acc } = model.evaluate(indexTensor(pad(test.x, MAX_LEN)), tensor(test.y.map((v) => [v])));
  // Masking at work: eight more padding steps change no prediction (beyond float rounding).
  const a = model.predict(indexTensor(pad(test.x, MAX_LEN))).data;
  const b = model.predict(indexTensor(pad(test.x, MAX_LEN + 8))).data;
  let paddingChange = 0;
  for (let i = 0; i < a.length; i++) paddingChange = Math.max(paddingChange, Math.abs(a[i] - b[i]));
  console.log(`test accuracy: ${(acc * 100).toFixed(1)}%`);
  console.log(`largest change of a prediction from 8 more padding steps: ${paddingChange.toExponential(2)}`);
  return { accuracy: acc, paddingChange };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
