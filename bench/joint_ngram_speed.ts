/**
 * `node dist/bench/joint_ngram_speed.js DIR [--rounds N] [--out FILE] [--loads N]` — the joint n-gram's decoding work
 * alone, one thread: `nBest(·, 1)` (a greedy decode's proposal), `nBest(·, 5)` (beam 5's) and `logJoint` of each 5-best
 * candidate (its scores), over the held-out test words of DIR's own CMUdict split (DIR: a `recur seq2seq train`
 * directory of the G2P default data, with a joint n-gram). Each round is timed; --out writes the first round's lists and scores as JSON, so that two builds
 * can be compared for identical results (`cmp`). --loads N first times N loads of the n-gram's file (read, check,
 * build the trie), wall and CPU time (`--rounds 0` for those alone).
 */
import '../src/node/install.js';
import { writeFileSync } from 'node:fs';
import { splitsOf, withinLimits } from '../src/cli/seq2seq.js';
import { cmudict } from '../src/node/seq2seq_files.js';
import { loadSeq2SeqDir, readJointNgram } from '../src/node/seq2seq_dir.js';

const dir = process.argv[2];
if (!dir || dir.startsWith('--'))
  throw new Error('usage: joint_ngram_speed.js DIR [--rounds N] [--out FILE] [--loads N]');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const rounds = Number(arg('--rounds') ?? 3);
const out = arg('--out');
const loads = Number(arg('--loads') ?? 0);

const { app, meta } = loadSeq2SeqDir(dir);
if (!app.jointNgram)
  throw new Error(`${dir}: no joint n-gram beside this model (recur seq2seq ngram fits one)`);
const ngram = app.jointNgram.model;
if (app.data !== 'cmudict') throw new Error(`${dir} was trained on ${app.data}, not the G2P default data`);
const { settings } = app;
const words = splitsOf(withinLimits(cmudict().examples, settings), settings.seed, app.data).test.map(
  (e) => e.source,
);
const sources = app.encodeSources(words);
console.error(`${dir}: ${words.length} test words, n-gram of order ${ngram.order} (${ngram.size} nodes)`);

const time = <T>(f: () => T): [T, number] => {
  const t = performance.now();
  const r = f();
  return [r, (performance.now() - t) / 1000];
};
const loadTimes: { wall: number; cpu: number }[] = [];
for (let i = 0; i < loads; i++) {
  const cpu = process.cpuUsage();
  const [, wall] = time(() => readJointNgram(dir, meta));
  const used = process.cpuUsage(cpu);
  loadTimes.push({ wall, cpu: (used.user + used.system) / 1e6 });
  console.error(`load ${i + 1}: ${wall.toFixed(3)} s (${loadTimes[i].cpu.toFixed(3)} s of CPU)`);
}
const result: { round: number; nBest1: number; nBest5: number; logJoint: number }[] = [];
for (let round = 1; round <= rounds; round++) {
  const [best1, s1] = time(() => sources.map((s) => ngram.nBest(s, 1)));
  const [best5, s5] = time(() => sources.map((s) => ngram.nBest(s, 5)));
  const [joint, sj] = time(() =>
    best5.map((list, i) => list.map((c) => ngram.logJoint(sources[i], c.target))),
  );
  console.error(
    `round ${round}: nBest 1 ${s1.toFixed(2)} s, nBest 5 ${s5.toFixed(2)} s, logJoint ${sj.toFixed(2)} s`,
  );
  result.push({ round, nBest1: s1, nBest5: s5, logJoint: sj });
  if (round === 1 && out) {
    const lists = (l: typeof best1): [string, number][][] =>
      l.map((list) => list.map((c) => [Array.from(c.target).join(' '), c.logp]));
    writeFileSync(out, JSON.stringify({ best1: lists(best1), best5: lists(best5), joint }));
  }
}
console.log(JSON.stringify({ dir, words: words.length, loads: loadTimes, rounds: result }));
