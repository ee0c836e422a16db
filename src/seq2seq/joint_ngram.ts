/**
 * A joint-sequence ("graphone") n-gram model for monotone transduction — pronunciation, transliteration — and the
 * third opinion recur's G2P decoding adds to its encoder–decoders (Bisani & Ney 2008; Rao et al. 2015 combine one
 * with an LSTM for their best CMUdict result).
 *
 * Each source token and the chunk of 0–2 target tokens the EM aligner gives it (aligner.ts) form one graphone:
 *
 *   p h o n e      →   p:F  h:∅  o:OW1  n:N  e:∅
 *
 * A pair is the sequence g_1 … g_S <end> of its graphones, and the model an order-N interpolated modified
 * Kneser–Ney n-gram over them (Chen & Goodman 1998): with h the last N−1 graphones, a(h·w) the count of h·w (raw at
 * the highest order and at the start of a pair, else its number of distinct left neighbours), h′ h without its
 * oldest graphone and D_n(c) the order's discount for count c (1, 2, 3+, from the counts of counts),
 *
 *   p(w | h) = (max(a(h·w) − D(a), 0) + γ(h) · p(w | h′)) / Σ_v a(h·v),    γ(h) = Σ_v D(a(h·v)),
 *
 * down to the uniform distribution over graphones and <end>. A context never seen has its suffix's distribution, so
 * decoding's state is the trie node of the longest seen suffix of the history.
 *
 *   logJoint(s, t)  log Σ_alignments p(g_1 … g_S <end>): the pair's probability over every graphone path that spells
 *                   s and t (a beam of `width` states per source position)
 *   nBest(s, n)     the n targets of highest probability, by beam search over graphones
 *
 * The counts live in a trie of every n-gram up to order N, each node also holding its interpolated log-probability
 * and, as a context, its backoff weight (the ARPA form), so that a query walks the suffix chain and caches nothing:
 * for CMUdict's 119,252 aligned pairs at N = 6, 877,529 nodes of ≈ 30 bytes in typed arrays. A saved model keeps only
 * its graphones and the training sequences, and is rebuilt on load, in linear time (countNgrams): ≈ 0.3–0.5 s of CPU
 * a load, file read to model (BENCHMARKS.md, "The n-gram's trie is built in linear time").
 */

import { z } from 'zod';
import { InvalidInputError } from '../core/errors.js';
import { parseJsonText } from '../core/json_text.js';
import { ChunkAligner } from './aligner.js';

/** One graphone: a source token and the target tokens it emits (possibly none). */
export interface Graphone {
  source: number;
  chunk: Int32Array;
}

export interface AlignedPair {
  source: Int32Array;
  /** One chunk of target tokens per source token. */
  chunks: readonly Int32Array[];
}

export interface Scored {
  target: Int32Array;
  logp: number;
}

/**
 * order: the n-gram's; width: states kept per source position (16 gives the validation words the WER of 32 and 64 in
 * half the time); weight: how much of log p_ngram decoding adds to the encoder–decoders' length-normalised
 * log-probability (all chosen on seed 1's CMUdict validation words, BENCHMARKS.md).
 */
export const JOINT_NGRAM_DEFAULTS = { order: 6, width: 16, weight: 0.3 } as const;

/** The file beside model.json (or ensemble.json) that holds a model's joint n-gram. */
export const JOINT_NGRAM_FILE = 'joint-ngram.json';
/** The `format` a joint n-gram file says it is. */
export const JOINT_NGRAM_FORMAT = 'recur-joint-ngram';

/**
 * Every n-gram of order 1 … N in the pairs (each framed by <start> and <end>) as a trie: nodes numbered by depth,
 * then parent, then token, with their parent, last token, count, depth and suffix (the node of the n-gram without its
 * oldest token; −1 for the root). levelEnd[d] is one past the last node of depth d (levelEnd[0] = 1: the root,
 * node 0).
 *
 * In linear time, with no lookup of an edge: each position's window (the ≤ N tokens from it, ending at its pair's
 * <end>) is sorted by N stable counting passes, and in that order a window's n-grams that its predecessor lacks are
 * new nodes. The order is lexicographic at every depth, so nodes come out numbered as above with no sort of their own.
 * A position is counted once, at its window's node, and the counts summed up the trie; a window's suffix is the next
 * position's window or its parent, and a node's parent's suffix is its suffix's parent.
 */
