/**
 * `node dist/bench/g2p_rerank.js --ensemble DIR [--words N]` — #13 exploration: can a log-linear reranker over more
 * features than agreement + n-gram pick better among the candidates? Features per candidate: each member's
 * length-normalised teacher-forced log-probability, the joint n-gram's log p, a reversed n-gram's, the candidate's
 * length, and how many of the lists proposed it. Weights by coordinate ascent on the first half of the validation
 * words, read on the second.
 */
import '../src/node/install.js';
import { cmudict } from '../src/node/seq2seq_files.js';
import { loadSeq2SeqDir } from '../src/node/seq2seq_dir.js';
import { lengthPenalty, nBestDecode, scoreTargets } from '../src/seq2seq/decode.js';
import { examplePairs, splitExamples } from '../src/seq2seq/pairs.js';
import { ChunkAligner } from '../src/seq2seq/aligner.js';
import { JointNgram } from '../src/seq2seq/joint_ngram.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const words = Number(args.get('words') ?? 6194);
const split = (args.get('split') ?? 'validation') as 'validation' | 'test';
const loaded = loadSeq2SeqDir(args.get('ensemble') ?? '');
const app = loaded.app;
const src = app.source;
const tgt = app.target;
const splits = splitExamples(
  cmudict().examples.filter((e) => e.source.length <= 40),
  1,
);
const trainPairs = examplePairs(splits.train);
const encoded = trainPairs.map((p) => ({ source: src.encode(p.source), target: tgt.encode(p.target) }));
const aligner = ChunkAligner.fit(encoded, src.size, tgt.size);
const aligned: { source: Int32Array; chunks: Int32Array[] }[] = [];
for (const p of encoded) {
  const chunks = aligner.align(p.source, p.target);
  if (chunks) aligned.push({ source: p.source, chunks });
}
const rev = (a: Int32Array): Int32Array => a.slice().reverse();
const ngram = JointNgram.fit(aligned, 6);
const ngramRev = JointNgram.fit(
  aligned.map((p) => ({ source: rev(p.source), chunks: p.chunks.map(rev).reverse() })),
  6,
);
const examples = splits[split].slice(0, words);
const sources = examples.map((e) => src.encode(e.source, 'unk'));
const refs = examples.map((e) => new Set(e.targets));
const text = (ids: Int32Array): string => Array.from(ids, (i) => tgt.tokens[i]).join(' ');
const fwd = app.members.filter((_, i) => app.memberOrders[i] === 'forward');
const bwd = app.members.filter((_, i) => app.memberOrders[i] === 'reversed');
const maxLength = app.longestTarget + 10;
const lists: Int32Array[][][] = [
  nBestDecode(fwd, sources, { width: 5, maxLength }, 5).map((l) => l.map((d) => d.ids)),
  nBestDecode(bwd, sources, { width: 5, maxLength }, 5).map((l) => l.map((d) => rev(d.ids))),
  sources.map((s) => ngram.nBest(s, 5).map((d) => d.target)),
  sources.map((s) => ngramRev.nBest(rev(s), 5).map((d) => rev(d.target))),
];
const candSource: Int32Array[] = [];
const candTarget: Int32Array[] = [];
const votes: number[] = [];
const top: number[][] = [];
const first: number[] = [];
sources.forEach((s, i) => {
  first.push(candTarget.length);
  const index = new Map<string, number>();
  lists.forEach((l, li) =>
    l[i].forEach((ids, rank) => {
      const key = ids.join(',');
      let c = index.get(key);
      if (c === undefined) {
        c = candTarget.length;
        index.set(key, c);
        candSource.push(s);
        candTarget.push(ids);
        votes.push(0);
        top.push([0, 0, 0, 0]);
      }
      votes[c]++;
      if (rank === 0) top[c][li] = 1;
    }),
  );
});
first.push(candTarget.length);
const lp = (n: number): number => lengthPenalty(n + 1, 0.6);
const memberScores = app.members.map((m, k) => {
  const reversed = app.memberOrders[k] === 'reversed';
  const s = scoreTargets([m], candSource, reversed ? candTarget.map(rev) : candTarget, 640);
  return Float64Array.from(s, (v, c) => v / lp(candTarget[c].length));
});
const sideF = scoreTargets(fwd, candSource, candTarget, 640);
const sideR = scoreTargets(bwd, candSource, candTarget.map(rev), 640);
const floor = (v: number): number => (v === -Infinity ? -1e4 : v);
const lpJ = Float64Array.from(candTarget, (y, c) => floor(ngram.logJoint(candSource[c], y)));
const lpJr = Float64Array.from(candTarget, (y, c) => floor(ngramRev.logJoint(rev(candSource[c]), rev(y))));
const features: { name: string; v: ArrayLike<number> }[] = [
  { name: 'agreement', v: Float64Array.from(candTarget, (y, c) => (sideF[c] + sideR[c]) / 2 / lp(y.length)) },
  ...memberScores.map((v, k) => ({ name: `member ${k + 1}`, v })),
  { name: 'ngram', v: lpJ },
  { name: 'ngram reversed', v: lpJr },
  { name: 'length', v: candTarget.map((y) => y.length) },
  { name: 'votes', v: votes },
  ...['fwd top', 'rev top', 'ngram top', 'ngramR top'].map((name, li) => ({
    name,
    v: top.map((t) => t[li]),
  })),
];
console.log(`${candTarget.length} candidates, ${features.length} features`);
let miss = 0;
for (let i = 0; i < examples.length; i++) {
  let hit = false;
  for (let c = first[i]; c < first[i + 1]; c++) if (refs[i].has(text(candTarget[c]))) hit = true;
  if (!hit) miss++;
}
console.log(`oracle ${((100 * miss) / examples.length).toFixed(2)} %`);
const errors = (w: number[], from: number, to: number): number => {
  let wrong = 0;
  for (let i = from; i < to; i++) {
    let best = -Infinity;
    let pick = first[i];
    for (let c = first[i]; c < first[i + 1]; c++) {
      let s = 0;
      for (let f = 0; f < w.length; f++) if (w[f] !== 0) s += w[f] * features[f].v[c];
      if (s > best) {
        best = s;
        pick = c;
      }
    }
    if (!refs[i].has(text(candTarget[pick]))) wrong++;
  }
  return wrong;
};
const half = Math.floor(examples.length / 2);
const pct = (e: number, n: number): string => ((100 * e) / n).toFixed(2) + ' %';
const report = (label: string, w: number[]): void =>
  console.log(
    `${label}: first half ${pct(errors(w, 0, half), half)}, second half ${pct(errors(w, half, examples.length), examples.length - half)}  [${w.map((x) => x.toFixed(2)).join(' ')}]`,
  );
const base = features.map((_, f) => (f === 0 ? 1 : features[f].name === 'ngram' ? 0.3 : 0));
report('agreement + 0.3 ngram', base);
// Coordinate ascent from the baseline, on the first half.
const fitOn = (from: number, to: number, start: number[]): number[] => {
  const w = start.slice();
  let cur = errors(w, from, to);
  const steps = [-0.5, -0.2, -0.1, -0.05, -0.02, 0.02, 0.05, 0.1, 0.2, 0.5];
  for (let round = 0; round < 4; round++) {
    let moved = false;
    for (let f = 1; f < w.length; f++) {
      let bestD = 0;
      for (const d of steps) {
        w[f] += d;
        const e = errors(w, from, to);
        w[f] -= d;
        if (e < cur) {
          cur = e;
          bestD = d;
        }
      }
      if (bestD !== 0) {
        w[f] += bestD;
        moved = true;
      }
    }
    if (!moved) break;
  }
  return w;
};
report('fitted on the first half', fitOn(0, half, base));
const w2 = fitOn(half, examples.length, base);
console.log(
  `fitted on the second half, read on the first: ${pct(errors(w2, 0, half), half)}  [${w2.map((x) => x.toFixed(2)).join(' ')}]`,
);
process.exit(0);
