/**
 * The README's translation recipe as the benches run it (bench/translate.ts, bench/seq2seq_profile.ts --pairs): its
 * `recur seq2seq train` flags, the same settings, and a pairs file read, filtered and split as that command does.
 */
import { loadExamples, splitsOf, withinLimits } from '../src/cli/seq2seq.js';
import { makeOutput } from '../src/cli/output.js';
import { PAIRS_SETTINGS, type Seq2SeqSettings } from '../src/seq2seq/model.js';
import type { Splits } from '../src/seq2seq/pairs.js';

const TRANSLATION_VOCABULARY = 6000;

export function translationSettings(maxSource = 6, maxTarget = 8): Seq2SeqSettings {
  return {
    ...PAIRS_SETTINGS,
    units: 128,
    embeddingDim: 96,
    maxSourceLength: maxSource,
    maxTargetLength: maxTarget,
    vocabularySize: TRANSLATION_VOCABULARY,
  };
}

/** The `recur seq2seq train` flags that give `s`. */
export function translationFlags(s: Seq2SeqSettings): string[] {
  return [
    '--skip-bad',
    '--max-vocab',
    String(s.vocabularySize),
    '--max-source-length',
    String(s.maxSourceLength),
    '--max-target-length',
    String(s.maxTargetLength),
    '--units',
    String(s.units),
    '--embedding-dim',
    String(s.embeddingDim),
  ];
}

/** The file's splits as `recur seq2seq train FILE` with `s` makes them (bad lines skipped, over-long pairs out). */
export function translationSplits(file: string, s: Seq2SeqSettings): Splits {
  const examples = withinLimits(loadExamples(file, { skipBad: true }, s, makeOutput({ quiet: true })), s);
  return splitsOf(examples, s.seed, file);
}
