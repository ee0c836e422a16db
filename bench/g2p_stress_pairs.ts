/**
 * `node dist/bench/g2p_stress_pairs.js OUT.tsv` — #13's stress-only opinion: the training words of seed 1's CMUdict
 * split (as `recur seq2seq train` and bench/g2p_joint draw it) with the stress digits of each pronunciation's vowels
 * in order ("phenomena" → `0 1 0 0`; `none` for a word without a vowel), as pairs for `recur seq2seq train OUT.tsv`.
 */
import { writeFileSync } from 'node:fs';
import '../src/node/install.js';
import { cmudict } from '../src/node/seq2seq_files.js';
import { splitExamples } from '../src/seq2seq/pairs.js';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: node dist/bench/g2p_stress_pairs.js OUT.tsv\n');
  process.exit(2);
}
const splits = splitExamples(
  cmudict().examples.filter((e) => e.source.length <= 40),
  1,
);
/** The stress digits of an ARPAbet pronunciation's vowels, in order. */
const pattern = (target: string): string => {
  const digits = target.split(' ').flatMap((p) => /\d$/.exec(p)?.[0] ?? []);
  return digits.length > 0 ? digits.join(' ') : 'none';
};
const lines = splits.train.flatMap((e) => e.targets.map((t) => `${e.source}\t${pattern(t)}\n`));
writeFileSync(out, lines.join(''));
console.log(`${lines.length} pairs of ${splits.train.length} training words → ${out}`);
