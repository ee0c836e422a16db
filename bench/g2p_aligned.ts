/**
 * `node dist/bench/g2p_aligned.js --model tagger|hard [--epochs N] [--cpu MIN] [--units N] [--layers N] [--save DIR]` — the
 * alignment-based alternatives to the attention encoder–decoder on CMUdict G2P (issue #13), measured the way the
 * seq2seq runs are: seed 1's split, validation WER on the first 1,000 validation words after every epoch, CPU minutes.
 *
 * Both models read the letters and write one label per letter: the letter's chunk of 0–2 phonemes, from the EM
 * alignment of src/seq2seq/aligner.ts fitted on the training pairs (pairs it cannot align are left out).
 *   tagger: Embedding(64) → BiLSTM(units) × layers → Dense softmax — every letter's label independently (Yao & Zweig
 *           2015's "bidirectional LSTM with alignment"); decoding is the argmax at each letter.
 *   hard:   the same encoder, then an LSTM(256) decoder reading [encoder output at letter t, embedding of label t − 1]
 *           → Dense softmax: a decoder with a known monotone alignment (no attention to learn). Decoded greedily by
 *           re-running the model once per letter (a measurement, not a product path).
 * Both: dropout 0.2, label smoothing 0.1, Adam 0.002 with clipnorm 5, batches of 64 bucketed by length, and the
 * learning rate halved when val_wer does not improve (the budget recipe's schedule). Prints one line per epoch.
 */
import { join } from 'node:path';
import { Tensor, IndexTensor } from '../src/core/tensor.js';
import { Bidirectional } from '../src/layers/bidirectional.js';
import { Dense } from '../src/layers/dense.js';
import { Dropout } from '../src/layers/dropout.js';
import { Embedding } from '../src/layers/embedding.js';
import { Concatenate } from '../src/layers/merge.js';
import { recurrentLayer } from '../src/layers/recurrent_factory.js';
import type { SymbolicTensor } from '../src/layers/symbolic.js';
import { LambdaCallback, ReduceLROnPlateau, type Logs } from '../src/models/callbacks.js';
import { input, model, type Functional, type FunctionalBatch } from '../src/models/functional.js';
import { createOptimizer } from '../src/models/optimizers.js';
import '../src/node/install.js';
import { writeFileAtomic } from '../src/node/atomic.js';
import { saveModel } from '../src/node/model_io.js';
import { cmudict } from '../src/node/seq2seq_files.js';
import { PairDataset, sourceBatch } from '../src/seq2seq/data.js';
import { sequenceErrorRate } from '../src/seq2seq/metrics.js';
import { examplePairs, splitExamples, type Example } from '../src/seq2seq/pairs.js';
import { Tokenizer } from '../src/seq2seq/tokenizer.js';
import { ChunkAligner } from '../src/seq2seq/aligner.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const kind = args.get('model') ?? 'tagger';
if (kind !== 'tagger' && kind !== 'hard') throw new Error(`--model tagger|hard, got ${kind}`);
const epochs = Number(args.get('epochs') ?? 40);
const cpuMinutes = Number(args.get('cpu') ?? 30);
const units = Number(args.get('units') ?? 128);
const layers = Number(args.get('layers') ?? 2);
const threads = Number(args.get('threads') ?? 2);
// --save DIR: the tagger at its best validation epoch (model.json + weights) and labels.json, its labels' phonemes.
const saveDir = args.get('save');

const splits = splitExamples(
  cmudict().examples.filter((e) => e.source.length <= 40),
  1,
);
const trainPairs = examplePairs(splits.train);
const src = Tokenizer.fit(
  trainPairs.map((p) => p.source),
  'chars',
);
const tgt = Tokenizer.fit(
  trainPairs.map((p) => p.target),
  'symbols',
);
const encoded = trainPairs.map((p) => ({ source: src.encode(p.source), target: tgt.encode(p.target) }));
const aligner = ChunkAligner.fit(encoded, src.size, tgt.size);

// Label 0 is padding; label 1 the empty chunk; the rest as the alignments first use them.
const labelIds = new Map<string, number>([['', 1]]);
const labelTokens: number[][] = [[], []];
const sources: Int32Array[] = [];
const labels: Int32Array[] = [];
for (const p of encoded) {
  const chunks = aligner.align(p.source, p.target);
  if (!chunks) continue;
  sources.push(p.source);
  labels.push(
    Int32Array.from(chunks, (c) => {
      const key = c.join(',');
      let id = labelIds.get(key);
      if (id === undefined) {
        id = labelTokens.length;
        labelIds.set(key, id);
        labelTokens.push(Array.from(c));
      }
      return id;
    }),
  );
}
const L = labelTokens.length;
/** The previous-label input's start symbol (label ids are 1 … L − 1). */
const START_LABEL = L;
console.log(
  `${kind}: ${sources.length} of ${encoded.length} training pairs aligned, ${L - 1} labels (chunks of 0–2 phonemes)`,
);

