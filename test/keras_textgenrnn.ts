/**
 * textgenrnn's default model (minimaxir/textgenrnn, textgenrnn/model.py: max_length 40, 2 × LSTM(128), 465
 * characters), built in recur with the layer names of its weights file, for loading the weights-only file:
 *   input [40] ids → Embedding(465, 100) → rnn_1 LSTM → rnn_2 LSTM → concat[embedding, rnn_1, rnn_2] (356)
 *   → AttentionWeightedAverage → Dense(465, softmax)
 * Its CuDNNLSTM weights run on the LSTM with sigmoid gates.
 */
import { AttentionWeightedAverage } from '../src/layers/attention_weighted_average.js';
import { Dense } from '../src/layers/dense.js';
import { Embedding } from '../src/layers/embedding.js';
import { LSTM } from '../src/layers/lstm.js';
import { Concatenate } from '../src/layers/merge.js';
import { Functional, input } from '../src/models/functional.js';

export function buildTextgenrnn(): Functional {
  const x = input({ batchInputShape: [null, 40], name: 'input', dtype: 'int32' });
  const [emb] = new Embedding({ inputDim: 465, outputDim: 100, name: 'embedding' }).applyMany(x);
  const rnn = (name: string): LSTM =>
    new LSTM({ units: 128, returnSequences: true, recurrentActivation: 'sigmoid', name });
  const [r1] = rnn('rnn_1').applyMany(emb);
  const [r2] = rnn('rnn_2').applyMany(r1);
  const [cat] = new Concatenate({ name: 'rnn_concat' }).applyMany([emb, r1, r2]);
  const [att] = new AttentionWeightedAverage({ name: 'attention' }).applyMany(cat);
  const [y] = new Dense({ units: 465, activation: 'softmax', name: 'output' }).applyMany(att);
  return new Functional({ inputs: x, outputs: y, name: 'textgenrnn', seed: 1 });
}