function countNgrams(
  sequences: readonly Int32Array[],
  N: number,
  BOS: number,
  EOS: number,
  V: number,
): {
  parents: Int32Array;
  tokens: Int32Array;
  raw: Int32Array;
  depth: Uint8Array;
  suffix: Int32Array;
  levelEnd: Int32Array;
} {
  let P = 0;
  for (const seq of sequences) P += seq.length + 2;
  // 16 bits a token when they fit: the sort reads the text at random, and half the bytes miss the cache less.
  const text = V <= 0x10000 ? new Uint16Array(P) : new Int32Array(P);
  let at = 0;
  for (const seq of sequences) {
    text[at] = BOS;
    text.set(seq, at + 1);
    text[at + seq.length + 1] = EOS;
    at += seq.length + 2;
  }
  // Sorted by window: pass k sorts by (first token, the next position's window of k − 1 tokens), stably, reading the
  // positions in the previous pass's order. <end>'s window is itself alone, so the <end>s (whatever follows them)
  // are one bucket in any order; the last one follows no position and is placed first.
  const bucketStart = new Int32Array(V + 1);
  for (let p = 0; p < P; p++) bucketStart[text[p] + 1]++;
  for (let t = 0; t < V; t++) bucketStart[t + 1] += bucketStart[t];
  let order = new Int32Array(P);
  let next = new Int32Array(P);
  for (let p = 0; p < P; p++) order[p] = p;
  const head = new Int32Array(V);
  for (let k = 1; k <= N && P > 0; k++) {
    head.set(bucketStart.subarray(0, V));
    next[head[EOS]++] = P - 1;
    for (let i = 0; i < P; i++) {
      const p = order[i] - 1;
      if (p >= 0) next[head[text[p]]++] = p;
    }
    [order, next] = [next, order];
  }
  // Each window's length and the tokens it shares with the one before it: the depths at which it makes new nodes.
  const windowLength = new Uint8Array(P);
  const shared = new Uint8Array(P);
  const levelEnd = new Int32Array(N + 1);
  for (let i = 0; i < P; i++) {
    const p = order[i];
    let len = 0;
    while (len < N && text[p + len++] !== EOS);
    let same = 0;
    if (i > 0) {
      const q = order[i - 1];
      const most = Math.min(len, windowLength[i - 1]);
      while (same < most && text[p + same] === text[q + same]) same++;
    }
    windowLength[i] = len;
    shared[i] = same;
    for (let d = same + 1; d <= len; d++) levelEnd[d]++;
  }
  levelEnd[0] = 1;
  for (let d = 1; d <= N; d++) levelEnd[d] += levelEnd[d - 1];
  const nodes = levelEnd[N];
  const parents = new Int32Array(nodes);
  const tokens = new Int32Array(nodes);
  const raw = new Int32Array(nodes);
  const depth = new Uint8Array(nodes);
  parents[0] = -1;
  tokens[0] = -1;
  for (let d = 1; d <= N; d++) depth.fill(d, levelEnd[d - 1], levelEnd[d]);
  /** The next node of each depth, and the nodes of the current window's n-grams by depth. */
  const made = levelEnd.slice();
  made.copyWithin(1, 0);
  const current = new Int32Array(N + 1);
  /** The node of each position's window. */
  const windowNode = new Int32Array(P);
  for (let i = 0; i < P; i++) {
    const p = order[i];
    const len = windowLength[i];
    for (let d = shared[i] + 1; d <= len; d++) {
      const n = made[d]++;
      parents[n] = current[d - 1];
      tokens[n] = text[p + d - 1];
      current[d] = n;
    }
    raw[current[len]]++;
    windowNode[p] = current[len];
  }
  for (let n = nodes - 1; n >= levelEnd[1]; n--) raw[parents[n]] += raw[n];
  const suffix = new Int32Array(nodes).fill(-1);
  at = 0;
  for (const seq of sequences) {
    const L = seq.length + 2;
    for (let k = 0; k < L; k++) {
      let n = windowNode[at + k];
      if (suffix[n] >= 0) continue;
      // <end>'s window is itself alone; another's suffix is the next position's window, or its parent when both
      // windows stop at N tokens.
      const after = k === L - 1 ? 0 : windowNode[at + k + 1];
      let s = L - k > N ? parents[after] : after;
      for (; n > 0 && suffix[n] < 0; n = parents[n], s = parents[s]) suffix[n] = s;
    }
    at += L;
  }
  return { parents, tokens, raw, depth, suffix, levelEnd };
}

export class JointNgram {
  readonly graphones: readonly Graphone[];
  /** The training pairs as graphone ids: what a saved model keeps. */
  readonly sequences: readonly Int32Array[];
  /** Graphone ids by source token, ascending. */
  private readonly bySource: Int32Array[] = [];
  /** Each graphone's source token, and its place in bySource[that token]. */
  private readonly sourceOf: Int32Array;
  private readonly optionIndex: Int32Array;
  private readonly EOS: number;
  private readonly BOS: number;
  /** Tokens of the trie: graphones, <end>, <start>. */
  private readonly V: number;
  // The trie (node 0 is the empty context), as decoding reads it; the counts it is computed from are the build's.
  /** The node of the n-gram without its oldest token (−1 for the root). */
  private readonly suffix: Int32Array;
  /**
   * The trie's edges, sorted by parent then token (a node's children are one run, searched by bisection): a lookup
   * touches a few neighbouring entries instead of a hash table of a million. Nodes are numbered in that same order
   * (by depth, then parent, then token), so edge i leads to node i + 1 and childToken[i] is that node's token.
   */
  private readonly childStart: Int32Array;
  private readonly childToken: Int32Array;
  /** The root's child by token (−1: never seen): every walk that ends at the root looks there, so no bisection. */
  private readonly rootChild: Int32Array;
  /**
   * The children of each wide context (more than SCAN_CHILDREN) by source token, so that followAll finds a letter's
   * graphones there in one step instead of scanning all the children or bisecting for each graphone.
   */
  private readonly wide: WideContexts;
  /** Nodes shorter than N, the contexts: nodes are numbered by depth, so the N-grams are the nodes from here on. */
  private readonly contexts: number;
  /** log p(token | parent context) of each node's n-gram, interpolated down to the uniform distribution. */
  private readonly logProbChild: Float64Array;
  /** log of a context's backoff weight γ(h) / Σ_v a(h·v) (0 for a context that has seen nothing). */
  private readonly logBackoff: Float64Array;
  private readonly startNode: number;
  /** Each graphone's chunk as a number (0: empty). */
  private readonly chunkId: Int32Array;

