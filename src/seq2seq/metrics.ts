/**
 * Sequence-to-sequence metrics, each accepting several references per output (any accepted alternative counts):
 *
 *   sequence error rate (WER for G2P): share of outputs that match none of their references exactly.
 *   token error rate (PER for G2P): Σ edit distance to the closest reference / Σ that reference's length
 *     (Levenshtein over tokens; the closest reference is the one with the fewest edits, the shorter on ties).
 *   BLEU (Papineni et al. 2002): corpus-level, n = 1…4, uniform weights, clipped counts against the most of each
 *     n-gram in any reference, brevity penalty against the reference length closest to each output (the shorter on
 *     ties), no smoothing, ×100 (sacreBLEU's scale).
 *   chrF (Popović 2015; sacreBLEU 1.x's compute_chrf and defaults): character n-grams n = 1…6 with whitespace
 *     removed, β = 2; per n the corpus's summed n-gram counts give precision and recall, averaged over the orders both
 *     sides have n-grams of, then F_β; per output the reference with the best sentence-level chrF is used; ×100.
 */

/** An ARPAbet token without its stress digit (AH0 → AH, K → K): how G2P is scored "without stress". */
export function withoutStress(token: string): string {
  return token.replace(/[0-9]+$/, '');
}

/** Levenshtein distance between token lists (unit costs). */
export function editDistance(a: readonly string[], b: readonly string[]): number {
  let prev = new Int32Array(b.length + 1);
  let cur = new Int32Array(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

function checkRefs(hyps: readonly unknown[], refs: readonly (readonly unknown[])[]): void {
  if (hyps.length !== refs.length)
    throw new Error(`metrics: ${hyps.length} outputs but ${refs.length} reference lists`);
  refs.forEach((r, i) => {
    if (r.length === 0) throw new Error(`metrics: output ${i} has no reference`);
  });
}

const same = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((t, i) => t === b[i]);

/** Share of outputs equal to none of their references. */
export function sequenceErrorRate(
  hyps: readonly (readonly string[])[],
  refs: readonly (readonly (readonly string[])[])[],
): number {
  checkRefs(hyps, refs);
  if (hyps.length === 0) return 0;
  let wrong = 0;
  hyps.forEach((h, i) => {
    if (!refs[i].some((r) => same(h, r))) wrong++;
  });
  return wrong / hyps.length;
}

/** Σ edits to the closest reference / Σ its length. */
export function tokenErrorRate(
  hyps: readonly (readonly string[])[],
  refs: readonly (readonly (readonly string[])[])[],
): number {
  checkRefs(hyps, refs);
  let edits = 0;
  let length = 0;
  hyps.forEach((h, i) => {
    let bestD = Infinity;
    let bestL = 0;
    for (const r of refs[i]) {
      const d = editDistance(h, r);
      if (d < bestD || (d === bestD && r.length < bestL)) [bestD, bestL] = [d, r.length];
    }
    edits += bestD;
    length += bestL;
  });
  // Empty references only (a library caller's): sacreBLEU's TER convention, 1 when anything was written, else 0 — not a
  // perfect 0 for an output that is all edits.
  if (length === 0) return edits > 0 ? 1 : 0;
  return edits / length;
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const g = tokens.slice(i, i + n).join('\u0001');
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  return m;
}

/** Corpus BLEU ×100 (see the header). */
export function bleu(
  hyps: readonly (readonly string[])[],
  refs: readonly (readonly (readonly string[])[])[],
  maxN = 4,
): number {
  checkRefs(hyps, refs);
  const match = new Float64Array(maxN);
  const total = new Float64Array(maxN);
  let hypLen = 0;
  let refLen = 0;
  hyps.forEach((h, i) => {
    hypLen += h.length;
    let closest = Infinity;
    for (const r of refs[i]) {
      const d = Math.abs(r.length - h.length);
      if (d < Math.abs(closest - h.length) || (d === Math.abs(closest - h.length) && r.length < closest))
        closest = r.length;
    }
    refLen += closest;
    for (let n = 1; n <= maxN; n++) {
      const hc = ngramCounts(h, n);
      const maxRef = new Map<string, number>();
      for (const r of refs[i])
        for (const [g, c] of ngramCounts(r, n)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, c));
      for (const [g, c] of hc) {
        match[n - 1] += Math.min(c, maxRef.get(g) ?? 0);
        total[n - 1] += c;
      }
    }
  });
  let logSum = 0;
  for (let n = 0; n < maxN; n++) {
    if (match[n] === 0 || total[n] === 0) return 0;
    logSum += Math.log(match[n] / total[n]) / maxN;
  }
  const bp = hypLen === 0 ? 0 : hypLen >= refLen ? 1 : Math.exp(1 - refLen / hypLen);
  return 100 * bp * Math.exp(logSum);
}

interface ChrStats {
  match: Float64Array;
  hyp: Float64Array;
  ref: Float64Array;
}

function chrStats(h: string, r: string, maxN: number): ChrStats {
  const hs = [...h.replace(/\s+/g, '')];
  const rs = [...r.replace(/\s+/g, '')];
  const s: ChrStats = {
    match: new Float64Array(maxN),
    hyp: new Float64Array(maxN),
    ref: new Float64Array(maxN),
  };
  for (let n = 1; n <= maxN; n++) {
    const hc = ngramCounts(hs, n);
    const rc = ngramCounts(rs, n);
    for (const [g, c] of hc) {
      s.hyp[n - 1] += c;
      s.match[n - 1] += Math.min(c, rc.get(g) ?? 0);
    }
    for (const c of rc.values()) s.ref[n - 1] += c;
  }
  return s;
}

function chrFOf(s: ChrStats, beta: number): number {
  const maxN = s.match.length;
  let p = 0;
  let r = 0;
  let n = 0;
  for (let i = 0; i < maxN; i++) {
    if (s.hyp[i] === 0 || s.ref[i] === 0) continue; // an order one side is too short for
    p += s.match[i] / s.hyp[i];
    r += s.match[i] / s.ref[i];
    n++;
  }
  if (n === 0) return 0;
  p /= n;
  r /= n;
  const b2 = beta * beta;
  return p + r === 0 ? 0 : ((1 + b2) * p * r) / (b2 * p + r);
}

/** Corpus chrF ×100 on texts (see the header). */
export function chrF(
  hyps: readonly string[],
  refs: readonly (readonly string[])[],
  maxN = 6,
  beta = 2,
): number {
  checkRefs(hyps, refs);
  const total: ChrStats = {
    match: new Float64Array(maxN),
    hyp: new Float64Array(maxN),
    ref: new Float64Array(maxN),
  };
  hyps.forEach((h, i) => {
    let bestS: ChrStats | null = null;
    let bestF = -1;
    for (const r of refs[i]) {
      const s = chrStats(h, r, maxN);
      const f = chrFOf(s, beta);
      if (f > bestF) [bestF, bestS] = [f, s];
    }
    for (let n = 0; n < maxN; n++) {
      total.match[n] += bestS!.match[n];
      total.hyp[n] += bestS!.hyp[n];
      total.ref[n] += bestS!.ref[n];
    }
  });
  return 100 * chrFOf(total, beta);
}
