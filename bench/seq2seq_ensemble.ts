/**
 * `node dist/bench/seq2seq_ensemble.js DIR [--pool-words N] [--beam-words N] [--batches N] [--threads-rounds N]` —
 * issue #18 item 6 for a seq2seq seed ensemble with its joint n-gram (the default G2P recipe: two members, one per
 * target order, decoding by agreement with the n-gram; `recur seq2seq train` without --members 1):
 *
 *   training: pairs/s of fitDataset on two threads of one member's recipe (member 1's settings, a fresh model, batches
 *             of its batch size from the length-bucketed CMUdict training split, two warm-up batches first), divided
 *             by the members: the whole ensemble's training throughput (members train one after the other);
 *   decoding: `recur seq2seq predict DIR`'s path on `--pool-words` (default 20,000) training words greedily and on
 *             the first `--beam-words` (default 5,000) with beam 5: in-process on one thread, then on the inference
 *             pool with every core (start-up, module import and the model and n-gram loads included), then the
 *             started pool again; each rate ÷ the ensemble's training rate (item 6 asks ≥ 3×).
 *
 * Prints human lines on stderr and one JSON object on stdout.
 */
import { loadSeq2SeqDir } from '../src/node/seq2seq_dir.js';
import { installWorkerPool, shutdownWorkerPool } from '../src/node/pool.js';
import { cmudict } from '../src/node/seq2seq_files.js';
import { PairDataset } from '../src/seq2seq/data.js';
import { examplePairs, splitExamples } from '../src/seq2seq/pairs.js';
import { CMUDICT_DATA } from '../src/seq2seq/seq2seq.js';
import { CORES, fitRates, fmt, poolDecoding } from './seq2seq_rates.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const dir = process.argv[2];
if (!dir || dir.startsWith('--')) throw new Error('usage: seq2seq_ensemble.js DIR [--pool-words N] [...]');
const POOL_WORDS = arg('--pool-words', 20000);
const BEAM_WORDS = arg('--beam-words', 5000);
const BATCHES = arg('--batches', 20);
const ROUNDS = arg('--threads-rounds', 2);
const log = (s: string): void => void process.stderr.write(s + '\n');

const { app } = loadSeq2SeqDir(dir);
if (app.data !== CMUDICT_DATA) throw new Error(`${dir}: not a CMUdict (G2P) model`);
const s = app.settings;
const limit = (e: { source: string; targets: string[] }): boolean =>
  [...e.source].length <= s.maxSourceLength &&
  e.targets.every((t) => t.split(' ').length <= s.maxTargetLength);
const splits = splitExamples(cmudict().examples.filter(limit), s.seed);
const members = app.members.length;
log(
  `seq2seq ensemble bench: ${dir}, ${members} member(s) (${app.memberOrders.join(', ')}), ` +
    `joint n-gram ${app.jointNgram ? `weight ${app.jointNgram.weight}` : 'none'}`,
);

const data = app.encodePairs(examplePairs(splits.train));
const batches = [...new PairDataset(data, { batchSize: s.batchSize, seed: 1 }).batches(0)].slice(
  0,
  BATCHES + 2,
);
installWorkerPool();
const pairs: number[] = [];
for (let r = 0; r < ROUNDS; r++)
  pairs.push((await fitRates(s, app.source.size, app.target.size, batches, Math.min(2, CORES))).pairs);
await shutdownWorkerPool();
const memberPairs = pairs.reduce((a, b) => a + b, 0) / pairs.length;
const trainRate = memberPairs / members;
log(
  `training: one member ${fmt(memberPairs)} pairs/s on ${Math.min(2, CORES)} threads (rounds ${pairs.map(fmt).join(', ')}) ` +
    `÷ ${members} members → the ensemble ${fmt(trainRate)} pairs/s; 3× that is ${fmt(3 * trainRate)}`,
);
const texts = splits.train.slice(0, POOL_WORDS).map((e) => e.source);
const result = {
  dir,
  members,
  memberTrainPairsPerSec: memberPairs,
  ...(await poolDecoding(app, dir, texts, BEAM_WORDS, trainRate)),
};
process.stdout.write(JSON.stringify(result) + '\n');