  constructor(
    readonly order: number,
    graphones: readonly Graphone[],
    sequences: readonly Int32Array[],
  ) {
    if (!(Number.isInteger(order) && order >= 1 && order <= 12))
      throw new Error(`JointNgram: order must be an integer from 1 to 12, got ${order}`);
    this.graphones = graphones;
    this.sequences = sequences;
    const G = graphones.length;
    this.EOS = G;
    this.BOS = G + 1;
    this.V = G + 2;
    const bySource: number[][] = [];
    graphones.forEach((g, id) => (bySource[g.source] ??= []).push(id));
    this.bySource = Array.from(bySource, (ids) => Int32Array.from(ids ?? []));
    this.sourceOf = Int32Array.from(graphones, (g) => g.source);
    this.optionIndex = new Int32Array(G);
    let most = 0;
    for (const ids of this.bySource) {
      ids.forEach((g, o) => (this.optionIndex[g] = o));
      most = Math.max(most, ids.length);
    }
    this.followed = { node: new Int32Array(most), logp: new Float64Array(most), stamp: new Int32Array(most) };
    // Distinct chunks numbered from 1 (0: the empty chunk), for nBest's interned outputs.
    const chunkIds = new Map<string, number>([['', 0]]);
    this.chunkId = Int32Array.from(graphones, (g) => {
      const key = g.chunk.join(',');
      let id = chunkIds.get(key);
      if (id === undefined) chunkIds.set(key, (id = chunkIds.size));
      return id;
    });
    const N = order;
    const V = this.V;
    const { parents, tokens, raw, depth, suffix, levelEnd } = countNgrams(
      sequences,
      N,
      this.BOS,
      this.EOS,
      V,
    );
    const nodes = parents.length;
    // Edges in node order: the children of node p are the nodes childStart[p] + 1 … childStart[p + 1].
    this.childStart = new Int32Array(nodes + 1);
    for (let n = 1; n < nodes; n++) this.childStart[parents[n] + 1]++;
    for (let n = 0; n < nodes; n++) this.childStart[n + 1] += this.childStart[n];
    this.childToken = tokens.subarray(1);
    this.rootChild = new Int32Array(V).fill(-1);
    for (let e = this.childStart[0]; e < this.childStart[1]; e++) this.rootChild[this.childToken[e]] = e + 1;
    this.suffix = suffix;
    const startsWithBos = new Uint8Array(nodes);
    // A parent is always made before its children, so one pass in node order sees each parent's first.
    for (let n = 1; n < nodes; n++) {
      const p = parents[n];
      startsWithBos[n] = p === 0 ? Number(tokens[n] === this.BOS) : startsWithBos[p];
    }
    // Kneser–Ney counts: raw at the highest order and for n-grams that start a pair (nothing to their left), else
    // the number of distinct tokens seen to their left.
    const leftNeighbours = new Int32Array(nodes);
    for (let n = 1; n < nodes; n++) if (depth[n] >= 2) leftNeighbours[this.suffix[n]]++;
    const adjusted = new Int32Array(nodes);
    for (let n = 1; n < nodes; n++)
      adjusted[n] = depth[n] === N || startsWithBos[n] ? raw[n] : leftNeighbours[n];
    // Discounts per order from the counts of counts (<start> is never predicted, so never counted).
    const countsOfCounts = new Float64Array((N + 1) * 5);
    for (let n = 1; n < nodes; n++) {
      if (tokens[n] === this.BOS) continue;
      const a = adjusted[n];
      if (a <= 4) countsOfCounts[depth[n] * 5 + a]++;
    }
    const discount = new Float64Array((N + 1) * 4);
    for (let d = 1; d <= N; d++) {
      const n = (c: number): number => countsOfCounts[d * 5 + c];
      const Y = n(1) + 2 * n(2) > 0 ? n(1) / (n(1) + 2 * n(2)) : 0.5;
      const D = (c: number): number =>
        n(c) > 0 ? Math.min(c, Math.max(0, c - ((c + 1) * Y * n(c + 1)) / n(c))) : Y;
      discount[d * 4 + 1] = D(1);
      discount[d * 4 + 2] = D(2);
      discount[d * 4 + 3] = D(3);
    }
    // Only a node shorter than N is a context (and a suffix).
    const contexts = (this.contexts = levelEnd[N - 1]);
    const total = new Float64Array(contexts);
    const gamma = new Float64Array(contexts);
    for (let n = 1; n < nodes; n++) {
      if (tokens[n] === this.BOS) continue;
      const a = adjusted[n];
      const p = parents[n];
      total[p] += a;
      gamma[p] += discount[depth[n] * 4 + Math.min(a, 3)];
    }
    this.startNode = this.child(0, this.BOS);
    // The backoff form, orders in increasing depth so that every lower probability is ready when a node needs it.
    this.logBackoff = new Float64Array(nodes); // a loop: Float64Array.from with a callback took half a load's time
    for (let n = 0; n < contexts; n++) if (total[n] > 0) this.logBackoff[n] = Math.log(gamma[n] / total[n]);
    this.logProbChild = new Float64Array(nodes);
    /** exp(logProbChild) of each node that is a suffix: once, not once for each node it is the suffix of. */
    const lowerProb = new Float64Array(contexts);
    for (let d = 1; d <= N; d++)
      for (let n = levelEnd[d - 1]; n < levelEnd[d]; n++) {
        if (tokens[n] === this.BOS) continue;
        const c = parents[n];
        const a = adjusted[n];
        // p(w | h′): the node of h′·w is this node's suffix (counted, as every suffix of a counted n-gram is), so no
        // walk: logProb(suffix[c], w) would find it first.
        const lower = c === 0 ? 1 / (this.V - 1) : lowerProb[this.suffix[n]];
        const D = discount[d * 4 + Math.min(a, 3)];
        this.logProbChild[n] = Math.log((Math.max(a - D, 0) + gamma[c] * lower) / total[c]);
        if (leftNeighbours[n] > 0) lowerProb[n] = Math.exp(this.logProbChild[n]);
      }
    this.wide = new WideContexts(
      {
        childStart: this.childStart,
        childToken: this.childToken,
        sourceOf: this.sourceOf,
        optionIndex: this.optionIndex,
        bySource: this.bySource,
        logProbChild: this.logProbChild,
        stateAt: (child) => this.stateAt(child),
      },
      contexts,
    );
  }

  /** Aligned pairs → graphones (numbered as first met) and the model. */
  static fit(aligned: readonly AlignedPair[], order: number = JOINT_NGRAM_DEFAULTS.order): JointNgram {
    const ids = new Map<string, number>();
    const graphones: Graphone[] = [];
    const sequences = aligned.map((a) =>
      Int32Array.from(a.source, (s, i) => {
        const key = `${s}|${a.chunks[i].join(',')}`;
        let id = ids.get(key);
        if (id === undefined) {
          id = graphones.push({ source: s, chunk: Int32Array.from(a.chunks[i]) }) - 1;
          ids.set(key, id);
        }
        return id;
      }),
    );
    return new JointNgram(order, graphones, sequences);
  }

