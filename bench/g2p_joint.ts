/**
 * `node dist/bench/g2p_joint.js [--order N] [--words N] [--ensemble DIR] [--split validation|test] [--width N] [--ignore-stress 1]
 * [--train-fraction f] [--train-on-validation 1] [--reversed-weights r1,r2,…]
 * [--unstressed-weights u1,u2,…] [--stress-model DIR --stress-weights s1,s2,…] [--tagger DIR --tagger-weights t1,t2,… --tagger-nbest K]
 * [--channel-model DIR --channel-weights c1,c2,…] [--realign-order K] [--alphas a1,a2,… [--mix 1]]` — #13's
 * hybrid question on seed 1's CMUdict split: the joint n-gram of src/seq2seq/joint_ngram.ts alone, and (with --ensemble,
 * a `recur seq2seq train` directory of both target orders) as a third opinion on the ensemble's candidates.
 *
 * Candidates of a word: each side's beam-5 list and the n-gram's 5 best. Each is scored by the forward and reversed
 * members (teacher-forced) and by the n-gram; the answer maximises agreement's score (the sides' mean over the length
 * penalty) + w · log p_ngram. w is chosen on the first half of the words and reported on the second.
 */
import '../src/node/install.js';
import { cmudict } from '../src/node/seq2seq_files.js';
import { loadSeq2SeqDir } from '../src/node/seq2seq_dir.js';
import { lengthPenalty, nBestDecode, scoreTargets } from '../src/seq2seq/decode.js';
import { examplePairs, splitExamples, trainingExamples } from '../src/seq2seq/pairs.js';
import { Tokenizer } from '../src/seq2seq/tokenizer.js';
import { ChunkAligner } from '../src/seq2seq/aligner.js';
import { JOINT_NGRAM_DEFAULTS, JointNgram } from '../src/seq2seq/joint_ngram.js';
import { withoutStress } from '../src/seq2seq/metrics.js';
import { taggerOpinion } from './g2p_tagger_score.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const order = Number(args.get('order') ?? 6);
const words = Number(args.get('words') ?? 6194);
const split = (args.get('split') ?? 'validation') as 'validation' | 'test';
const ensembleDir = args.get('ensemble');
// The n-gram's beam, for its proposals and its scores alike (the product's default unless given).
const width = Number(args.get('width') ?? JOINT_NGRAM_DEFAULTS.width);

const splits = splitExamples(
  cmudict().examples.filter((e) => e.source.length <= 40),
  1,
);
// --train-fraction f: the n-gram fitted on the first f of the training words (data scaling); --train-on-validation 1:
// on the training and validation words, as a `--train-on-validation` refit fits it.
if (args.get('train-on-validation') === '1' && split === 'validation')
  throw new Error('--train-on-validation 1 trains on the validation words: give --split test');
const trainWords = splits.train.slice(
  0,
  Math.round(splits.train.length * Number(args.get('train-fraction') ?? 1)),
);
const trainPairs = examplePairs(
  trainingExamples({ ...splits, train: trainWords }, args.get('train-on-validation') === '1'),
);
const loaded = ensembleDir ? loadSeq2SeqDir(ensembleDir) : null;
const src =
  loaded?.app.source ??
  Tokenizer.fit(
    trainPairs.map((p) => p.source),
    'chars',
  );
const tgt =
  loaded?.app.target ??
  Tokenizer.fit(
    trainPairs.map((p) => p.target),
    'symbols',
  );
