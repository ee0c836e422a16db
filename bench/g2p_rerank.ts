/**
 * `node dist/bench/g2p_rerank.js --ensemble DIR [--words N] [--split validation|test] [--features FILE]` and
 * `node dist/bench/g2p_rerank.js --fit FILE --read FILE` — #13 exploration: can a log-linear reranker over more
 * features than agreement + n-gram pick better among the candidates?
 *
 * The first form decodes a split's words (each side's beam-5 list, the n-gram's and a reversed n-gram's 5 best),
 * scores every candidate and writes the features to FILE (JSON), then fits weights on the split itself: by coordinate
 * ascent on the error (first half, read on the second), and as a maximum-entropy model (below). The second form fits
 * the maximum-entropy model on one file's words (the validation words) and reads it on another's (the test words).
 *
 * Features per candidate: each member's length-normalised teacher-forced log-probability, agreement's, the joint
 * n-gram's log p (order 6, training words), a reversed n-gram's, the candidate's length, how many of the lists proposed
 * it, whether it topped each list, and whether its count of primary stresses is other than one.
 *
 * The maximum-entropy fit: p(c | word) ∝ exp(w · f_c) over a word's candidates, weights maximising the log-probability
 * of the right candidates (words with none among them are left out) less λ‖w‖², features standardised. Unlike
 * coordinate ascent on the error count, the objective is smooth, so it does not chase the few words a step flips.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import '../src/node/install.js';

interface FeatureFile {
  names: string[];
  /** first[i] … first[i + 1] − 1: word i's candidates. */
  first: number[];
  /** right[c]: 1 when candidate c is one of its word's accepted pronunciations. */
  right: number[];
  /** values[f][c]. */
  values: number[][];
}

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);