  /** Nodes of the trie (n-grams of every order up to N, and the root). */
  get size(): number {
    return this.suffix.length;
  }

  /**
   * log p(w | context node), in the backoff form the build precomputed: the first context on the suffix chain that
   * has seen w gives its interpolated probability, each one before it its backoff weight γ(h) / Σ_v a(h·v).
   */
  private logProb(node: number, w: number): number {
    let acc = 0;
    for (let c = node; c >= 0; c = this.suffix[c]) {
      const child = this.child(c, w);
      if (child >= 0) return acc + this.logProbChild[child];
      acc += this.logBackoff[c];
    }
    return acc - Math.log(this.V - 1); // uniform over graphones and <end>
  }

  /** The child of `node` by token `w`, or −1. */
  private child(node: number, w: number): number {
    if (node === 0) return this.rootChild[w];
    let lo = this.childStart[node];
    let hi = this.childStart[node + 1];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const t = this.childToken[mid];
      if (t === w) return mid + 1;
      if (t < w) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  // nBest's lookup tables, kept from call to call (emptied in O(1)), and its beam's arrays.
  private readonly outputTable = new PairTable();
  private readonly mergeTable = new PairTable();
  private readonly beamScratch = new BeamScratch();
  // logJoint's, apart from nBest's.
  private readonly jointTable = new PairTable();
  private readonly jointScratch = new BeamScratch();

  /**
   * Decoding's state after reaching trie node `child`: the node itself, or at the highest order (no context) its
   * suffix. A comparison, not a table of every node's state (3.5 MB on the default G2P model).
   */
  private stateAt(child: number): number {
    return child < this.contexts ? child : this.suffix[child];
  }

  /** log p(w | node) of the last `follow` call. */
  private followedLogProb = 0;

  /**
   * The context after `w` follows context `node` — the node of the longest seen suffix of node·w — with log p(w | node)
   * left in followedLogProb: one walk down the suffix chain, to the first context that has seen w.
   */
  private follow(node: number, w: number): number {
    let acc = 0;
    for (let c = node; c >= 0; c = this.suffix[c]) {
      const child = this.child(c, w);
      if (child >= 0) {
        this.followedLogProb = acc + this.logProbChild[child];
        return this.stateAt(child);
      }
      acc += this.logBackoff[c];
    }
    this.followedLogProb = acc - Math.log(this.V - 1);
    return 0;
  }

  /** followAll's results by option (node, log p), and which options a walk has resolved (stamped). */
  private readonly followed: { node: Int32Array; logp: Float64Array; stamp: Int32Array };
  private followGeneration = 0;

  /**
   * follow(node, g) for every graphone g of source token `token` (options: bySource[token]) at once, into
   * this.followed by option: one walk down the suffix chain for all of them. At each context the token's graphones
   * are found without a search: a short context (one to a few children) is scanned; a wide one has them as one run
   * (this.wide, sorted by letter the first time a walk reaches it); the root, where every walk with a graphone left
   * ends, is a table by token. Each graphone resolves at the first context that has seen it, as in follow, so the
   * numbers are follow's to the bit.
   */
  private followAll(node: number, token: number, options: Int32Array): void {
    const { node: nextNode, logp: nextLogp, stamp: resolved } = this.followed;
    if (this.followGeneration === 0x7fffffff) {
      resolved.fill(0);
      this.followGeneration = 0;
    }
    const stamp = ++this.followGeneration;
    const O = options.length;
    const { childStart, childToken, sourceOf, optionIndex, logProbChild, suffix, contexts } = this;
    const wide = this.wide;
    const { row, runStart, option, logp, state } = wide;
    const runs = this.bySource.length + 1;
    let left = O;
    let acc = 0;
    for (let c = node; c > 0 && left > 0; c = this.suffix[c]) {
      const v = row[c];
      if (v === 0) {
        // A short context: all its children.
        for (let e = childStart[c]; e < childStart[c + 1]; e++) {
          const t = childToken[e];
          if (t >= this.EOS || sourceOf[t] !== token) continue;
          const o = optionIndex[t];
          if (resolved[o] === stamp) continue;
          resolved[o] = stamp;
          left--;
          nextLogp[o] = acc + logProbChild[e + 1];
          nextNode[o] = e + 1 < contexts ? e + 1 : suffix[e + 1]; // stateAt, inline in the scan
        }
      } else {
        // A wide one: its children of this source token, their numbers side by side.
        const r = v > 0 ? v - 1 : wide.fill(c);
        for (let i = runStart[r * runs + token]; i < runStart[r * runs + token + 1]; i++) {
          const o = option[i];
          if (resolved[o] === stamp) continue;
          resolved[o] = stamp;
          left--;
          nextLogp[o] = acc + logp[i];
          nextNode[o] = state[i];
        }
      }
      acc += this.logBackoff[c];
    }
    if (left > 0) {
      // The root (node 0 itself, or the end of the chain: only the root has no suffix).
      for (let o = 0; o < O; o++) {
        if (resolved[o] === stamp) continue;
        const child = this.rootChild[options[o]];
        if (child < 0) {
          nextLogp[o] = acc + this.logBackoff[0] - Math.log(this.V - 1);
          nextNode[o] = 0;
        } else {
          nextLogp[o] = acc + this.logProbChild[child];
          nextNode[o] = this.stateAt(child);
        }
      }
    }
  }

  /**
   * log p(w | <start> history) for every outcome w: the graphones by id, then <end> (the last entry). For tests and
   * inspection; decoding reads the same numbers through the trie's states.
   */
  nextLogProbs(history: readonly number[]): Float64Array {
    let node = this.startNode;
    for (const g of history) {
      if (!(Number.isInteger(g) && g >= 0 && g < this.EOS))
        throw new Error(`JointNgram: history holds ${g}, not a graphone id below ${this.EOS}`);
      node = this.follow(node, g);
    }
    return Float64Array.from({ length: this.EOS + 1 }, (_, w) => this.logProb(node, w));
  }

  /**
   * The steps of a constrained search (logJoint, bestPath) from `state` — context node × (T + 1) + target tokens
   * consumed — by each graphone of `options` whose chunk continues `target`: visit(next state, log p(g | node), g).
   */
  private spellings(
    state: number,
    options: Int32Array,
    target: Int32Array,
    visit: (key: number, logp: number, g: number) => void,
  ): void {
    const T = target.length;
    const node = Math.floor(state / (T + 1));
    const j = state % (T + 1);
    for (const g of options) {
      const chunk = this.graphones[g].chunk;
      if (j + chunk.length > T) continue;
      let spells = true;
      for (let k = 0; k < chunk.length; k++) if (chunk[k] !== target[j + k]) spells = false;
      if (!spells) continue;
      const next = this.follow(node, g);
      visit(next * (T + 1) + j + chunk.length, this.followedLogProb, g);
    }
  }

  /**
   * log Σ p(g_1 … g_S <end>) over the graphone paths that spell `source` as `target` (the `width` most probable
   * states kept per source position), or −Infinity when none does.
   */
  logJoint(source: Int32Array, target: Int32Array, width: number = JOINT_NGRAM_DEFAULTS.width): number {
    const T = target.length;
    // States (context node, target tokens consumed) with their log-probability summed over the paths reaching them,
    // as columns in scratch arrays kept from call to call (as nBest's), in the order they are first reached.
    const scratch = this.jointScratch;
    let { nodes, outs: consumed, lps } = scratch.beamOf(1);
    nodes[0] = this.startNode;
    consumed[0] = 0;
    lps[0] = 0;
    let H = 1;
    const merge = this.jointTable;
    for (let i = 0; i < source.length; i++) {
      const options = this.bySource[source[i]] ?? EMPTY_OPTIONS;
      const most = H * options.length;
      const { nodes: nextNodes, outs: nextConsumed, lps: nextLps } = scratch.expansions(most);
      merge.reset(most);
      let m = 0;
      for (let h = 0; h < H; h++) {
        const j = consumed[h];
        for (let o = 0; o < options.length; o++) {
          const g = options[o];
          const chunk = this.graphones[g].chunk;
          if (j + chunk.length > T) continue;
          let spells = true;
          for (let k = 0; k < chunk.length && spells; k++) spells = chunk[k] === target[j + k];
          if (!spells) continue;
          const node = this.follow(nodes[h], g);
          const lp = lps[h] + this.followedLogProb;
          const at = j + chunk.length;
          const k = merge.lookup(node, at, m);
          if (k < m) nextLps[k] = logAdd(nextLps[k], lp);
          else {
            nextNodes[m] = node;
            nextConsumed[m] = at;
            nextLps[m] = lp;
            m++;
          }
        }
      }
      // The `width` most probable, best first; all of them, in order, when there are no more.
      const cut = m > width;
      const kept = cut ? scratch.keptOf(width) : EMPTY_OPTIONS;
      H = cut ? keepTop(nextLps, m, width, kept) : m;
      ({ nodes, outs: consumed, lps } = scratch.beamOf(H));
      for (let h = 0; h < H; h++) {
        const k = cut ? kept[h] : h;
        nodes[h] = nextNodes[k];
        consumed[h] = nextConsumed[k];
        lps[h] = nextLps[k];
      }
    }
    let total = -Infinity;
    for (let h = 0; h < H; h++)
      if (consumed[h] === T) total = logAdd(total, lps[h] + this.logProb(nodes[h], this.EOS));
    return total;
  }

  /**
   * The most probable graphone path that spells `source` as `target` under this model (the `width` best states kept
   * per source position): one chunk of target tokens per source token, or null when the beam holds no such path.
   */
  bestPath(
    source: Int32Array,
    target: Int32Array,
    width: number = JOINT_NGRAM_DEFAULTS.width,
  ): Int32Array[] | null {
    const T = target.length;
    // Per position: states (context node, tokens consumed) with their best log-probability and how they were reached.
    type Step = { lp: number; prev: number; g: number };
    const layers: Map<number, Step>[] = [new Map([[this.startNode * (T + 1), { lp: 0, prev: -1, g: -1 }]])];
    for (let i = 0; i < source.length; i++) {
      const next = new Map<number, Step>();
      const options = this.bySource[source[i]] ?? new Int32Array(0);
      for (const [state, { lp }] of layers[i])
        this.spellings(state, options, target, (key, logp, g) => {
          const v = lp + logp;
          const old = next.get(key);
          if (old === undefined || v > old.lp) next.set(key, { lp: v, prev: state, g });
        });
      if (next.size > width) {
        const kept = [...next].sort((a, b) => b[1].lp - a[1].lp).slice(0, width);
        layers.push(new Map(kept));
      } else layers.push(next);
    }
    let best = -1;
    let bestLp = -Infinity;
    for (const [state, { lp }] of layers[source.length])
      if (state % (T + 1) === T) {
        const v = lp + this.logProb(Math.floor(state / (T + 1)), this.EOS);
        if (v > bestLp) [best, bestLp] = [state, v];
      }
    if (best < 0) return null;
    const chunks = new Array<Int32Array>(source.length);
    for (let i = source.length, state = best; i > 0; i--) {
      const step = layers[i].get(state) as Step;
      chunks[i - 1] = this.graphones[step.g].chunk;
      state = step.prev;
    }
    return chunks;
  }

  /**
   * The `n` most probable targets of `source`, best first, each with log p(source, target) summed over the paths the
   * beam (`width` hypotheses per source position) kept; fewer when the beam holds fewer distinct targets.
   */
  nBest(source: Int32Array, n: number, width: number = JOINT_NGRAM_DEFAULTS.width): Scored[] {
    // Outputs so far are interned as ids (0: empty; one more chunk makes a child id), so that paths with the same
    // context and output merge on a number: their probabilities add. Both lookups — an output's child by chunk, and a
    // step's hypothesis by (context, output) — are open-addressing tables on typed arrays: this loop runs for every
    // hypothesis and graphone of a letter, where Maps keyed by doubles took a third of its time.
    const outputs = this.outputTable;
    outputs.reset(4 * source.length * width);
    const parentOut = [-1];
    const lastChunk = [-1];
    /** The id of output `out` followed by graphone g's chunk. */
    const extend = (out: number, g: number): number => {
      const chunk = this.chunkId[g];
      if (chunk === 0) return out;
      const id = outputs.lookup(out, chunk, parentOut.length);
      if (id === parentOut.length) {
        if (id === OUT_IDS) throw new Error('JointNgram.nBest: too many distinct outputs for one source');
        parentOut.push(out);
        lastChunk.push(g);
      }
      return id;
    };
    // The beam (H hypotheses) and a step's expansions (m) live in scratch arrays kept from call to call: this runs
    // for every letter of every word, and typed arrays allocated per letter kept the garbage collector busy.
    const scratch = this.beamScratch;
    let { nodes, outs, lps } = scratch.beam;
    let H = 1;
    nodes[0] = this.startNode;
    outs[0] = 0;
    lps[0] = 0;
    const merge = this.mergeTable;
    for (let i = 0; i < source.length; i++) {
      const options = this.bySource[source[i]] ?? EMPTY_OPTIONS;
      const most = H * options.length;
      const {
        nodes: nextNodes,
        outs: nextOuts,
        lps: nextLps,
        pending: nextPending,
      } = scratch.expansions(most);
      let m = 0;
      merge.reset(most);
      const followed = this.followed;
      for (let h = 0; h < H; h++) {
        this.followAll(nodes[h], source[i], options);
        for (let o = 0; o < options.length; o++) {
          const g = options[o];
          const node = followed.node[o];
          const lp = lps[h] + followed.logp[o];
          // A context other than the root ends in its graphone, so it has one chunk: paths merge on (context, output
          // before the chunk) exactly when they would on (context, output after it), and the output is extended only
          // for the expansions the beam keeps. At the root (an unseen graphone, or order 1) it is extended here.
          let out = outs[h];
          let pending = g;
          if (node === 0) {
            out = extend(out, g);
            pending = -1;
          }
          const k = merge.lookup(node, out, m);
          if (k < m) nextLps[k] = logAdd(nextLps[k], lp);
          else {
            nextNodes[m] = node;
            nextOuts[m] = out;
            nextPending[m] = pending;
            nextLps[m] = lp;
            m++;
          }
        }
      }
      const k = Math.min(width, m);
      const kept = scratch.keptOf(k);
      H = keepTop(nextLps, m, k, kept);
      ({ nodes, outs, lps } = scratch.beamOf(H));
      for (let h = 0; h < H; h++) {
        const k = kept[h];
        nodes[h] = nextNodes[k];
        outs[h] = nextPending[k] < 0 ? nextOuts[k] : extend(nextOuts[k], nextPending[k]);
        lps[h] = nextLps[k];
      }
    }
    const byTarget = new Map<number, number>();
    for (let h = 0; h < H; h++) {
      const lp = lps[h] + this.logProb(nodes[h], this.EOS);
      const old = byTarget.get(outs[h]);
      byTarget.set(outs[h], old === undefined ? lp : logAdd(old, lp));
    }
    const tokens = (out: number): Int32Array => {
      const chunks: Int32Array[] = [];
      for (let o = out; o > 0; o = parentOut[o]) chunks.push(this.graphones[lastChunk[o]].chunk);
      return Int32Array.from(chunks.reverse().flatMap((c) => Array.from(c)));
    };
    return [...byTarget]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([out, logp]) => ({ target: tokens(out), logp }));
  }
}

