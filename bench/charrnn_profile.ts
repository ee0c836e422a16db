/**
 * `node dist/bench/charrnn_profile.js [--batches N]` — where a training batch of the char-rnn recipe (issue #18
 * item 2: two LSTM(256), dropout 0.2, Dense(vocab) at every step, Adam, 32 streams × 50 characters) spends its time
 * on one thread: its plain speed, then a per-kernel profile (bench/kernel_timers.ts). Corpus: Moby Dick (the npm
 * package's), whose vocabulary sets the Dense's width.
 */
import '../src/node/index.js';
import { mobyDick } from '../src/node/text_file.js';
import { TextCorpus } from '../src/text/corpus.js';
import { buildTextModel, compileTextModel, textSettings } from '../src/text/recipes.js';
import { printKernelTable, timeKernels } from './kernel_timers.js';

const at = process.argv.indexOf('--batches');
const BATCHES = at > 0 ? Number(process.argv[at + 1]) : 20;
const corpus = TextCorpus.fromText(mobyDick());
const s = textSettings('char-rnn', { batchSize: 32, seed: 1 });
const model = buildTextModel(s, corpus.vocabulary.size);
compileTextModel(model, s);
model.threads = 1;
const data = corpus.streams({ seqLength: s.seqLength, batchSize: 32, maxBatches: BATCHES });
await model.fitDataset(data, { epochs: 1 }); // untimed: warms the kernels
const t0 = performance.now();
await model.fitDataset(data, { epochs: 1 });
const plain = (performance.now() - t0) / BATCHES;
console.log(
  `One batch of 32 × ${s.seqLength} characters, one thread: ${plain.toFixed(1)} ms (${((32 * s.seqLength * 1000) / plain).toFixed(0)} chars/s)\n`,
);
const { stats, totalMs } = await timeKernels(() =>
  model.fitDataset(data, { epochs: 1 }).then(() => undefined),
);
console.log(`With the kernel timers: ${(totalMs / BATCHES).toFixed(1)} ms a batch\n`);
printKernelTable(stats, totalMs, BATCHES, 0.2);
process.exit(0);
