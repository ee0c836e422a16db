/**
 * The joint n-gram (src/seq2seq/joint_ngram.ts) against a plain reference: every next-graphone distribution equals
 * interpolated modified Kneser–Ney computed from counts kept in string-keyed maps, and sums to 1; logJoint equals the
 * sum over every graphone path enumerated by brute force; nBest's best is the brute-force argmax; the file round-trips
 * and its loader, fuzzed with a seeded generator, either loads or names what is wrong. Decoding with the n-gram
 * (rescoreDecode's extra scorer) is tested in seq2seq_model.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import {
  JointNgram,
  fitJointNgram,
  jointNgramFromJson,
  jointNgramToJson,
  topIndices,
  type Graphone,
} from '../src/seq2seq/joint_ngram.js';

/** Letters 0…5 and what each may sound as (target symbols 0…4): several choices, so contexts matter. */
const OPTIONS: number[][][] = [[[0]], [[1], []], [[2, 3], [2]], [[4]], [[0, 1], [1]], [[]]];

function graphoneTable(): Graphone[] {
  const g: Graphone[] = [];
  OPTIONS.forEach((opts, letter) =>
    opts.forEach((c) => g.push({ source: letter, chunk: Int32Array.from(c) })),
  );
  return g;
}

/** Random words as graphone sequences, with a context rule (a letter after 2 takes its second option) to learn. */
function sequences(n: number, seed: number, graphones: Graphone[]): Int32Array[] {
  const rng = new Random(seed);
  const idOf = (letter: number, option: number): number =>
    graphones.findIndex((g) => g.source === letter && g.chunk.join() === OPTIONS[letter][option].join());
  return Array.from({ length: n }, () => {
    const len = 1 + rng.int(5);
    const out: number[] = [];
    let prev = -1;
    for (let i = 0; i < len; i++) {
      const letter = rng.int(OPTIONS.length);
      const option = OPTIONS[letter].length > 1 && (prev === 2 || rng.next() < 0.2) ? 1 : 0;
      out.push(idOf(letter, option));
      prev = letter;
    }
    return Int32Array.from(out);
  });
}

/** Interpolated modified Kneser–Ney from string-keyed counts: the equations of joint_ngram.ts's header, plainly. */
function referenceLogProbs(
  seqs: readonly Int32Array[],
  order: number,
  G: number,
): (history: number[]) => number[] {
  const BOS = 'S';
  const EOS = String(G);
  const windows: Map<string, number>[] = Array.from({ length: order + 1 }, () => new Map());
  for (const seq of seqs) {
    const s = [BOS, ...Array.from(seq, String), EOS];
    for (let i = 0; i < s.length; i++)
      for (let k = 1; k <= order && i + k <= s.length; k++) {
        const key = s.slice(i, i + k).join(' ');
        windows[k].set(key, (windows[k].get(key) ?? 0) + 1);
      }
  }
  // The distinct tokens seen to the left of each n-gram: one per (k + 1)-gram it ends.
  const leftNeighbours: Map<string, number>[] = windows.map(() => new Map());
  for (let k = 1; k < order; k++)
    for (const longer of windows[k + 1].keys()) {
      const key = longer.slice(longer.indexOf(' ') + 1);
      leftNeighbours[k].set(key, (leftNeighbours[k].get(key) ?? 0) + 1);
    }
  const adjusted: Map<string, number>[] = windows.map(() => new Map());
  for (let k = 1; k <= order; k++)
    for (const [key, raw] of windows[k]) {
      if (k === order || key.startsWith(BOS)) {
        adjusted[k].set(key, raw);
        continue;
      }
      adjusted[k].set(key, leftNeighbours[k].get(key) ?? 0);
    }
  const discounts: number[][] = [[]];
  for (let k = 1; k <= order; k++) {
    const n = [0, 0, 0, 0, 0];
    for (const [key, a] of adjusted[k]) if (!key.endsWith(BOS) && a <= 4) n[a]++;
    const Y = n[1] + 2 * n[2] > 0 ? n[1] / (n[1] + 2 * n[2]) : 0.5;
    const D = (c: number): number =>
      n[c] > 0 ? Math.min(c, Math.max(0, c - ((c + 1) * Y * n[c + 1]) / n[c])) : Y;
    discounts.push([0, D(1), D(2), D(3)]);
  }
  const outcomes = Array.from({ length: G + 1 }, (_, w) => String(w));
  const p = (h: string[], w: string): number => {
    const lower = h.length === 0 ? 1 / (G + 1) : p(h.slice(1), w);
    const k = h.length + 1;
    let total = 0;
    let gamma = 0;
    for (const v of outcomes) {
      const a = adjusted[k].get([...h, v].join(' ')) ?? 0;
      if (a === 0) continue;
      total += a;
      gamma += discounts[k][Math.min(a, 3)];
    }
    if (total === 0) return lower;
    const a = adjusted[k].get([...h, w].join(' ')) ?? 0;
    const d = a === 0 ? 0 : discounts[k][Math.min(a, 3)];
    return (Math.max(a - d, 0) + gamma * lower) / total;
  };
  const top = (h: string[]): number[] => outcomes.map((w) => Math.log(p(h, w)));
  return (history) => {
    const full = [BOS, ...history.map(String)];
    return top(order === 1 ? [] : full.slice(-(order - 1)));
  };
}