/** The most children a context may have for followAll to scan them all (a wider one has its children by source). */
const SCAN_CHILDREN = 8;

/**
 * The children of the contexts with more than SCAN_CHILDREN, by source token, as followAll reads them. The layout is
 * fixed at load (a pass over the contexts' child counts) but a row's runs are filled the first time a walk reaches
 * its context: a load pays for no runs, and a run of a few words for the few contexts it walks (the arrays are zeroed
 * memory, untouched until filled). Context c's row is row[c] − 1 once filled, −1 − row[c] before (0: not wide), so a
 * walk reads one number to know both; its children with source token s are entries runStart[row × (sources + 1) + s]
 * … runStart[row × (sources + 1) + s + 1] − 1, each with its graphone's place among the source token's (option), its
 * log-probability and the state it leads to (<end> and <start>, never a letter's, are left out).
 */
class WideContexts {
  readonly row: Int32Array;
  readonly runStart: Int32Array;
  readonly option: Int32Array;
  readonly logp: Float64Array;
  readonly state: Int32Array;
  /** Where each row's entries start. */
  private readonly rowAt: Int32Array;
  private readonly sources: number;
  /** The counting sort's next place by source, one array reused for every row. */
  private readonly next: Int32Array;

  constructor(
    private readonly trie: {
      childStart: Int32Array;
      childToken: Int32Array;
      sourceOf: Int32Array;
      optionIndex: Int32Array;
      bySource: readonly Int32Array[];
      logProbChild: Float64Array;
      /** Decoding's state after reaching a node (JointNgram.stateAt). */
      stateAt: (child: number) => number;
    },
    contexts: number,
  ) {
    const { childStart } = trie;
    this.sources = trie.bySource.length;
    this.row = new Int32Array(contexts);
    const rowAt: number[] = [];
    let size = 0;
    for (let c = 0; c < contexts; c++)
      if (childStart[c + 1] - childStart[c] > SCAN_CHILDREN) {
        this.row[c] = -rowAt.push(size);
        size += childStart[c + 1] - childStart[c];
      }
    this.rowAt = Int32Array.from(rowAt);
    this.runStart = new Int32Array(rowAt.length * (this.sources + 1));
    this.option = new Int32Array(size);
    this.logp = new Float64Array(size);
    this.state = new Int32Array(size);
    this.next = new Int32Array(this.sources);
  }