const t0 = Date.now();
const encoded = trainPairs.map((p) => ({ source: src.encode(p.source), target: tgt.encode(p.target) }));
const aligner = ChunkAligner.fit(encoded, src.size, tgt.size);
const aligned: { source: Int32Array; chunks: Int32Array[] }[] = [];
for (const p of encoded) {
  const chunks = aligner.align(p.source, p.target);
  if (chunks) aligned.push({ source: p.source, chunks });
}
// --realign-order K: each training pair aligned again by an order-K joint n-gram of the aligner's graphones (its most
// probable graphone path), before the n-gram is fitted: alignments that see their neighbours.
const realignOrder = Number(args.get('realign-order') ?? 0);
if (realignOrder > 0) {
  const aligning = JointNgram.fit(aligned, realignOrder);
  let changed = 0;
  aligned.forEach((a, k) => {
    const target = Int32Array.from(a.chunks.flatMap((c) => Array.from(c)));
    const chunks = aligning.bestPath(a.source, target);
    if (!chunks) return;
    if (chunks.some((c, i) => c.join() !== a.chunks[i].join())) changed++;
    aligned[k] = { source: a.source, chunks };
  });
  console.log(`realigned by an order-${realignOrder} n-gram: ${changed} pairs changed`);
}
const t1 = Date.now();
const ngram = JointNgram.fit(aligned, order);
const t2 = Date.now();
// --unstressed-weights u1,u2,…: a second n-gram over the same alignments with ARPAbet's stress digits dropped from
// the targets, its log-probability of each candidate (stripped too) added with weight u beside the first's.
const unstressedWeights = (args.get('unstressed-weights') ?? '0').split(',').map(Number);
const stripId = Int32Array.from(tgt.tokens, () => 0);
{
  const ids = new Map<string, number>();
  tgt.tokens.forEach((t, i) => {
    const bare = withoutStress(t);
    if (!ids.has(bare)) ids.set(bare, ids.size);
    stripId[i] = ids.get(bare) as number;
  });
}
// --reversed-weights r1,r2,…: a second n-gram over the same graphones read right to left (each pair's graphones, and
// each graphone's phonemes, in reverse order), its log-probability of each reversed candidate added with weight r: the
// same counts smoothed and backed off from the other end.
const reversedWeights = (args.get('reversed-weights') ?? '0').split(',').map(Number);
const reversedNgram = reversedWeights.some((r) => r !== 0)
  ? JointNgram.fit(
      aligned.map((a) => ({
        source: a.source.slice().reverse(),
        chunks: a.chunks.map((c) => c.slice().reverse()).reverse(),
      })),
      order,
    )
  : null;
const unstressedNgram = unstressedWeights.some((u) => u !== 0)
  ? JointNgram.fit(
      aligned.map((a) => ({ source: a.source, chunks: a.chunks.map((c) => c.map((id) => stripId[id])) })),
      order,
    )
  : null;
console.log(
  `aligned ${aligned.length}/${encoded.length} pairs in ${((t1 - t0) / 1000).toFixed(1)} s; ` +
    `${ngram.graphones.length} graphones; order ${order}: ${ngram.size} contexts in ${((t2 - t1) / 1000).toFixed(1)} s`,
);

const examples = splits[split].slice(0, words);
const sources = examples.map((e) => src.encode(e.source, 'unk'));
// --ignore-stress 1: outputs and references compared without ARPAbet's stress digits.
const unstressed = args.get('ignore-stress') === '1';
const strip = (t: string): string => (unstressed ? t.split(' ').map(withoutStress).join(' ') : t);
const refs = examples.map((e) => new Set(e.targets.map(strip)));
const text = (ids: Int32Array): string => strip(Array.from(ids, (i) => tgt.tokens[i]).join(' '));
const t3 = Date.now();
const nbest = sources.map((s) => ngram.nBest(s, 5, width));
const t4 = Date.now();
const alone = examples.filter((_, i) => !refs[i].has(text(nbest[i][0]?.target ?? new Int32Array(0)))).length;
const oracle = examples.filter((_, i) => !nbest[i].some((d) => refs[i].has(text(d.target)))).length;
console.log(
  `n-gram alone on ${examples.length} ${split} words: WER ${((100 * alone) / examples.length).toFixed(2)} %, ` +
    `5-best oracle ${((100 * oracle) / examples.length).toFixed(2)} %, ${((t4 - t3) / 1000).toFixed(1)} s`,
);