describe("topIndices (nBest's beam cut)", () => {
  it('keeps what a stable descending sort cut to k keeps, ties in index order', () => {
    const rng = new Random(11);
    for (let trial = 0; trial < 300; trial++) {
      const n = Math.floor(rng.next() * 40);
      // Few distinct values, so ties are common.
      const values = Array.from(
        { length: n },
        () => Math.floor(rng.next() * 6) - 3 - (rng.next() < 0.1 ? 0.5 : 0),
      );
      const k = 1 + Math.floor(rng.next() * 12);
      const sorted = Array.from(values.keys())
        .sort((a, b) => values[b] - values[a])
        .slice(0, k);
      assert.deepEqual(topIndices(values, k), sorted, `values ${values.join(',')}, k ${k}`);
    }
    assert.deepEqual(topIndices([], 3), []);
    assert.deepEqual(topIndices([1, 2], 0), []);
  });
});

describe('JointNgram', () => {
  const graphones = graphoneTable();
  const G = graphones.length;
  const seqs = sequences(300, 1, graphones);

  it('gives every next graphone the Kneser–Ney probability of the plain reference, summing to 1', () => {
    const rng = new Random(2);
    for (const order of [1, 2, 3, 4]) {
      const model = new JointNgram(order, graphones, seqs);
      const reference = referenceLogProbs(seqs, order, G);
      for (let trial = 0; trial < 40; trial++) {
        // Seen histories (prefixes of training words) and unseen ones.
        const history =
          trial % 2 === 0
            ? Array.from(seqs[rng.int(seqs.length)].slice(0, rng.int(4)))
            : Array.from({ length: rng.int(5) }, () => rng.int(G));
        const got = model.nextLogProbs(history);
        const want = reference(history);
        assert.equal(got.length, G + 1);
        for (let w = 0; w <= G; w++)
          assert.ok(Math.abs(got[w] - want[w]) < 1e-12, `order ${order}, history ${history}, w ${w}`);
        const sum = got.reduce((s, l) => s + Math.exp(l), 0);
        assert.ok(Math.abs(sum - 1) < 1e-12, `order ${order}: Σ p = ${sum}`);
      }
    }
  });

  it('holds every n-gram up to order 7 once, of pairs shorter and longer than the order, with their probabilities', () => {
    // Many graphones (a context's children run long), some far more frequent (counts of 1, 2 and 3+), and pairs of 0
    // to 14 graphones: n-grams that end at <end> and ones that stop at the order are built in different ways.
    const many: Graphone[] = Array.from({ length: 30 }, (_, i) => ({
      source: i % 7,
      chunk: Int32Array.of(i),
    }));
    const rng = new Random(8);
    const train = Array.from({ length: 150 }, () =>
      Int32Array.from({ length: rng.int(15) }, () => (rng.next() < 0.6 ? rng.int(4) : rng.int(many.length))),
    );
    for (const order of [1, 2, 5, 7]) {
      const model = new JointNgram(order, many, train);
      const distinct = new Set<string>();
      for (const seq of train) {
        const s = ['S', ...Array.from(seq, String), 'E'];
        for (let i = 0; i < s.length; i++)
          for (let k = 1; k <= order && i + k <= s.length; k++) distinct.add(s.slice(i, i + k).join(' '));
      }
      assert.equal(model.size, 1 + distinct.size, `order ${order}: the trie's nodes`);
      const reference = referenceLogProbs(train, order, many.length);
      for (let trial = 0; trial < 30; trial++) {
        const seq = train[rng.int(train.length)];
        const history =
          trial % 3 === 0
            ? Array.from({ length: rng.int(9) }, () => rng.int(many.length))
            : Array.from(seq.slice(0, rng.int(seq.length + 1)));
        const got = model.nextLogProbs(history);
        const want = reference(history);
        for (let w = 0; w <= many.length; w++)
          assert.ok(Math.abs(got[w] - want[w]) < 1e-12, `order ${order}, history ${history}, w ${w}`);
      }
    }
  });

  /** Every graphone path spelling a letter sequence: [path, target, log p(path, <end>)]. */
  function paths(model: JointNgram, letters: number[]): { path: number[]; target: string; logp: number }[] {
    const out: { path: number[]; target: string; logp: number }[] = [];
    const walk = (i: number, path: number[], logp: number): void => {
      if (i === letters.length) {
        const target = path.flatMap((g) => Array.from(graphones[g].chunk)).join(' ');
        out.push({ path, target, logp: logp + model.nextLogProbs(path)[G] });
        return;
      }
      const next = model.nextLogProbs(path);
      graphones.forEach((g, id) => {
        if (g.source === letters[i]) walk(i + 1, [...path, id], logp + next[id]);
      });
    };
    walk(0, [], 0);
    return out;
  }

  const logSum = (xs: number[]): number => {
    const m = Math.max(...xs);
    return m === -Infinity ? m : m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
  };

  it('sums the probability of every graphone path of a pair (logJoint), and proposes the most probable target', () => {
    const rng = new Random(3);
    const model = new JointNgram(3, graphones, seqs);
    for (let trial = 0; trial < 30; trial++) {
      const letters = Array.from({ length: 1 + rng.int(5) }, () => rng.int(OPTIONS.length));
      const all = paths(model, letters);
      const byTarget = new Map<string, number[]>();
      for (const p of all) byTarget.set(p.target, [...(byTarget.get(p.target) ?? []), p.logp]);
      const source = Int32Array.from(letters);
      for (const [target, lps] of byTarget) {
        const ids = Int32Array.from(target === '' ? [] : target.split(' ').map(Number));
        const got = model.logJoint(source, ids, 10_000);
        assert.ok(Math.abs(got - logSum(lps)) < 1e-9, `${letters} → ${target}: ${got} vs ${logSum(lps)}`);
      }
      // A target no path spells has no probability.
      assert.equal(model.logJoint(source, Int32Array.from([4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4])), -Infinity);
      const best = [...byTarget].map(([t, lps]) => ({ t, lp: logSum(lps) })).sort((a, b) => b.lp - a.lp);
      const proposed = model.nBest(source, 3, 10_000);
      assert.equal(proposed[0].target.join(' '), best[0].t, `${letters}`);
      assert.ok(Math.abs(proposed[0].logp - best[0].lp) < 1e-9);
      assert.ok(proposed.length <= 3 && proposed.every((p, i) => i === 0 || p.logp <= proposed[i - 1].logp));
    }
  });

  it('finds the most probable graphone path of a pair (bestPath), the brute-force argmax over its paths', () => {
    const rng = new Random(11);
    const model = new JointNgram(3, graphones, seqs);
    let checked = 0;
    let ambiguous = 0;
    for (let trial = 0; trial < 200; trial++) {
      const letters = Array.from({ length: 1 + rng.int(5) }, () => rng.int(OPTIONS.length));
      const byTarget = new Map<string, { path: number[]; logp: number }[]>();
      for (const p of paths(model, letters)) byTarget.set(p.target, [...(byTarget.get(p.target) ?? []), p]);
      const source = Int32Array.from(letters);
      for (const [target, ps] of byTarget) {
        const ids = Int32Array.from(target === '' ? [] : target.split(' ').map(Number));
        const best = ps.reduce((a, b) => (b.logp > a.logp ? b : a));
        const got = model.bestPath(source, ids, 10_000);
        assert.ok(got, `${letters} → ${target}: no path`);
        assert.equal(got.length, letters.length);
        // The chunks spell the target, one per letter, and are the best path's (or a path as probable).
        assert.equal(got.flatMap((c) => Array.from(c)).join(' '), target);
        const chosen = ps.find((p) => p.path.every((g, i) => graphones[g].chunk.join() === got[i].join()));
        assert.ok(chosen && Math.abs(chosen.logp - best.logp) < 1e-9, `${letters} → ${target}`);
        checked++;
        if (ps.length > 1) ambiguous++;
      }
      assert.equal(model.bestPath(source, Int32Array.from([4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4])), null);
    }
    // Targets several paths spell (letter 1 sounding or not beside another 1): the choice is tested, not just found.
    assert.ok(checked > 30 && ambiguous > 5, `${checked} targets, ${ambiguous} with several paths`);
  });

  /**
   * nBest(letters, 5) with an unbounded beam against every graphone path enumerated: the same log-probabilities,
   * and the same targets wherever the order is not a tie.
   */
  const assertBruteForceNBest = (
    model: JointNgram,
    table: Graphone[],
    letters: number[],
    label: string,
  ): void => {
    // Every path, by the chunks it emits (nBest merges paths with the same chunks, not only the same tokens).
    const byChunks = new Map<string, { target: number[]; lps: number[] }>();
    const walk = (i: number, path: number[], logp: number): void => {
      if (i === letters.length) {
        const key = path
          .filter((g) => table[g].chunk.length > 0)
          .map((g) => table[g].chunk.join('.'))
          .join('|');
        const entry = byChunks.get(key) ?? {
          target: path.flatMap((g) => Array.from(table[g].chunk)),
          lps: [],
        };
        entry.lps.push(logp + model.nextLogProbs(path)[table.length]);
        byChunks.set(key, entry);
        return;
      }
      const next = model.nextLogProbs(path);
      table.forEach((g, id) => {
        if (g.source === letters[i]) walk(i + 1, [...path, id], logp + next[id]);
      });
    };
    walk(0, [], 0);
    const want = [...byChunks.values()]
      .map((e) => ({ target: e.target.join(' '), logp: logSum(e.lps) }))
      .sort((a, b) => b.logp - a.logp)
      .slice(0, 5);
    const got = model.nBest(Int32Array.from(letters), 5, 10_000);
    assert.equal(got.length, want.length, label);
    got.forEach((g, i) => {
      assert.ok(Math.abs(g.logp - want[i].logp) < 1e-9, `${label}, #${i}: ${g.logp} vs ${want[i].logp}`);
      if (
        i + 1 < want.length &&
        want[i].logp - want[i + 1].logp > 1e-9 &&
        (i === 0 || want[i - 1].logp - want[i].logp > 1e-9)
      )
        assert.equal(g.target.join(' '), want[i].target, `${label}, #${i}`);
    });
  };

  it('gives whole n-best lists their brute-force probabilities when one letter has many graphones', () => {
    // nBest resolves a hypothesis's graphones context by context, scanning the short contexts' children and
    // reading the wide ones' by letter (the root here has ~40 children, letters 1–3 one or two graphones each).
    const wide: Graphone[] = [{ source: 0, chunk: new Int32Array(0) }];
    for (let t = 0; t < 36; t++) wide.push({ source: 0, chunk: Int32Array.of(t) });
    wide.push({ source: 1, chunk: Int32Array.of(1) }, { source: 1, chunk: new Int32Array(0) });
    wide.push({ source: 2, chunk: Int32Array.of(2, 3) }, { source: 3, chunk: Int32Array.of(4) });
    const rng = new Random(5);
    const train = Array.from({ length: 400 }, () =>
      Int32Array.from({ length: 1 + rng.int(5) }, () => rng.int(wide.length)),
    );
    for (const order of [2, 3]) {
      const model = new JointNgram(order, wide, train);
      for (let trial = 0; trial < 12; trial++) {
        const letters = Array.from({ length: 1 + rng.int(3) }, () => (rng.next() < 0.3 ? 0 : 1 + rng.int(3)));
        assertBruteForceNBest(model, wide, letters, `order ${order}, letters ${letters}`);
      }
    }
  });

  /**
   * Letters 0–2 with 12, 10 and 3 graphones whose chunks overlap across letters, two of letter 0's and one of letter
   * 1's never in the 300 training pairs; their contexts have more than 8 children, of all three letters.
   */
  const overlappingTable = (rng: Random): { table: Graphone[]; train: Int32Array[] } => {
    const table: Graphone[] = [];
    for (let t = 0; t < 12; t++)
      table.push({ source: 0, chunk: t === 11 ? new Int32Array(0) : Int32Array.of(t) });
    for (let t = 0; t < 10; t++)
      table.push({ source: 1, chunk: t === 0 ? new Int32Array(0) : Int32Array.of(t, 1) });
    table.push({ source: 2, chunk: Int32Array.of(3) }, { source: 2, chunk: Int32Array.of(0, 1) });
    table.push({ source: 2, chunk: new Int32Array(0) });
    const unseen = new Set([3, 7, 15]);
    const seen = table.map((_, id) => id).filter((id) => !unseen.has(id));
    const train = Array.from({ length: 300 }, () =>
      Int32Array.from({ length: 1 + rng.int(6) }, () => seen[rng.int(seen.length)]),
    );
    return { table, train };
  };

  it('gives brute-force n-best lists with unseen graphones, shared contexts and wide contexts of several letters', () => {
    // Letters 0–2 with 12, 10 and 3 graphones whose chunks overlap across letters (paths of different contexts reach
    // the same output), two of letter 0's and one of letter 1's never in the training pairs: they back off to the
    // root, where one hypothesis reaches the same state by graphones of different chunks (an nBest that merged
    // paths by context and the output before the chunk would join those). Contexts of a few hundred pairs over these
    // graphones have more than 8 children, of all three letters.
    const rng = new Random(11);
    const { table, train } = overlappingTable(rng);
    for (const order of [1, 2, 3, 4]) {
      const model = new JointNgram(order, table, train);
      for (let trial = 0; trial < 8; trial++) {
        const letters = Array.from({ length: 1 + rng.int(3) }, () => rng.int(3));
        assertBruteForceNBest(model, table, letters, `order ${order}, letters ${letters}`);
      }
    }
  });

  it('nBest reused from call to call (its beam arrays kept, any width) answers what a fresh model does', () => {
    const rng = new Random(6);
    const model = new JointNgram(4, graphones, seqs);
    for (let trial = 0; trial < 60; trial++) {
      const letters = Int32Array.from({ length: 1 + rng.int(7) }, () => rng.int(6));
      const width = [1, 2, 16, 300][trial % 4];
      const n = 1 + rng.int(6);
      const fresh = new JointNgram(4, graphones, seqs).nBest(letters, n, width);
      // Bit for bit: the same targets, in the same order, with the same log-probabilities.
      assert.deepEqual(model.nBest(letters, n, width), fresh, `${letters}, width ${width}`);
    }
  });

  it("gives the same n-best lists whether a wide context's runs are sorted by this walk or were by earlier ones", () => {
    // A wide context's children are sorted by letter the first time a walk reaches it: a fresh model per word walks
    // each context first; one model answering every word twice walks most after other words (or itself) sorted them.
    const rng = new Random(12);
    const { table, train } = overlappingTable(rng);
    const words = Array.from({ length: 30 }, () =>
      Int32Array.from({ length: 1 + rng.int(5) }, () => rng.int(3)),
    );
    for (const order of [2, 3, 4]) {
      const model = new JointNgram(order, table, train);
      const first = words.map((letters) => model.nBest(letters, 5, 8));
      const again = words.map((letters) => model.nBest(letters, 5, 8));
      words.forEach((letters, i) => {
        const fresh = new JointNgram(order, table, train).nBest(letters, 5, 8);
        assert.deepEqual(first[i], fresh, `order ${order}, ${letters}: first walk`);
        assert.deepEqual(again[i], fresh, `order ${order}, ${letters}: after every word's`);
      });
    }
  });

  it('learns from aligned pairs: fitJointNgram aligns, then the context rule shows in its proposals', () => {
    const rng = new Random(4);
    // Letter 2 after letter 2 sounds as [2] alone; elsewhere as [2, 3].
    const pairs = Array.from({ length: 2000 }, () => {
      const letters = Array.from({ length: 2 + rng.int(4) }, () => rng.int(4));
      const target = letters.flatMap((l, i) => (l === 2 ? (letters[i - 1] === 2 ? [2] : [2, 3]) : [l]));
      return { source: Int32Array.from(letters), target: Int32Array.from(target) };
    });
    const { model, unaligned } = fitJointNgram(pairs, 4, 4, 3);
    assert.equal(unaligned, 0);
    assert.deepEqual(Array.from(model.nBest(Int32Array.from([1, 2, 2, 0]), 1)[0].target), [1, 2, 3, 2, 0]);
    assert.deepEqual(Array.from(model.nBest(Int32Array.from([2, 0, 2]), 1)[0].target), [2, 3, 0, 2, 3]);
  });

  it('round-trips through its file, and names what is wrong with a bad one (seeded fuzz)', () => {
    const model = new JointNgram(3, graphones, seqs);
    const sourceTokens = ['a', 'b', 'c', 'd', 'e', 'f'];
    const targetTokens = ['P', 'Q', 'R', 'S', 'T'];
    const text = jointNgramToJson({ model, weight: 0.25 }, sourceTokens, targetTokens);
    const back = jointNgramFromJson(text, sourceTokens, targetTokens, 'j.json');
    assert.equal(back.weight, 0.25);
    assert.equal(back.model.order, 3);
    assert.deepEqual(back.model.nextLogProbs([0, 2]), model.nextLogProbs([0, 2]));
    // Tokens the model does not have are named.
    assert.throws(
      () => jointNgramFromJson(text, sourceTokens, ['P', 'Q', 'R', 'S'], 'j.json'),
      (e: Error) =>
        e instanceof InvalidInputError && /j\.json: graphones\.\d+\.1\.\d+: target token "T"/.test(e.message),
    );
    assert.throws(
      () => jointNgramFromJson('{"format":"recur-joint-ngram"}', sourceTokens, targetTokens, 'j.json'),
      (e: Error) => e instanceof InvalidInputError && /^j\.json: version/.test(e.message),
    );
    assert.throws(
      () =>
        jointNgramFromJson(
          text.replace(/"sequences":"[^,]*/, '"sequences":"zz'),
          sourceTokens,
          targetTokens,
          'j.json',
        ),
      (e: Error) => e instanceof InvalidInputError && /sequences: pair 1 names graphone "zz"/.test(e.message),
    );
    // The sequences are read character by character: every malformed id is named whole, in its pair.
    for (const [sequencesField, pair, id] of [
      ['1 -3 2,0', 1, '-3'],
      ['1 2,0  1', 2, ''],
      ['1 2,', 2, ''],
      ['1 2,0 1x', 2, '1x'],
    ] as const) {
      assert.throws(
        () =>
          jointNgramFromJson(
            text.replace(/"sequences":"[^"]*"/, `"sequences":"${sequencesField}"`),
            sourceTokens,
            targetTokens,
            'j.json',
          ),
        (e: Error) =>
          e instanceof InvalidInputError &&
          e.message.includes(`sequences: pair ${pair} names graphone ${JSON.stringify(id)}`),
        sequencesField,
      );
    }
    const rng = new Random(5);
    const alphabet = '{}[]",:0123456789abcz -.ePQ';
    let loaded = 0;
    for (let trial = 0; trial < 300; trial++) {
      const chars = [...text];
      for (let k = 1 + rng.int(3); k > 0; k--) {
        const at = rng.int(chars.length);
        const op = rng.int(3);
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, alphabet[rng.int(alphabet.length)]);
        else chars[at] = alphabet[rng.int(alphabet.length)];
      }
      try {
        const m = jointNgramFromJson(chars.join(''), sourceTokens, targetTokens, 'fuzz.json');
        assert.ok(m.model.nextLogProbs([]).every((l) => Number.isFinite(l)));
        loaded++;
      } catch (e) {
        assert.ok(e instanceof InvalidInputError, `trial ${trial}: ${(e as Error).stack}`);
        assert.match((e as Error).message, /^fuzz\.json: /);
      }
    }
    assert.ok(loaded > 0 && loaded < 300, `${loaded} of 300 mutated files loaded`);
  });
});
