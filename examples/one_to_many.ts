/**
 * One-to-many: generate a sequence from a seed. A character LSTM learns a small repetitive text, then
 * TextGenerator warms up on a seed and emits one character per recurrent step.
 * Run: node dist/examples/one_to_many.js
 */
import '../src/node/index.js';
import { Adam, layers, sequential, TextCorpus, TextGenerator } from '../src/index.js';

const TEXT = 'abcdefgh-'.repeat(300);

export async function main(epochs = 8): Promise<string> {
  const corpus = TextCorpus.fromText(TEXT);
  const V = corpus.vocabulary.size;
  const model = sequential({ seed: 3 });
  model.add(layers.lstm({ units: 32, inputShape: [8, V] }));
  model.add(layers.dense({ units: V, activation: 'softmax' }));
  model.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'categoricalCrossentropy' });
  await model.fitDataset(corpus.windows({ maxlen: 8, step: 1, batchSize: 64, seed: 1 }), { epochs });
  // The model saw 8-character windows: generate with that context (see TextGenerator).
  const text = new TextGenerator(model, corpus.vocabulary, true, 8).generateText(27, 0, 'bcdefgh-a');
  console.log(`from "bcdefgh-a": ${text}`);
  return text;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
