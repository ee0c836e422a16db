/**
 * Sequence pairs: parsing them from text (TSV: source<TAB>target, extra columns ignored), the CMU Pronouncing
 * Dictionary as grapheme-to-phoneme pairs, grouping repeated sources into accepted alternatives, and splitting by
 * source with a seed so that no source is in two splits. Pure text in, objects out: the file reading is src/node's.
 */
import { InvalidInputError } from '../core/errors.js';
import { Random } from '../core/random.js';

export interface Pair {
  source: string;
  target: string;
  /** 1-based line (or row) it came from, for messages. */
  line: number;
}

/** A source with every target accepted for it (several when the data lists the source more than once). */
export interface Example {
  source: string;
  targets: string[];
}

export interface PairLimits {
  /** Longest source and target, in what sourceLength / targetLength count; longer ones are bad lines. */
  maxSourceLength?: number;
  maxTargetLength?: number;
  /** Counts a side's length (default: characters). */
  sourceLength?: (s: string) => number;
  targetLength?: (s: string) => number;
  /** What the lengths count, for messages (default 'tokens'; 'words' in the word modes). */
  sourceUnit?: string;
  targetUnit?: string;
  /**
   * Most characters of one whitespace-separated word of a side whose length counts words (settings.maxWordLength):
   * else a text without spaces is one word of any length. Undefined: no bound.
   */
  maxSourceWordLength?: number;
  maxTargetWordLength?: number;
  /** A decoder's own reason to refuse a source (a pair scored against a model: Seq2Seq.lengthProblem), or null. */
  sourceProblem?: (source: string) => string | null;
}

export interface ParseOptions extends PairLimits {
  /** Skip bad lines (counting them) instead of stopping at the first. */
  skipBad?: boolean;
}

export interface ParsedPairs {
  pairs: Pair[];
  /** Bad lines skipped with skipBad: line number and why. */
  skipped: { line: number; reason: string }[];
}

/** Why a pair is bad (empty side, too long), or null when it is fine. */
export function pairProblem(source: string, target: string, limits: PairLimits): string | null {
  if (source.trim() === '') return 'the source is empty';
  if (target.trim() === '') return 'the target is empty';
  const refused = limits.sourceProblem?.(source) ?? null;
  if (refused !== null) return `the source ${refused}`;
  const sw = longWordProblem(source, limits.maxSourceWordLength, 'the limit');
  const hint = (side: string): string =>
    `(text without spaces? --${side}-tokens chars reads it in characters)`;
  if (sw !== null) return `the source ${sw} ${hint('source')}`;
  const tw = longWordProblem(target, limits.maxTargetWordLength, 'the limit');
  if (tw !== null) return `the target ${tw} ${hint('target')}`;
  const sl = (limits.sourceLength ?? ((s: string) => [...s].length))(source);
  if (limits.maxSourceLength !== undefined && sl > limits.maxSourceLength)
    return `the source has ${sl} ${limits.sourceUnit ?? 'tokens'}, more than the limit of ${limits.maxSourceLength}`;
  const tl = (limits.targetLength ?? ((s: string) => [...s].length))(target);
  if (limits.maxTargetLength !== undefined && tl > limits.maxTargetLength)
    return `the target has ${tl} ${limits.targetUnit ?? 'tokens'}, more than the limit of ${limits.maxTargetLength}`;
  return null;
}

/**
 * Why a text has a word over `max` characters (code points, composed as NFC), or null: "has a word of N characters
 * ('its start…'), more than `limit` of `max` characters a word". Checked before the word count, which a text without
 * spaces passes as one word.
 */
export function longWordProblem(text: string, max: number | undefined, limit: string): string | null {
  if (max === undefined) return null;
  for (const word of text.split(/\s+/)) {
    // UTF-16 units are never fewer than code points: most words are settled without counting.
    if (word.length <= max) continue;
    const chars = [...word.normalize('NFC')];
    if (chars.length > max)
      return (
        `has a word of ${chars.length} characters ('${chars.slice(0, 20).join('')}…'), more than ${limit} of ` +
        `${max} characters a word`
      );
  }
  return null;
}

/**
 * Pairs from TSV text: one `source<TAB>target[<TAB>…]` per line (ended by LF, CRLF or CR); blank lines are skipped.
 * A bad line (no tab, an empty side, a side over the limit) is an InvalidInputError naming `where`, the line and the
 * problem — or, with skipBad, skipped and counted.
 */
