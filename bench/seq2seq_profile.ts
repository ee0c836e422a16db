/**
 * `node dist/bench/seq2seq_profile.js [--batches N] [--layers L] [--input-feeding] [--pairs FILE [--tokens MODE]]` — where a training batch of the G2P recipe (issue
 * #13's default: BiLSTM(128) encoder, LSTM(256) decoder, Luong attention, dropout, label smoothing, Adam; batches of
 * 64 CMUdict pairs from the length-bucketed dataset) spends its time on one thread: its plain speed, then a
 * per-kernel profile (bench/kernel_timers.ts), GEMMs grouped by their transposes (a batch's shapes follow its bucket's
 * lengths). The first line also gives the user-CPU seconds per batch, which a loaded machine changes less than the
 * wall time (pin it to one core: `taskset -c 1`).
 */
import '../src/node/index.js';
import { cmudict } from '../src/node/seq2seq_files.js';
import { PairDataset, encodePairs } from '../src/seq2seq/data.js';
import { G2P_SETTINGS, buildSeq2SeqModel } from '../src/seq2seq/model.js';
import { splitsOf, withinLimits } from '../src/cli/seq2seq.js';
import { examplePairs } from '../src/seq2seq/pairs.js';
import { CMUDICT_DATA, fitPairTokenizers } from '../src/seq2seq/seq2seq.js';
import { PAD, TOKEN_MODES, type TokenMode } from '../src/seq2seq/tokenizer.js';
import type { IndexTensor } from '../src/core/tensor.js';
import { printKernelTable, timeKernels } from './kernel_timers.js';
import { translationSettings, translationSplits } from './translate_recipe.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const BATCHES = arg('--batches', 60);
// --pairs FILE: the README's translation recipe on a pairs file (its token modes, or both sides in --tokens MODE; the
// 6,000 most frequent tokens a side, ≤ 6 source and ≤ 8 target words, 128 units, embeddings of 96) instead of G2P.
const pairsIndex = process.argv.indexOf('--pairs');
const pairsFile = pairsIndex > 0 ? process.argv[pairsIndex + 1] : undefined;
const tokensIndex = process.argv.indexOf('--tokens');
const tokens = tokensIndex > 0 ? (process.argv[tokensIndex + 1] as TokenMode) : undefined;
if (tokens !== undefined && !TOKEN_MODES.includes(tokens))
  throw new Error(`--tokens: one of ${TOKEN_MODES.join(', ')}, got ${tokens}`);
const s = pairsFile
  ? { ...translationSettings(), ...(tokens ? { sourceMode: tokens, targetMode: tokens } : {}) }
  : { ...G2P_SETTINGS, encoderLayers: arg('--layers', G2P_SETTINGS.encoderLayers) };
if (process.argv.includes('--input-feeding')) s.inputFeeding = true;
const pairs = examplePairs(
  pairsFile
    ? translationSplits(pairsFile, s).train
    : splitsOf(withinLimits(cmudict().examples, s), s.seed, CMUDICT_DATA).train,
);
const { source, target } = fitPairTokenizers(pairs, s);
const dataset = new PairDataset(encodePairs(pairs, source, target), { batchSize: s.batchSize, seed: 1 });
const batches = [...dataset.batches(0)].slice(0, BATCHES + 2);
const model = buildSeq2SeqModel(s, source.size, target.size);
const train = (): void => {
  for (const b of batches.slice(2)) model.trainOnBatch(b.xs, b.ys);
};
model.trainOnBatch(batches[0].xs, batches[0].ys); // untimed: warms the kernels
model.trainOnBatch(batches[1].xs, batches[1].ys);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
train();
const plain = (performance.now() - t0) / BATCHES;
const userSeconds = process.cpuUsage(cpu0).user / 1e6 / BATCHES;
let pairsTrained = 0;
let targetTokens = 0;
let targetSlots = 0;
for (const b of batches.slice(2)) {
  pairsTrained += b.xs[0].shape[0];
  // Real target tokens (<end> included) and the padded slots the decoder steps through.
  const y = (b.ys[0] as IndexTensor).data;
  targetSlots += y.length;
  for (const id of y) if (id !== PAD) targetTokens++;
}
const perSecond = (n: number): string => ((n * 1000) / (plain * BATCHES)).toFixed(0);
console.log(
  `One batch of ${s.batchSize} pairs (${s.encoderLayers} encoder layer(s)), one thread: ${plain.toFixed(1)} ms (${perSecond(pairsTrained)} pairs/s, ${perSecond(targetTokens)} target tokens/s; ${((100 * targetTokens) / targetSlots).toFixed(0)} % of the target slots are tokens; ${userSeconds.toFixed(3)} user-CPU s a batch)\n`,
);
const { stats, totalMs } = await timeKernels(train);
// A batch's GEMM shapes follow its bucket's lengths: one row per kernel and transposes.
const grouped = new Map<string, { ms: number; calls: number }>();
for (const [key, v] of stats) {
  const name = key.startsWith('gemm') ? key.split(' ').slice(0, 2).join(' ') : key;
  const g = grouped.get(name) ?? { ms: 0, calls: 0 };
  g.ms += v.ms;
  g.calls += v.calls;
  grouped.set(name, g);
}
console.log(`With the kernel timers: ${(totalMs / BATCHES).toFixed(1)} ms a batch\n`);
printKernelTable(grouped, totalMs, BATCHES, 0.2);
process.exit(0);