  /**
   * Fills the runs of wide context c, which no walk has reached before, and returns its row: a counting sort of its
   * children by source (counts, then starts, then the children in token order).
   */
  fill(c: number): number {
    const r = -1 - this.row[c];
    const { childStart, childToken, sourceOf, optionIndex, logProbChild, stateAt } = this.trie;
    const { runStart, next, sources } = this;
    const G = sourceOf.length;
    const base = r * (sources + 1);
    next.fill(0);
    for (let e = childStart[c]; e < childStart[c + 1]; e++)
      if (childToken[e] < G) next[sourceOf[childToken[e]]]++;
    let at = this.rowAt[r];
    for (let s = 0; s < sources; s++) {
      runStart[base + s] = at;
      at += next[s];
      next[s] = runStart[base + s];
    }
    runStart[base + sources] = at;
    for (let e = childStart[c]; e < childStart[c + 1]; e++) {
      const t = childToken[e];
      if (t >= G) continue;
      const i = next[sourceOf[t]]++;
      this.option[i] = optionIndex[t];
      this.logp[i] = logProbChild[e + 1];
      this.state[i] = stateAt(e + 1);
    }
    this.row[c] = r + 1;
    return r;
  }
}

/** No graphone for a source token. */
const EMPTY_OPTIONS = new Int32Array(0);

