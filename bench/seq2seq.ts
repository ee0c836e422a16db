/**
 * `npm run bench:seq2seq -- [--model DIR] [--batches N] [--words N]` — sequence-to-sequence speed and quality on
 * CMUdict grapheme-to-phoneme, the default recipe (BiLSTM(128) encoder, LSTM(256) decoder, Luong attention):
 *
 *   training: target tokens/s (teacher-forced batches of 64 from the length-bucketed dataset), recur vs the same
 *             architecture in @tensorflow/tfjs on its wasm backend, in this run, as a ratio; and recur's fitDataset
 *             on the worker pool with threads 1 and 2 (`--threads-rounds N` alternations, default 2), as a ratio;
 *   decoding: greedy words/s of recur's graph stepper against tfjs (an encoder model and a one-step decoder model
 *             sharing the layers, one predict per output token for the batch of 64), both with random weights so both
 *             decode maxLength tokens per word; with --model, the trained model's held-out words/s greedy and beam 5;
 *   inference pool: with --model, `--pool-words N` (default 20,000) training-split words decoded greedily and with
 *             beam 5 the way `recur seq2seq predict` does (in-process on one thread, then on the inference pool
 *             with every core, start-up and model loading included; then the started pool decoding them again,
 *             as training's rate is timed on started workers), against fitDataset's pairs/s on two threads
 *             (issue #18 item 6: inference at ≥ 3× training throughput; on one core the pool is not timed);
 *   quality:  with --model (a `recur seq2seq train` directory), its WER and PER on the held-out test words, greedy
 *             and beam 5.
 *
 * tfjs differences: its attention is Dot → softmax → Dot (tfjs has no Attention layer) and it runs without masks (its
 * Dot layer refuses them), so it does the padding's work but none of the masking; its embeddings are one-hot inputs
 * times a bias-free Dense kernel (the same product: tfjs-wasm has no kernel for the Embedding gradient).
 * fra-eng BLEU/chrF: with --fra-model (a model trained on ../shared/data/fra-eng.txt) and the file present.
 * Prints human lines on stderr and one JSON object on stdout.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { kernels } from '../src/core/backend.js';
import type { IndexTensor } from '../src/core/tensor.js';
import type { Functional } from '../src/models/functional.js';
import { installWorkerPool, shutdownWorkerPool } from '../src/node/pool.js';
import { loadFunctionalModel } from '../src/node/model_io.js';
import { cmudict, readPairsFile } from '../src/node/seq2seq_files.js';
import { PairDataset, encodePairs, type EncodedPairs } from '../src/seq2seq/data.js';
import { beamDecode, greedyDecode } from '../src/seq2seq/decode.js';
import { G2P_SETTINGS, buildSeq2SeqModel } from '../src/seq2seq/model.js';
import { examplePairs, groupExamples, splitExamples } from '../src/seq2seq/pairs.js';
import { Seq2Seq, parseSeq2SeqMetadata } from '../src/seq2seq/seq2seq.js';
import { START, Tokenizer } from '../src/seq2seq/tokenizer.js';
import { CORES, fitRates, fmt, poolDecoding, targetTokens } from './seq2seq_rates.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const BATCHES = Number(arg('--batches') ?? 20);
const WORDS = Number(arg('--words') ?? 1000);
const THREAD_ROUNDS = Number(arg('--threads-rounds') ?? 2);
const POOL_WORDS = Number(arg('--pool-words') ?? 20000);
const modelDir = arg('--model');
const fraModelDir = arg('--fra-model');
const log = (s: string): void => void process.stderr.write(s + '\n');

const s = G2P_SETTINGS;
const limit = (e: { source: string; targets: string[] }): boolean =>
  [...e.source].length <= s.maxSourceLength &&
  e.targets.every((t) => t.split(' ').length <= s.maxTargetLength);
const splits = splitExamples(cmudict().examples.filter(limit), s.seed);
const trainPairs = examplePairs(splits.train);

let app: Seq2Seq;
if (modelDir) {
  const loaded = loadFunctionalModel(modelDir);
  app = Seq2Seq.fromMetadata(loaded.model, parseSeq2SeqMetadata(loaded.metadata, modelDir));
} else {
  const src = Tokenizer.fit(
    trainPairs.map((p) => p.source),
    'chars',
  );
  const tgt = Tokenizer.fit(
    trainPairs.map((p) => p.target),
    'symbols',
  );
  app = new Seq2Seq(buildSeq2SeqModel(s, src.size, tgt.size), s, src, tgt, 20, 'cmudict');
}
const model: Functional = app.model;
const data: EncodedPairs = encodePairs(trainPairs, app.source, app.target);
const dataset = new PairDataset(data, { batchSize: s.batchSize, seed: 1 });
const batches = [...dataset.batches(0)].slice(0, BATCHES + 2);

function recurTrain(): number {
  const m = buildSeq2SeqModel(s, app.source.size, app.target.size); // fresh: never train the model being measured
  m.trainOnBatch(batches[0].xs, batches[0].ys); // warm-up
  m.trainOnBatch(batches[1].xs, batches[1].ys);
  let tokens = 0;
  const t0 = performance.now();
  for (const b of batches.slice(2)) {
    m.trainOnBatch(b.xs, b.ys);
    tokens += targetTokens(b);
  }
  return tokens / ((performance.now() - t0) / 1000);
}

const testSources = app.encodeSources(splits.test.slice(0, WORDS).map((e) => e.source));
const maxLength = app.longestTarget + 10;

/** A model with random weights: it never emits <end>, so every word decodes maxLength tokens, as tfjs's below. */
const untrained = buildSeq2SeqModel(s, app.source.size, app.target.size);