function build(): Functional {
  const source = input({ shape: [null], dtype: 'int32', name: 'source' });
  let x = new Embedding({ inputDim: src.size, outputDim: 64, maskZero: true }).apply(
    source,
  ) as SymbolicTensor;
  for (let l = 0; l < layers; l++) {
    const rnn = recurrentLayer('lstm', { units, returnSequences: true });
    x = new Bidirectional({ layer: rnn, mergeMode: 'concat' }).apply(x) as SymbolicTensor;
    if (kind === 'tagger' || l < layers - 1) x = new Dropout({ rate: 0.2 }).apply(x) as SymbolicTensor;
  }
  const inputs = [source];
  if (kind === 'hard') {
    const previous = input({ shape: [null], dtype: 'int32', name: 'previous' });
    inputs.push(previous);
    const y = new Embedding({ inputDim: L + 1, outputDim: 64, maskZero: true }).apply(
      previous,
    ) as SymbolicTensor;
    const joined = new Concatenate({}).apply([x, y]) as SymbolicTensor;
    x = recurrentLayer('lstm', { units: 256, returnSequences: true }).apply(joined) as SymbolicTensor;
    x = new Dropout({ rate: 0.2 }).apply(x) as SymbolicTensor;
  }
  const out = new Dense({ units: L, activation: 'softmax' }).apply(x) as SymbolicTensor;
  const m = model({ inputs, outputs: out, seed: 1 });
  m.compile({
    optimizer: createOptimizer('adam', { learningRate: 0.002, clipnorm: 5 }),
    loss: 'sparseCategoricalCrossentropy',
    labelSmoothing: 0.1,
  });
  return m;
}

/** The previous labels of a batch: the start symbol, then each row's labels but the last. */
function previousLabels(rows: readonly Int32Array[], T: number): IndexTensor {
  const prev = new Int32Array(rows.length * T);
  rows.forEach((l, i) => {
    prev[i * T] = START_LABEL;
    prev.set(l.subarray(0, l.length - 1), i * T + 1);
  });
  return new IndexTensor(prev, [rows.length, T]);
}

class LabelledDataset extends PairDataset {
  override *batches(epoch: number): Generator<FunctionalBatch> {
    for (const rows of this.batchRows(epoch)) {
      const xs = sourceBatch(Array.from(rows, (r) => this.data.sources[r]));
      const T = xs.shape[1];
      const rowLabels = Array.from(rows, (r) => this.data.targets[r]);
      const y = new Int32Array(rows.length * T);
      rowLabels.forEach((l, i) => y.set(l, i * T));
      yield {
        xs: kind === 'hard' ? [xs, previousLabels(rowLabels, T)] : [xs],
        ys: [new IndexTensor(y, [rows.length, T])],
      };
    }
  }
}

const m = build();
m.threads = threads;
m.summary();

/** The best label at letter t of row r of a [n, T, L] output (never padding). */
function argmaxLabel(p: Float32Array, r: number, t: number, T: number): number {
  let best = 1;
  for (let k = 2; k < L; k++) if (p[(r * T + t) * L + k] > p[(r * T + t) * L + best]) best = k;
  return best;
}

function decode(examples: readonly Example[]): string[][] {
  const out: string[][] = new Array<string[]>(examples.length);
  const order = examples
    .map((_, i) => i)
    .sort((a, b) => examples[a].source.length - examples[b].source.length);
  for (let i = 0; i < order.length; i += 256) {
    const idx = order.slice(i, i + 256);
    const ids = idx.map((j) => src.encode(examples[j].source, 'unk'));
    const xs = sourceBatch(ids);
    const T = xs.shape[1];
    const best = ids.map((w) => new Int32Array(w.length));
    const steps = kind === 'hard' ? T : 1;
    for (let t = 0; t < steps; t++) {
      const xsNow = kind === 'hard' ? [xs, previousLabels(best, T)] : [xs];
      const p = (m.predict(xsNow) as Tensor).data;
      ids.forEach((w, r) => {
        if (kind === 'tagger') for (let u = 0; u < w.length; u++) best[r][u] = argmaxLabel(p, r, u, T);
        else if (t < w.length) best[r][t] = argmaxLabel(p, r, t, T);
      });
    }
    idx.forEach((j, r) => {
      out[j] = Array.from(best[r]).flatMap((label) => labelTokens[label].map((id) => tgt.tokens[id]));
    });
  }
  return out;
}

const wer = (examples: readonly Example[]): number =>
  sequenceErrorRate(
    decode(examples),
    examples.map((e) => e.targets.map((t) => t.split(' '))),
  );

const validation = splits.validation.slice(0, 1000);
const started = Date.now();
let bestWer = Infinity;
const cpu0 = process.cpuUsage();
const perEpoch = new LambdaCallback({
  onEpochEnd: (epoch: number, logs: Logs) => {
    logs.val_wer = wer(validation);
    const c = process.cpuUsage(cpu0);
    const cpu = (c.user + c.system) / 60e6;
    console.log(
      `epoch ${epoch + 1}: loss ${logs.loss.toFixed(4)}, val WER ${(100 * logs.val_wer).toFixed(1)} %, ` +
        `lr ${m.optimizer!.learningRate}, ${((Date.now() - started) / 1000).toFixed(0)} s, ${cpu.toFixed(1)} CPU-min`,
    );
    if (saveDir && logs.val_wer < bestWer) {
      bestWer = logs.val_wer;
      saveModel(m, saveDir);
      const labels = labelTokens.map((c) => c.map((id) => tgt.tokens[id]).join(' '));
      writeFileAtomic(join(saveDir, 'labels.json'), JSON.stringify({ labels, epoch: epoch + 1 }) + '\n');
    }
    if (cpu >= cpuMinutes) m.stopTraining = true;
  },
});
const cut = new ReduceLROnPlateau({ monitor: 'val_wer', mode: 'min', factor: 0.5, patience: 1, minLr: 1e-5 });
await m.fitDataset(new LabelledDataset({ sources, targets: labels }, { batchSize: 64, seed: 1 }), {
  epochs,
  verbose: 0,
  callbacks: [perEpoch, cut],
});
console.log(`test WER (last epoch's weights): ${(100 * wer(splits.test)).toFixed(1)} %`);
process.exit(0);