/**
 * Hypotheses as (context node, output id, log-probability) columns; an expansion also has the graphone whose chunk
 * its output still lacks (−1: none).
 */
interface BeamColumns {
  nodes: Int32Array;
  outs: Int32Array;
  pending: Int32Array;
  lps: Float64Array;
}

function beamColumns(size: number): BeamColumns {
  return {
    nodes: new Int32Array(size),
    outs: new Int32Array(size),
    pending: new Int32Array(size),
    lps: new Float64Array(size),
  };
}

/** nBest's beam and a step's expansions, grown by doubling and reused (a call reads them only while it runs). */
class BeamScratch {
  beam = beamColumns(16);
  private next = beamColumns(256);

  /** Room for a beam of `size` (the contents may be dropped: called before the beam is written). */
  beamOf(size: number): BeamColumns {
    if (size > this.beam.nodes.length) this.beam = beamColumns(Math.max(size, 2 * this.beam.nodes.length));
    return this.beam;
  }

  private kept = new Int32Array(16);

  /** Room for the indices of `size` kept expansions. */
  keptOf(size: number): Int32Array {
    if (size > this.kept.length) this.kept = new Int32Array(Math.max(size, 2 * this.kept.length));
    return this.kept;
  }

  /** Room for `size` expansions, apart from the beam's arrays. */
  expansions(size: number): BeamColumns {
    if (size > this.next.nodes.length) this.next = beamColumns(Math.max(size, 2 * this.next.nodes.length));
    return this.next;
  }
}

/**
 * A map from pairs of int32s to the ids given them in order of arrival, by open addressing on typed arrays (linear
 * probing, at most half full, grown by doubling). A slot is live only when stamped with the current generation, so
 * emptying the table is one increment: nBest empties its tables for every word and letter.
 */
class PairTable {
  private keyA = new Int32Array(0);
  private keyB = new Int32Array(0);
  private ids = new Int32Array(0);
  private stamps = new Int32Array(0);
  private generation = 0;
  private count = 0;

  /** Empties the table, making room for `entries` first. */
  reset(entries: number): void {
    const size = Math.max(1024, 1 << Math.ceil(Math.log2(2 * entries + 1)));
    if (size > this.ids.length || this.generation === 0x7fffffff)
      this.allocate(Math.max(size, this.ids.length));
    this.generation++;
    this.count = 0;
  }

  /** The id of (a, b); when the pair is new it is given `fresh` (which the caller must then use). */
  lookup(a: number, b: number, fresh: number): number {
    if (2 * (this.count + 1) > this.ids.length) this.grow();
    const mask = this.ids.length - 1;
    let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0;
    slot = (slot ^ (slot >>> 15)) & mask;
    for (;;) {
      if (this.stamps[slot] !== this.generation) {
        this.stamps[slot] = this.generation;
        this.keyA[slot] = a;
        this.keyB[slot] = b;
        this.ids[slot] = fresh;
        this.count++;
        return fresh;
      }
      if (this.keyA[slot] === a && this.keyB[slot] === b) return this.ids[slot];
      slot = (slot + 1) & mask;
    }
  }

  private allocate(size: number): void {
    this.keyA = new Int32Array(size);
    this.keyB = new Int32Array(size);
    this.ids = new Int32Array(size);
    this.stamps = new Int32Array(size);
    this.generation = 0;
  }

  private grow(): void {
    const { keyA, keyB, ids, stamps, generation } = this;
    this.allocate(2 * ids.length);
    this.generation = 1;
    this.count = 0;
    for (let s = 0; s < ids.length; s++) if (stamps[s] === generation) this.lookup(keyA[s], keyB[s], ids[s]);
  }
}

/** A guard on the outputs nBest numbers for one source (≤ its length × width × graphones of a letter: far fewer). */
const OUT_IDS = 1 << 21;

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/**
 * The indices of the `k` largest values, largest first, ties in index order: what a stable sort by value, descending,
 * cut to k gives, without sorting the hundreds of expansions a beam step makes to keep a few.
 */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const kept = new Int32Array(Math.max(0, Math.min(k, values.length)));
  return Array.from(kept.subarray(0, keepTop(values, values.length, kept.length, kept)));
}

/** topIndices of values[0 … count − 1] into `kept` (room for k), in place: how many it kept. */
function keepTop(values: ArrayLike<number>, count: number, k: number, kept: Int32Array): number {
  let n = 0;
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (n === k && !(v > values[kept[k - 1]])) continue;
    // After every kept value ≥ v (an equal value found earlier stays ahead); when full, the last one drops out.
    let at = n < k ? n++ : k - 1;
    for (; at > 0 && values[kept[at - 1]] < v; at--) kept[at] = kept[at - 1];
    kept[at] = i;
  }
  return n;
}