export function parseTsvPairs(text: string, where: string, opts: ParseOptions = {}): ParsedPairs {
  const pairs: Pair[] = [];
  const skipped: { line: number; reason: string }[] = [];
  // A lone CR ends a line too (classic Mac line ends, as Excel for Mac still writes): read as part of a line, a
  // CR-only file was one pair whose target swallowed every line after it.
  const lines = text.split(/\r\n|\r|\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const cols = raw.split('\t');
    const problem =
      cols.length < 2
        ? 'expected source<TAB>target, found no tab'
        : pairProblem(cols[0].trim(), cols[1].trim(), opts);
    if (problem) {
      if (!opts.skipBad)
        throw new InvalidInputError(
          `${where}: line ${line}: ${problem} (or pass --skip-bad to skip bad lines)`,
        );
      skipped.push({ line, reason: problem });
      return;
    }
    pairs.push({ source: cols[0].trim(), target: cols[1].trim(), line });
  });
  if (pairs.length === 0) throw noPairsError(where, 'no source<TAB>target pairs', skipped);
  return { pairs, skipped };
}

/**
 * A file that gave no pairs: `none` says so, and when --skip-bad skipped every line that had one, the error says that
 * too (with the first line and why), or "no pairs" would contradict a file full of them.
 */
export function noPairsError(
  where: string,
  none: string,
  skipped: readonly { line: number; reason: string }[],
): InvalidInputError {
  if (skipped.length === 0) return new InvalidInputError(`${where}: ${none}`);
  const first = skipped[0];
  return new InvalidInputError(
    `${where}: ${none} left after --skip-bad skipped ${skipped.length} bad line(s) (first: line ${first.line}, ${first.reason})`,
  );
}

/** Groups pairs by source, keeping the first appearance order; repeated targets are kept once. */
export function groupExamples(pairs: readonly { source: string; target: string }[]): Example[] {
  const by = new Map<string, string[]>();
  for (const p of pairs) {
    const t = by.get(p.source);
    if (!t) by.set(p.source, [p.target]);
    else if (!t.includes(p.target)) t.push(p.target);
  }
  return [...by].map(([source, targets]) => ({ source, targets }));
}

export interface Splits {
  train: Example[];
  validation: Example[];
  test: Example[];
}

/**
 * The examples a run trains on: the training split, with the validation split after it for a final refit
 * (settings.trainOnValidation). The test split is never among them.
 */
export function trainingExamples(splits: Splits, withValidation: boolean): Example[] {
  return withValidation ? [...splits.train, ...splits.validation] : splits.train;
}

/**
 * Splits examples (unique sources) at random with `seed`: the given fractions go to validation and test, the rest to
 * training. A source is in one split only, with all its alternatives.
 */
export function splitExamples(
  examples: readonly Example[],
  seed: number,
  validation = 0.05,
  test = 0.05,
): Splits {
  if (!(validation >= 0 && test >= 0 && validation + test < 1))
    throw new InvalidInputError(
      `split: validation ${validation} and test ${test} must be ≥ 0 and sum to < 1`,
    );
  const order = new Int32Array(examples.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  new Random(seed).shuffle(order);
  const nVal = Math.round(examples.length * validation);
  const nTest = Math.round(examples.length * test);
  const pick = (a: number, b: number): Example[] => Array.from(order.subarray(a, b), (i) => examples[i]);
  return {
    validation: pick(0, nVal),
    test: pick(nVal, nVal + nTest),
    train: pick(nVal + nTest, order.length),
  };
}

/** Pairs of examples: one per (source, accepted target). */
export function examplePairs(examples: readonly Example[]): { source: string; target: string }[] {
  return examples.flatMap((e) => e.targets.map((target) => ({ source: e.source, target })));
}

/** A CMUdict word kept for grapheme-to-phoneme: letters, with apostrophes inside (no digits or punctuation). */
const G2P_WORD = /^[a-z][a-z']*$/;

export interface CmudictEntries {
  /** Lowercased word → its pronunciations (ARPAbet, stress digits kept), alternatives in the file's order. */
  examples: Example[];
  /** Entries left out: words with characters other than letters and apostrophes (e.g. "A.", "{BRACE"). */
  skipped: number;
}

/**
 * The CMU Pronouncing Dictionary (cmudict-0.7b text: `WORD  PH ON EMES`, alternates as `WORD(1)`, `;;;` comments)
 * as grapheme-to-phoneme examples: letters in (lowercased), phonemes out, stress kept, alternates as accepted targets.
 */
export function parseCmudict(text: string, where = 'cmudict'): CmudictEntries {
  const by = new Map<string, string[]>();
  let skipped = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith(';;;')) return;
    const m = /^(\S+?)(?:\((\d+)\))?\s+(\S.*)$/.exec(line);
    if (!m) throw new InvalidInputError(`${where}: line ${i + 1}: expected 'WORD  PH ON EMES'`);
    const word = m[1].toLowerCase();
    if (!G2P_WORD.test(word)) {
      skipped++;
      return;
    }
    const phones = m[3].trim().split(/\s+/).join(' ');
    const t = by.get(word);
    if (!t) by.set(word, [phones]);
    else if (!t.includes(phones)) t.push(phones);
  });
  return { examples: [...by].map(([source, targets]) => ({ source, targets })), skipped };
}