async function extract(): Promise<FeatureFile> {
  const { cmudict } = await import('../src/node/seq2seq_files.js');
  const { loadSeq2SeqDir } = await import('../src/node/seq2seq_dir.js');
  const { lengthPenalty, nBestDecode, scoreTargets } = await import('../src/seq2seq/decode.js');
  const { examplePairs, splitExamples, trainingExamples } = await import('../src/seq2seq/pairs.js');
  const { ChunkAligner } = await import('../src/seq2seq/aligner.js');
  const { JointNgram } = await import('../src/seq2seq/joint_ngram.js');
  const words = Number(args.get('words') ?? 6194);
  const split = (args.get('split') ?? 'validation') as 'validation' | 'test';
  const app = loadSeq2SeqDir(args.get('ensemble') ?? '').app;
  const src = app.source;
  const tgt = app.target;
  const splits = splitExamples(
    cmudict().examples.filter((e) => e.source.length <= 40),
    1,
  );
  // --train-on-validation 1 (test split only): the n-grams of both splits, as a `--train-on-validation` refit fits them.
  const both = args.get('train-on-validation') === '1';
  if (both && split !== 'test') throw new Error('--train-on-validation 1 needs --split test');
  const order = Number(args.get('order') ?? 6);
  const encoded = examplePairs(trainingExamples(splits, both)).map((p) => ({
    source: src.encode(p.source),
    target: tgt.encode(p.target),
  }));
  const aligner = ChunkAligner.fit(encoded, src.size, tgt.size);
  const aligned: { source: Int32Array; chunks: Int32Array[] }[] = [];
  for (const p of encoded) {
    const chunks = aligner.align(p.source, p.target);
    if (chunks) aligned.push({ source: p.source, chunks });
  }
  const rev = (a: Int32Array): Int32Array => a.slice().reverse();
  const ngram = JointNgram.fit(aligned, order);
  const ngramRev = JointNgram.fit(
    aligned.map((p) => ({ source: rev(p.source), chunks: p.chunks.map(rev).reverse() })),
    order,
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
  const wordOf = new Int32Array(candTarget.length);
  for (let i = 0; i < sources.length; i++) wordOf.fill(i, first[i], first[i + 1]);
  const lp = (n: number): number => lengthPenalty(n + 1, 0.6);
  const memberScores = app.members.map((m, k) => {
    const reversed = app.memberOrders[k] === 'reversed';
    const s = scoreTargets([m], candSource, reversed ? candTarget.map(rev) : candTarget, 640);
    return Array.from(s, (v, c) => v / lp(candTarget[c].length));
  });
  const sideF = scoreTargets(fwd, candSource, candTarget, 640);
  const sideR = scoreTargets(bwd, candSource, candTarget.map(rev), 640);
  // A candidate the n-gram cannot spell has log p −∞: a floor and a flag, so that standardising stays sane.
  const floor = (v: number): number => Math.max(v, -80);
  const lpJ = candTarget.map((y, c) => ngram.logJoint(candSource[c], y));
  const lpJr = candTarget.map((y, c) => ngramRev.logJoint(rev(candSource[c]), rev(y)));
  const primary = new Set(tgt.tokens.flatMap((t, i) => (t.endsWith('1') ? [i] : [])));
  const stressOff = candTarget.map((y) => (y.filter((t) => primary.has(t)).length === 1 ? 0 : 1));
  const features: { name: string; v: number[] }[] = [
    { name: 'agreement', v: candTarget.map((y, c) => (sideF[c] + sideR[c]) / 2 / lp(y.length)) },
    ...memberScores.map((v, k) => ({ name: `member ${k + 1}`, v })),
    { name: 'ngram', v: lpJ.map(floor) },
    { name: 'ngram reversed', v: lpJr.map(floor) },
    { name: 'ngram cannot', v: lpJ.map((v) => (v === -Infinity ? 1 : 0)) },
    { name: 'ngramR cannot', v: lpJr.map((v) => (v === -Infinity ? 1 : 0)) },
    { name: 'length', v: candTarget.map((y) => y.length) },
    { name: 'votes', v: votes },
    ...['fwd top', 'rev top', 'ngram top', 'ngramR top'].map((name, li) => ({
      name,
      v: top.map((t) => t[li]),
    })),
    { name: 'stress count not 1', v: stressOff },
  ];
  return {
    names: features.map((f) => f.name),
    first,
    right: candTarget.map((y, c) => (refs[wordOf[c]].has(text(y)) ? 1 : 0)),
    values: features.map((f) => f.v),
  };
}

const words = (d: FeatureFile): number => d.first.length - 1;
const pct = (e: number, n: number): string => ((100 * e) / n).toFixed(2) + ' %';

/** Words whose highest-scoring candidate is wrong, from word `from` up to `to`. */
function errors(d: FeatureFile, w: readonly number[], from = 0, to = words(d)): number {
  return wrongWords(d, w, from, to).filter((x) => x).length;
}

/** Whether each word's highest-scoring candidate is wrong. */
function wrongWords(d: FeatureFile, w: readonly number[], from = 0, to = words(d)): boolean[] {
  const wrong: boolean[] = [];
  for (let i = from; i < to; i++) {
    let best = -Infinity;
    let pick = d.first[i];
    for (let c = d.first[i]; c < d.first[i + 1]; c++) {
      let s = 0;
      for (let f = 0; f < w.length; f++) if (w[f] !== 0) s += w[f] * d.values[f][c];
      if (s > best) {
        best = s;
        pick = c;
      }
    }
    wrong.push(d.right[pick] !== 1);
  }
  return wrong;
}

/** Words the weights get right that the baseline gets wrong, and the reverse: a paired comparison (McNemar). */
function paired(d: FeatureFile, w: readonly number[]): string {
  const base = wrongWords(d, baseline(d));
  const mine = wrongWords(d, w);
  const fixed = base.filter((b, i) => b && !mine[i]).length;
  const broken = base.filter((b, i) => !b && mine[i]).length;
  // Under "no difference", fixed ~ Binomial(fixed + broken, 1/2): the z of the exact test's normal approximation.
  const z = (fixed - broken) / Math.sqrt(Math.max(fixed + broken, 1));
  return `${fixed} fixed, ${broken} broken, z ${z.toFixed(2)}`;
}

/** Agreement + 0.3 · n-gram: the product's rule (a candidate the n-gram cannot spell is never picked). */
const baseline = (d: FeatureFile): number[] =>
  d.names.map((n) => (n === 'agreement' ? 1 : n === 'ngram' ? 0.3 : n === 'ngram cannot' ? -1e3 : 0));

function coordinateAscent(d: FeatureFile, from: number, to: number): number[] {
  const w = baseline(d);
  let cur = errors(d, w, from, to);
  const steps = [-0.5, -0.2, -0.1, -0.05, -0.02, 0.02, 0.05, 0.1, 0.2, 0.5];
  for (let round = 0; round < 4; round++) {
    let moved = false;
    for (let f = 1; f < w.length; f++) {
      let bestD = 0;
      for (const step of steps) {
        w[f] += step;
        const e = errors(d, w, from, to);
        w[f] -= step;
        if (e < cur) {
          cur = e;
          bestD = step;
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
}

/**
 * The maximum-entropy weights on words from … to − 1, in the features' own units (standardised inside), by gradient
 * ascent with Adam from the baseline's weights.
 */
function maxEnt(d: FeatureFile, from: number, to: number, lambda: number, steps = 1500): number[] {
  const F = d.names.length;
  const c0 = d.first[from];
  const c1 = d.first[to];
  const mean = new Float64Array(F);
  const scale = new Float64Array(F);
  for (let f = 0; f < F; f++) {
    let s = 0;
    let s2 = 0;
    for (let c = c0; c < c1; c++) {
      s += d.values[f][c];
      s2 += d.values[f][c] ** 2;
    }
    mean[f] = s / (c1 - c0);
    scale[f] = Math.sqrt(Math.max(s2 / (c1 - c0) - mean[f] ** 2, 1e-12));
  }
  const x = (f: number, c: number): number => (d.values[f][c] - mean[f]) / scale[f];
  const u = Float64Array.from(baseline(d), (v, f) => v * scale[f]);
  const m = new Float64Array(F);
  const v = new Float64Array(F);
  const used: number[] = [];
  for (let i = from; i < to; i++) {
    let any = false;
    for (let c = d.first[i]; c < d.first[i + 1]; c++) if (d.right[c] === 1) any = true;
    if (any) used.push(i);
  }
  const grad = new Float64Array(F);
  const s = new Float64Array(64);
  for (let t = 1; t <= steps; t++) {
    grad.fill(0);
    for (const i of used) {
      const a = d.first[i];
      const n = d.first[i + 1] - a;
      let max = -Infinity;
      for (let k = 0; k < n; k++) {
        let z = 0;
        for (let f = 0; f < F; f++) z += u[f] * x(f, a + k);
        s[k] = z;
        if (z > max) max = z;
      }
      // d/du log(good/all) = E_good[x] − E_all[x], in log space: a right candidate may score far below the rest.
      let maxGood = -Infinity;
      for (let k = 0; k < n; k++) if (d.right[a + k] === 1 && s[k] > maxGood) maxGood = s[k];
      let all = 0;
      let good = 0;
      for (let k = 0; k < n; k++) {
        all += Math.exp(s[k] - max);
        if (d.right[a + k] === 1) good += Math.exp(s[k] - maxGood);
      }
      for (let k = 0; k < n; k++) {
        const inGood = d.right[a + k] === 1 ? Math.exp(s[k] - maxGood) / good : 0;
        const coef = inGood - Math.exp(s[k] - max) / all;
        if (coef !== 0) for (let f = 0; f < F; f++) grad[f] += coef * x(f, a + k);
      }
    }
    const lr = 0.05;
    for (let f = 0; f < F; f++) {
      const g = grad[f] / used.length - 2 * lambda * u[f];
      m[f] = 0.9 * m[f] + 0.1 * g;
      v[f] = 0.999 * v[f] + 0.001 * g * g;
      const mh = m[f] / (1 - 0.9 ** t);
      const vh = v[f] / (1 - 0.999 ** t);
      u[f] += (lr * mh) / (Math.sqrt(vh) + 1e-8);
    }
  }
  return Array.from(u, (val, f) => val / scale[f]);
}

const show = (w: readonly number[]): string => `[${w.map((x) => x.toFixed(3)).join(' ')}]`;
const lambdas = (args.get('lambdas') ?? '0,0.001,0.01,0.1').split(',').map(Number);

/** --use a,b,…: only the named features (with those the baseline needs). */
function only(d: FeatureFile): FeatureFile {
  const use = args.get('use')?.split(',');
  if (!use) return d;
  const keep = d.names.flatMap((n, f) =>
    use.includes(n) || ['agreement', 'ngram', 'ngram cannot'].includes(n) ? [f] : [],
  );
  return { ...d, names: keep.map((f) => d.names[f]), values: keep.map((f) => d.values[f]) };
}

if (args.has('fit')) {
  const fit = only(JSON.parse(readFileSync(args.get('fit') ?? '', 'utf8')) as FeatureFile);
  const read = only(JSON.parse(readFileSync(args.get('read') ?? '', 'utf8')) as FeatureFile);
  console.log(`features: ${fit.names.join(', ')}`);
  console.log(
    `agreement + 0.3 ngram: fit ${pct(errors(fit, baseline(fit)), words(fit))}, read ${pct(errors(read, baseline(read)), words(read))}`,
  );
  for (const lambda of lambdas) {
    const w = maxEnt(fit, 0, words(fit), lambda);
    console.log(
      `max-ent λ ${lambda}: fit ${pct(errors(fit, w), words(fit))}, read ${pct(errors(read, w), words(read))} (${paired(read, w)})  ${show(w)}`,
    );
  }
} else {
  const d = await extract();
  if (args.has('features')) writeFileSync(args.get('features') ?? '', JSON.stringify(d));
  const n = words(d);
  const half = Math.floor(n / 2);
  let miss = 0;
  for (let i = 0; i < n; i++) if (!d.right.slice(d.first[i], d.first[i + 1]).includes(1)) miss++;
  console.log(`${d.first[n]} candidates, ${d.names.length} features; oracle ${pct(miss, n)}`);
  const report = (label: string, w: number[]): void =>
    console.log(
      `${label}: first half ${pct(errors(d, w, 0, half), half)}, second half ${pct(errors(d, w, half, n), n - half)}  ${show(w)}`,
    );
  report('agreement + 0.3 ngram', baseline(d));
  report('coordinate ascent on the first half', coordinateAscent(d, 0, half));
  for (const lambda of lambdas) report(`max-ent λ ${lambda} on the first half`, maxEnt(d, 0, half, lambda));
  const w2 = maxEnt(d, half, n, lambdas[1] ?? 0);
  console.log(`max-ent fitted on the second half, read on the first: ${pct(errors(d, w2, 0, half), half)}`);
}
process.exit(0);