if (loaded) {
  const app = loaded.app;
  const fwd = app.members.filter((_, i) => app.memberOrders[i] === 'forward');
  const rev = app.members.filter((_, i) => app.memberOrders[i] === 'reversed');
  const maxLength = app.longestTarget + 10;
  const lists = [
    nBestDecode(fwd, sources, { width: 5, maxLength }, 5),
    ...(rev.length > 0 ? [nBestDecode(rev, sources, { width: 5, maxLength }, 5)] : []),
  ];
  // --tagger DIR --tagger-weights t1,t2,…: a letter tagger of bench/g2p_aligned.ts (--save), its answer one more
  // candidate and its log-probability of each candidate, summed over the cuttings, added with weight t.
  const taggerDir = args.get('tagger');
  const taggerWeights = (args.get('tagger-weights') ?? '0').split(',').map(Number);
  // --tagger-nbest K: the tagger's K best answers join the candidates (default 1, its answer).
  const taggerNbest = Number(args.get('tagger-nbest') ?? 1);
  const tagger = taggerDir
    ? taggerOpinion(
        taggerDir,
        Tokenizer.fit(
          trainPairs.map((p) => p.source),
          'chars',
        ),
        examples.map((e) => e.source),
      )
    : null;
  if (tagger) {
    const wrongAlone = examples.filter((_, i) => !refs[i].has(strip(tagger.answers[i].join(' ')))).length;
    console.log(`tagger alone: WER ${((100 * wrongAlone) / examples.length).toFixed(2)} %`);
  }
  const candSource: Int32Array[] = [];
  const candTarget: Int32Array[] = [];
  const candWord: number[] = [];
  const first: number[] = [];
  sources.forEach((s, i) => {
    first.push(candTarget.length);
    const seen = new Set<string>();
    const offer = (ids: Int32Array): void => {
      const key = ids.join(',');
      if (seen.has(key)) return;
      seen.add(key);
      candSource.push(s);
      candTarget.push(ids);
      candWord.push(i);
    };
    for (const d of lists[0][i]) offer(d.ids);
    if (lists[1]) for (const d of lists[1][i]) offer(d.ids.slice().reverse());
    for (const d of nbest[i]) offer(d.target);
    if (tagger) for (const y of tagger.nBest(i, taggerNbest)) offer(tgt.encode(y.join(' '), 'unk'));
  });
  first.push(candTarget.length);
  const lpF = scoreTargets(fwd, candSource, candTarget, 640);
  const lpR =
    rev.length > 0
      ? scoreTargets(
          rev,
          candSource,
          candTarget.map((y) => y.slice().reverse()),
          640,
        )
      : lpF;
  const lpJ = Float64Array.from(candTarget, (y, c) => ngram.logJoint(candSource[c], y, width));
  const lpU = Float64Array.from(candTarget, (y, c) =>
    unstressedNgram
      ? unstressedNgram.logJoint(
          candSource[c],
          y.map((id) => stripId[id]),
          width,
        )
      : 0,
  );
  const lpV = Float64Array.from(candTarget, (y, c) =>
    reversedNgram ? reversedNgram.logJoint(candSource[c].slice().reverse(), y.slice().reverse(), width) : 0,
  );
  // --stress-model DIR --stress-weights s1,s2,…: a model of the stress pattern alone (a `recur seq2seq train` of
  // word → its vowels' stress digits, e.g. "0 1 0", "none" without a vowel), its log-probability of each candidate's
  // pattern added with weight s.
  const stressDir = args.get('stress-model');
  const stressWeights = (args.get('stress-weights') ?? '0').split(',').map(Number);
  const lpS = new Float64Array(candTarget.length);
  if (stressDir) {
    const stress = loadSeq2SeqDir(stressDir).app;
    const pattern = (y: Int32Array): string => {
      const digits = Array.from(y, (id) => /\d$/.exec(tgt.tokens[id])?.[0]).filter((d) => d !== undefined);
      return digits.length > 0 ? digits.join(' ') : 'none';
    };
    const stressSources = candSource.map((s) => stress.source.encode(src.decode(s), 'unk'));
    lpS.set(
      scoreTargets(
        stress.members,
        stressSources,
        candTarget.map((y) => stress.target.encode(pattern(y), 'unk')),
        640,
      ),
    );
  }
  // --channel-model DIR --channel-weights c1,c2,…: noisy-channel reranking's backward model, a `recur seq2seq train`
  // of pronunciation → word (bench/g2p_stress_pairs.js --channel), its log p(word | candidate) added with weight c:
  // how well each candidate spells back the word it came from.
  const channelDir = args.get('channel-model');
  const channelWeights = (args.get('channel-weights') ?? '0').split(',').map(Number);
  const lpC = new Float64Array(candTarget.length);
  if (channelDir) {
    const channel = loadSeq2SeqDir(channelDir).app;
    const word = candSource.map((s) => channel.target.encode(src.decode(s), 'unk'));
    lpC.set(
      scoreTargets(
        channel.members,
        candTarget.map((y) => channel.source.encode(Array.from(y, (id) => tgt.tokens[id]).join(' '), 'unk')),
        word,
        640,
      ),
    );
  }
  const lpT = Float64Array.from(candTarget, (y, c) =>
    tagger
      ? tagger.logScore(
          candWord[c],
          Array.from(y, (id) => tgt.tokens[id]),
        )
      : 0,
  );
  const t5 = Date.now();
  console.log(`${candTarget.length} candidates scored in ${((t5 - t4) / 1000).toFixed(1)} s`);
  const floor = (l: number): number => (l === -Infinity ? -1e9 : l);
  // The extra opinions beside the n-gram, each a log-score per candidate and the weights to try it at.
  const extras: { name: string; lp: Float64Array; weights: number[] }[] = [
    ...(unstressedNgram ? [{ name: 'the unstressed n-gram', lp: lpU, weights: unstressedWeights }] : []),
    ...(stressDir ? [{ name: 'the stress model', lp: lpS, weights: stressWeights }] : []),
    ...(tagger ? [{ name: 'the tagger', lp: lpT, weights: taggerWeights }] : []),
    ...(channelDir ? [{ name: 'the channel model', lp: lpC, weights: channelWeights }] : []),
    ...(reversedNgram ? [{ name: 'the reversed n-gram', lp: lpV, weights: reversedWeights }] : []),
  ];
  /**
   * Wrong answers among words [from, to) at n-gram weight w and weight x of `extra` (none: the n-gram alone); `rule`:
   * the length penalty's α (0.6, the product's) and whether the sides are mixed (log of their mean probability)
   * instead of agreement's mean log-probability.
   */
  const errors = (
    w: number,
    from: number,
    to: number,
    extra?: Float64Array,
    x = 0,
    rule = { alpha: 0.6, mix: false },
  ): number => {
    let wrong = 0;
    for (let i = from; i < to; i++) {
      let best = -Infinity;
      let pick = -1;
      for (let c = first[i]; c < first[i + 1]; c++) {
        const m = Math.max(lpF[c], lpR[c]);
        const sides = rule.mix
          ? m + Math.log((Math.exp(lpF[c] - m) + Math.exp(lpR[c] - m)) / 2)
          : (lpF[c] + lpR[c]) / 2;
        const neural = sides / lengthPenalty(candTarget[c].length + 1, rule.alpha);
        const s = neural + w * floor(lpJ[c]) + (extra && x !== 0 ? x * floor(extra[c]) : 0);
        if (s > best) {
          best = s;
          pick = c;
        }
      }
      if (!refs[i].has(text(candTarget[pick]))) wrong++;
    }
    return wrong;
  };
  const grid = [0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1];
  const half = Math.floor(examples.length / 2);
  const rate = (e: number, n: number): string => `${((100 * e) / n).toFixed(2)} %`;
  // --alphas a1,a2,… --mix 1: the networks' side of the rule — the length penalty's α, and the two sides combined as
  // a mixture (log of their mean probability) instead of agreement's mean log-probability — with the n-gram's weight,
  // all chosen on the first half and read on the second.
  if (args.has('alphas') || args.has('mix')) {
    const alphas = (args.get('alphas') ?? '0.6').split(',').map(Number);
    const mixes = args.get('mix') === '1' ? [false, true] : [false];
    const rule = (w: number, alpha: number, mix: boolean, from: number, to: number): number =>
      errors(w, from, to, undefined, 0, { alpha, mix });
    let chosen = { w: 0, alpha: 0, mix: false, e: Infinity };
    for (const mix of mixes)
      for (const alpha of alphas)
        for (const w of grid) {
          const e1 = rule(w, alpha, mix, 0, half);
          const e2 = rule(w, alpha, mix, half, examples.length);
          console.log(
            `${mix ? 'mixture' : 'agreement'}, α ${alpha}, w ${w}: first half ${rate(e1, half)}, second half ${rate(e2, examples.length - half)}, all ${rate(e1 + e2, examples.length)}`,
          );
          if (e1 < chosen.e) chosen = { w, alpha, mix, e: e1 };
        }
    const e2 = rule(chosen.w, chosen.alpha, chosen.mix, half, examples.length);
    console.log(
      `chosen on the first half: ${chosen.mix ? 'mixture' : 'agreement'}, α ${chosen.alpha}, w ${chosen.w}; second half ${rate(e2, examples.length - half)}`,
    );
  }
  let bestW = 0;
  let bestErr = Infinity;
  for (const w of grid) {
    const e1 = errors(w, 0, half);
    const e2 = errors(w, half, examples.length);
    console.log(
      `w ${w}: first half ${rate(e1, half)}, second half ${rate(e2, examples.length - half)}, all ${rate(e1 + e2, examples.length)}`,
    );
    if (e1 < bestErr) {
      bestErr = e1;
      bestW = w;
    }
  }
  const e2 = errors(bestW, half, examples.length);
  console.log(
    `chosen on the first half: w ${bestW}; second half ${rate(e2, examples.length - half)} ` +
      `(w 0: ${rate(errors(0, half, examples.length), examples.length - half)})`,
  );
  // Each extra opinion with the n-gram, both weights chosen on the first half and read on the second.
  for (const extra of extras) {
    let best = { w: 0, x: 0, e: Infinity };
    for (const w of grid)
      for (const x of extra.weights) {
        const e1 = errors(w, 0, half, extra.lp, x);
        const eb = errors(w, half, examples.length, extra.lp, x);
        console.log(
          `w ${w}, ${extra.name} ${x}: first half ${rate(e1, half)}, second half ${rate(eb, examples.length - half)}, all ${rate(e1 + eb, examples.length)}`,
        );
        if (e1 < best.e) best = { w, x, e: e1 };
      }
    const eb = errors(best.w, half, examples.length, extra.lp, best.x);
    console.log(
      `with ${extra.name}, chosen on the first half: w ${best.w}, ${best.x}; second half ${rate(eb, examples.length - half)}`,
    );
  }
}
process.exit(0);