/** A joint n-gram and the weight decoding gives it. */
export interface WeightedJointNgram {
  model: JointNgram;
  weight: number;
}

export interface FittedJointNgram {
  model: JointNgram;
  /** Pairs the aligner could not segment (more than 2 target tokens per source token), left out. */
  unaligned: number;
}

/** Aligns the pairs (aligner.ts, EM) and fits the n-gram on their graphones. */
export function fitJointNgram(
  pairs: readonly { source: Int32Array; target: Int32Array }[],
  sourceVocab: number,
  targetVocab: number,
  order: number = JOINT_NGRAM_DEFAULTS.order,
): FittedJointNgram {
  const aligner = ChunkAligner.fit(pairs, sourceVocab, targetVocab);
  const aligned: AlignedPair[] = [];
  for (const p of pairs) {
    const chunks = aligner.align(p.source, p.target);
    if (chunks) aligned.push({ source: p.source, chunks });
  }
  return { model: JointNgram.fit(aligned, order), unaligned: pairs.length - aligned.length };
}

const JointNgramFileSchema = z.strictObject({
  format: z.literal(JOINT_NGRAM_FORMAT),
  version: z.literal(1),
  order: z.number().int().min(1).max(12),
  weight: z.number().min(0).max(100),
  /** [source token, [target tokens]] per graphone, numbered from 0. */
  graphones: z.array(z.tuple([z.string(), z.array(z.string()).max(8)])).min(1),
  /** The training pairs: graphone ids in base 36, separated by spaces; pairs separated by commas. */
  sequences: z.string(),
});

/** The JSON text of a joint n-gram file, its graphones named by the tokenizers' tokens. */
export function jointNgramToJson(
  m: WeightedJointNgram,
  sourceTokens: readonly string[],
  targetTokens: readonly string[],
): string {
  return JSON.stringify({
    format: JOINT_NGRAM_FORMAT,
    version: 1,
    order: m.model.order,
    weight: m.weight,
    graphones: m.model.graphones.map((g) => [
      sourceTokens[g.source],
      Array.from(g.chunk, (t) => targetTokens[t]),
    ]),
    sequences: m.model.sequences.map((s) => Array.from(s, (g) => g.toString(36)).join(' ')).join(','),
  });
}

type JointNgramFile = z.infer<typeof JointNgramFileSchema>;

/** A joint n-gram file's JSON, checked against its schema (an InvalidInputError naming `where` and the field). */
function parseJointNgramFile(text: string, where: string): JointNgramFile {
  const raw = parseJsonText(text, where);
  const parsed = JointNgramFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidInputError(`${where}: ${issue.path.join('.') || 'the file'}: ${issue.message}`);
  }
  return parsed.data;
}

/** A joint n-gram file's order and weight, checked, without building the model (what a table reports). */
export function jointNgramHeader(text: string, where: string): { order: number; weight: number } {
  const f = parseJointNgramFile(text, where);
  return { order: f.order, weight: f.weight };
}

/**
 * Reads a joint n-gram file written for a model with these tokens; anything wrong is an InvalidInputError naming
 * `where` and the field.
 */
/**
 * The file's `sequences` — pairs split by ",", graphone ids in base 36 split by " " — read in one pass over the
 * characters (a split and a parse per id took a sixth of a load).
 */
function parseSequences(text: string, graphoneCount: number, where: string): Int32Array[] {
  const out: Int32Array[] = [];
  if (text === '') return out;
  // Every pair a view of one array of the ids (one per separator and one more): no array per pair to copy.
  let separators = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 44) separators++;
  }
  const ids = new Int32Array(separators + 1);
  let count = 0;
  let pairStart = 0;
  let id = 0;
  let digits = 0;
  const bad = (from: number): never => {
    const to = text.slice(from).search(/[ ,]/);
    const g = text.slice(from, to < 0 ? undefined : from + to);
    throw new InvalidInputError(
      `${where}: sequences: pair ${out.length + 1} names graphone ${JSON.stringify(g)}; expected base-36 ids below ${graphoneCount}`,
    );
  };
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 44; // a final ","
    if (c === 32 || c === 44) {
      if (digits === 0 || id >= graphoneCount) bad(i - digits);
      ids[count++] = id;
      id = 0;
      digits = 0;
      if (c === 44) {
        out.push(ids.subarray(pairStart, count));
        pairStart = count;
      }
      continue;
    }
    const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 122 ? c - 87 : -1;
    if (v < 0) {
      // Point at the whole id, from its first character.
      let from = i;
      while (from > 0 && text.charCodeAt(from - 1) !== 32 && text.charCodeAt(from - 1) !== 44) from--;
      bad(from);
    }
    id = id * 36 + v;
    digits++;
  }
  return out;
}

export function jointNgramFromJson(
  text: string,
  sourceTokens: readonly string[],
  targetTokens: readonly string[],
  where: string,
): WeightedJointNgram {
  const f = parseJointNgramFile(text, where);
  const sourceIds = new Map(sourceTokens.map((t, i) => [t, i]));
  const targetIds = new Map(targetTokens.map((t, i) => [t, i]));
  const graphones = f.graphones.map(([s, chunk], i): Graphone => {
    const source = sourceIds.get(s);
    if (source === undefined)
      throw new InvalidInputError(
        `${where}: graphones.${i}: source token ${JSON.stringify(s)} is not the model's`,
      );
    return {
      source,
      chunk: Int32Array.from(chunk, (t, k) => {
        const id = targetIds.get(t);
        if (id === undefined)
          throw new InvalidInputError(
            `${where}: graphones.${i}.1.${k}: target token ${JSON.stringify(t)} is not the model's`,
          );
        return id;
      }),
    };
  });
  const decoded = parseSequences(f.sequences, graphones.length, where);
  if (decoded.length === 0) throw new InvalidInputError(`${where}: sequences: no training pairs`);
  return { model: new JointNgram(f.order, graphones, decoded), weight: f.weight };
}
