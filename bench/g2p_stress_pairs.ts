/**
 * `node dist/bench/g2p_stress_pairs.js OUT.tsv [--channel]` — #13's extra opinions, as pairs for
 * `recur seq2seq train OUT.tsv`, from the training words of seed 1's CMUdict split (as `recur seq2seq train` and
 * bench/g2p_joint draw it):
 * - by default the stress digits of each pronunciation's vowels in order ("phenomena" → `0 1 0 0`; `none` for a word
 *   without a vowel): a model of the stress pattern alone;
 * - with `--channel`, pronunciation → word (phoneme to grapheme): the channel model of noisy-channel reranking, whose
 *   p(word | candidate pronunciation) says how well a candidate spells back the word it came from.
 */
import { writeFileSync } from 'node:fs';
import '../src/node/install.js';
import { cmudict } from '../src/node/seq2seq_files.js';
import { splitExamples } from '../src/seq2seq/pairs.js';

const out = process.argv[2];
if (!out || (process.argv[3] !== undefined && process.argv[3] !== '--channel')) {
  process.stderr.write('usage: node dist/bench/g2p_stress_pairs.js OUT.tsv [--channel]\n');
  process.exit(2);
}
const channel = process.argv[3] === '--channel';
const splits = splitExamples(
  cmudict().examples.filter((e) => e.source.length <= 40),
  1,
);
/** The stress digits of an ARPAbet pronunciation's vowels, in order. */
const pattern = (target: string): string => {
  const digits = target.split(' ').flatMap((p) => /\d$/.exec(p)?.[0] ?? []);
  return digits.length > 0 ? digits.join(' ') : 'none';
};
const lines = splits.train.flatMap((e) =>
  e.targets.map((t) => (channel ? `${t}\t${e.source}\n` : `${e.source}\t${pattern(t)}\n`)),
);
writeFileSync(out, lines.join(''));
console.log(`${lines.length} pairs of ${splits.train.length} training words → ${out}`);