function recurDecode(m: Functional, beam: number, words: number): number {
  const srcs = testSources.slice(0, words);
  const t0 = performance.now();
  if (beam === 1) greedyDecode(m, srcs, { maxLength });
  else beamDecode(m, srcs, { maxLength, width: beam });
  return srcs.length / ((performance.now() - t0) / 1000);
}

/** The same architecture in tfjs: training model, and encoder + one-step decoder models sharing its layers. */
function tfjsModels(
  Vs: number,
  Vt: number,
): { train: tf.LayersModel; encoder: tf.LayersModel; step: tf.LayersModel } {
  const H = 2 * s.units;
  const src = tf.input({ shape: [null, Vs] });
  const se = tf.layers.dense({ units: s.embeddingDim, useBias: false }).apply(src) as tf.SymbolicTensor;
  const bi = tf.layers
    .bidirectional({
      layer: tf.layers.lstm({ units: s.units, returnSequences: true, returnState: true }) as tf.RNN,
      mergeMode: 'concat',
    })
    .apply(se) as tf.SymbolicTensor[];
  const [enc, hf, cf, hb, cb] = bi;
  const h = tf.layers.concatenate().apply([hf, hb]) as tf.SymbolicTensor;
  const c = tf.layers.concatenate().apply([cf, cb]) as tf.SymbolicTensor;
  const prev = tf.input({ shape: [null, Vt] });
  const embT = tf.layers.dense({ units: s.embeddingDim, useBias: false });
  const decLstm = tf.layers.lstm({ units: H, returnSequences: true, returnState: true });
  const scoresDot = tf.layers.dot({ axes: [2, 2] });
  const softmax = tf.layers.activation({ activation: 'softmax' });
  const contextDot = tf.layers.dot({ axes: [2, 1] });
  const join2 = tf.layers.concatenate();
  const attentional = tf.layers.dense({ units: H, activation: 'tanh' });
  const out = tf.layers.dense({ units: Vt, activation: 'softmax' });
  const decoderFrom = (
    p: tf.SymbolicTensor,
    h0: tf.SymbolicTensor,
    c0: tf.SymbolicTensor,
    e: tf.SymbolicTensor,
  ): tf.SymbolicTensor[] => {
    const [d, h1, c1] = decLstm.apply(embT.apply(p) as tf.SymbolicTensor, {
      initialState: [h0, c0],
    }) as tf.SymbolicTensor[];
    const a = softmax.apply(scoresDot.apply([d, e]) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const ctx = contextDot.apply([a, e]) as tf.SymbolicTensor;
    const y = out.apply(
      attentional.apply(join2.apply([d, ctx]) as tf.SymbolicTensor) as tf.SymbolicTensor,
    ) as tf.SymbolicTensor;
    return [y, h1, c1];
  };
  const [y] = decoderFrom(prev, h, c, enc);
  const train = tf.model({ inputs: [src, prev], outputs: y });
  train.compile({ optimizer: tf.train.adam(s.learningRate), loss: 'sparseCategoricalCrossentropy' });
  const encoder = tf.model({ inputs: src, outputs: [enc, h, c] });
  const p1 = tf.input({ shape: [1, Vt] });
  const hIn = tf.input({ shape: [H] });
  const cIn = tf.input({ shape: [H] });
  const eIn = tf.input({ shape: [null, H] });
  const step = tf.model({ inputs: [p1, hIn, cIn, eIn], outputs: decoderFrom(p1, hIn, cIn, eIn) });
  return { train, encoder, step };
}

const toTf = (x: IndexTensor, dtype: 'int32' | 'float32' = 'int32'): tf.Tensor =>
  tf.tensor(Array.from(x.data), [...x.shape], dtype);
const oneHot = (x: IndexTensor, V: number): tf.Tensor => tf.tidy(() => tf.oneHot(toTf(x), V).toFloat());

async function tfjsTrain(m: tf.LayersModel): Promise<number> {
  const data = batches.map((b) => ({
    xs: [oneHot(b.xs[0] as IndexTensor, app.source.size), oneHot(b.xs[1] as IndexTensor, app.target.size)],
    y: tf.expandDims(toTf(b.ys[0] as IndexTensor, 'float32'), -1),
    tokens: targetTokens(b),
  }));
  await m.trainOnBatch(data[0].xs, data[0].y);
  await m.trainOnBatch(data[1].xs, data[1].y);
  let tokens = 0;
  const t0 = performance.now();
  for (const d of data.slice(2)) {
    await m.trainOnBatch(d.xs, d.y);
    tokens += d.tokens;
  }
  const rate = tokens / ((performance.now() - t0) / 1000);
  tf.dispose(data.flatMap((d) => [...d.xs, d.y]));
  return rate;
}

/** Greedy decoding in tfjs: the encoder once per batch, then one step-model predict per output token. */
function tfjsGreedy(encoder: tf.LayersModel, step: tf.LayersModel, words: number): number {
  const srcs = testSources.slice(0, words);
  const t0 = performance.now();
  for (let i = 0; i < srcs.length; i += 64) {
    const batch = srcs.slice(i, i + 64);
    const B = batch.length;
    const T = Math.max(...batch.map((x) => x.length));
    const flat = new Int32Array(B * T);
    batch.forEach((x, r) => flat.set(x, r * T));
    const x = tf.tidy(() => tf.oneHot(tf.tensor2d(flat, [B, T], 'int32'), app.source.size).toFloat());
    const [enc, h0, c0] = encoder.predict(x) as tf.Tensor[];
    let [h, c] = [h0, c0];
    x.dispose();
    const Vt = app.target.size;
    let prev = tf.tidy(() => tf.oneHot(tf.fill([B, 1], START, 'int32'), Vt).toFloat());
    const done = new Uint8Array(B);
    for (let t = 0; t < maxLength && done.some((d) => d === 0); t++) {
      const [y, h1, c1] = step.predict([prev, h, c, enc]) as tf.Tensor[];
      const best = y.argMax(-1);
      const ids = best.dataSync();
      best.dispose();
      for (let r = 0; r < B; r++) if (ids[r] === 2) done[r] = 1;
      const next = tf.tidy(() => tf.oneHot(tf.tensor2d(Int32Array.from(ids), [B, 1], 'int32'), Vt).toFloat());
      tf.dispose([y, h, c, prev]);
      [h, c, prev] = [h1, c1, next];
    }
    tf.dispose([enc, h, c, prev]);
  }
  return srcs.length / ((performance.now() - t0) / 1000);
}

const result: Record<string, unknown> = {
  kernels: kernels().name,
  batches: BATCHES,
  params: model.countParams(),
  model: modelDir ?? 'fresh (random weights)',
};
log(
  `seq2seq bench: CMUdict G2P, ${model.countParams().toLocaleString('en-US')} parameters, kernels ${kernels().name}`,
);
const rTrain = recurTrain();
log(`recur training: ${fmt(rTrain)} target tokens/s`);
// Threads 1 and 2 alternate, so a change in the machine's load hits both alike; the ratio is of the sums.
installWorkerPool();
const perThreads: Record<number, { wall: number; cpu: number; pairs: number }[]> = { 1: [], 2: [] };
for (let r = 0; r < THREAD_ROUNDS; r++)
  for (const t of [1, 2]) perThreads[t].push(await fitRates(s, app.source.size, app.target.size, batches, t));
await shutdownWorkerPool();
const mean = (t: number, k: 'wall' | 'cpu' | 'pairs'): number =>
  perThreads[t].reduce((a, b) => a + b[k], 0) / perThreads[t].length;
const [fit1, fit2, cpu1, cpu2] = [mean(1, 'wall'), mean(2, 'wall'), mean(1, 'cpu'), mean(2, 'cpu')];
log(
  `recur fitDataset: threads 1 ${fmt(fit1)}, threads 2 ${fmt(fit2)} target tokens/s of wall time → threads 2 / threads 1 ${(fit2 / fit1).toFixed(2)}` +
    ` (rounds: ${perThreads[1].map((r) => fmt(r.wall)).join(', ')} | ${perThreads[2].map((r) => fmt(r.wall)).join(', ')})`,
);
// Per CPU-second of the process (all threads): the pool's overhead, whatever share of the cores the load leaves.
log(
  `recur fitDataset: threads 1 ${fmt(cpu1)}, threads 2 ${fmt(cpu2)} target tokens per CPU-second → ${(cpu2 / cpu1).toFixed(2)}`,
);
Object.assign(result, {
  recurFitThreads1TokensPerSec: fit1,
  recurFitThreads2TokensPerSec: fit2,
  threads2Ratio: fit2 / fit1,
  recurFitThreads1TokensPerCpuSec: cpu1,
  recurFitThreads2TokensPerCpuSec: cpu2,
  threads2CpuRatio: cpu2 / cpu1,
});
const rGreedy = recurDecode(untrained, 1, Math.min(WORDS, 300));
log(`recur greedy decoding, random weights (${maxLength} tokens a word): ${fmt(rGreedy)} words/s`);
Object.assign(result, {
  maxLength,
  recurTrainTokensPerSec: rTrain,
  recurUntrainedGreedyWordsPerSec: rGreedy,
});
if (modelDir) {
  const g = recurDecode(model, 1, WORDS);
  const b = recurDecode(model, 5, Math.min(WORDS, 300));
  log(`recur trained model: greedy ${fmt(g)} words/s, beam 5 ${fmt(b)} words/s`);
  Object.assign(result, { recurGreedyWordsPerSec: g, recurBeam5WordsPerSec: b });
  const texts = splits.train.slice(0, POOL_WORDS).map((e) => e.source);
  log(`recur fitDataset on ${Math.min(2, CORES)} threads: ${fmt(mean(2, 'pairs'))} pairs/s`);
  Object.assign(
    result,
    await poolDecoding(app, modelDir, texts, Math.ceil(texts.length / 4), mean(2, 'pairs')),
  );
}

setWasmPaths(join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist') + '/');
await tf.setBackend('wasm');
await tf.ready();
const tfm = tfjsModels(app.source.size, app.target.size);
log(`tfjs model: ${tfm.train.countParams().toLocaleString('en-US')} parameters`);
const tTrain = await tfjsTrain(tfm.train);
log(`tfjs wasm training: ${fmt(tTrain)} target tokens/s → recur/tfjs ${(rTrain / tTrain).toFixed(2)}`);
const tGreedy = tfjsGreedy(tfm.encoder, tfm.step, Math.min(WORDS, 300));
log(
  `tfjs wasm greedy decoding, random weights: ${fmt(tGreedy)} words/s → recur/tfjs ${(rGreedy / tGreedy).toFixed(2)}`,
);
Object.assign(result, {
  tfjsParams: tfm.train.countParams(),
  tfjsWasmTrainTokensPerSec: tTrain,
  tfjsWasmGreedyWordsPerSec: tGreedy,
  trainRatio: rTrain / tTrain,
  greedyRatio: rGreedy / tGreedy,
});

if (modelDir) {
  for (const beam of [1, 5]) {
    const sc = app.evaluate(splits.test, { beam });
    log(
      `test (${sc.n} words, ${beam === 1 ? 'greedy' : 'beam 5'}): WER ${(100 * sc.wer).toFixed(2)}%, PER ${(100 * sc.ter).toFixed(2)}%`,
    );
    result[beam === 1 ? 'greedy' : 'beam5'] = sc;
  }
}
const fra = join(root, '..', 'shared', 'data', 'fra-eng.txt');
if (fraModelDir && existsSync(fra)) {
  const loaded = loadFunctionalModel(fraModelDir);
  const fraApp = Seq2Seq.fromMetadata(loaded.model, parseSeq2SeqMetadata(loaded.metadata, fraModelDir));
  const all = groupExamples(readPairsFile(fra, { skipBad: true }).pairs);
  const held = splitExamples(all, fraApp.settings.seed).test.slice(0, 2000);
  const sc = fraApp.evaluate(held, { textMetrics: true });
  log(`fra-eng (${sc.n} held-out pairs): BLEU ${sc.bleu!.toFixed(2)}, chrF ${sc.chrf!.toFixed(2)}`);
  result.fraEng = sc;
} else log('fra-eng: skipped (give --fra-model DIR, trained on ../shared/data/fra-eng.txt)');
process.stdout.write(JSON.stringify(result) + '\n');
