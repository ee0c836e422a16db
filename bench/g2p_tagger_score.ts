/**
 * A letter tagger saved by `bench/g2p_aligned.ts --model tagger --save DIR`, as an opinion on G2P candidates (issue
 * #13): its per-letter label distributions for a list of words, its own answer (the best label at every letter), and
 * its log-probability of any phoneme sequence, summed over the ways of cutting it into one chunk (0–2 phonemes, a
 * label it knows) per letter:
 *   α[0][0] = 1,  α[t + 1][j] = Σ_{k ∈ 0..2} α[t][j − k] · p_t(label(y[j − k .. j]))  →  log α[n][|y|].
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../src/core/tensor.js';
import { loadFunctionalModel } from '../src/node/model_io.js';
import { sourceBatch } from '../src/seq2seq/data.js';
import type { Tokenizer } from '../src/seq2seq/tokenizer.js';

export interface TaggerOpinion {
  /** Per word, its [letters, labels] probabilities, row-major. */
  readonly probabilities: Float32Array[];
  /** Per word, the tagger's own answer: phoneme tokens. */
  readonly answers: string[][];
  /** log p_tagger(phonemes | word i), −Infinity when no cutting uses known labels. */
  logScore(i: number, phonemes: readonly string[]): number;
  /** Word i's k most probable label sequences, as phonemes (best first; letters are independent, so a beam is exact). */
  nBest(i: number, k: number): string[][];
}

export function taggerOpinion(dir: string, source: Tokenizer, words: readonly string[]): TaggerOpinion {
  const { model } = loadFunctionalModel(dir);
  model.threads = 2;
  const labels = (JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8')) as { labels: string[] }).labels;
  const L = labels.length;
  const labelOf = new Map<string, number>();
  labels.forEach((l, k) => {
    if (k > 0) labelOf.set(l, k);
  });
  const probabilities = new Array<Float32Array>(words.length);
  const order = words.map((_, i) => i).sort((a, b) => words[a].length - words[b].length);
  for (let b = 0; b < order.length; b += 256) {
    const idx = order.slice(b, b + 256);
    const ids = idx.map((j) => source.encode(words[j], 'unk'));
    const xs = sourceBatch(ids);
    const T = xs.shape[1];
    const p = (model.predict([xs]) as Tensor).data;
    idx.forEach((j, r) => {
      probabilities[j] = p.slice(r * T * L, (r * T + ids[r].length) * L);
    });
  }
  const answers = probabilities.map((p) => {
    const out: string[] = [];
    for (let t = 0; t < p.length / L; t++) {
      let best = 1;
      for (let k = 2; k < L; k++) if (p[t * L + k] > p[t * L + best]) best = k;
      if (labels[best] !== '') out.push(...labels[best].split(' '));
    }
    return out;
  });
  const logScore = (i: number, y: readonly string[]): number => {
    const p = probabilities[i];
    const n = p.length / L;
    const m = y.length;
    // Scaled forward pass: each letter's row is normalised, its log-sum kept.
    let alpha = new Float64Array(m + 1);
    alpha[0] = 1;
    let logScale = 0;
    for (let t = 0; t < n; t++) {
      const next = new Float64Array(m + 1);
      for (let j = 0; j <= m; j++) {
        let s = 0;
        for (let k = 0; k <= 2 && k <= j; k++) {
          const a = alpha[j - k];
          if (a === 0) continue;
          const label = labelOf.get(y.slice(j - k, j).join(' '));
          if (label !== undefined) s += a * p[t * L + label];
        }
        next[j] = s;
      }
      let total = 0;
      for (let j = 0; j <= m; j++) total += next[j];
      if (total === 0) return -Infinity;
      for (let j = 0; j <= m; j++) next[j] /= total;
      logScale += Math.log(total);
      alpha = next;
    }
    return alpha[m] === 0 ? -Infinity : logScale + Math.log(alpha[m]);
  };
  const nBest = (i: number, k: number): string[][] => {
    const p = probabilities[i];
    const n = p.length / L;
    let beam: { logp: number; labels: number[] }[] = [{ logp: 0, labels: [] }];
    for (let t = 0; t < n; t++) {
      const next: { logp: number; labels: number[] }[] = [];
      for (const h of beam)
        for (let l = 1; l < L; l++)
          next.push({ logp: h.logp + Math.log(p[t * L + l]), labels: [...h.labels, l] });
      next.sort((a, b) => b.logp - a.logp);
      beam = next.slice(0, k);
    }
    return beam.map((h) => h.labels.flatMap((l) => (labels[l] === '' ? [] : labels[l].split(' '))));
  };
  return { probabilities, answers, logScore, nBest };
}
