/**
 * Gaps of "nothing is lost" a seeded kill-and-resume fuzz of every trainer found: a seq2seq run killed before its
 * first checkpoint left a joint n-gram that no command would take over; and the flags a resumed run silently took
 * from the command line instead of its checkpoint (--steps-per-epoch, --recipe).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { runCli } from './cli_helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'recur-resume-gaps-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Distinct made-up words spelled letter by letter (a monotone task the joint n-gram aligns). */
function spellings(n: number, seed: number): string {
  const rng = new Random(seed);
  const sounds: Record<string, string> = { a: 'AH', b: 'B', c: 'K', d: 'D', e: 'EH', f: 'F' };
  const letters = Object.keys(sounds);
  const seen = new Set<string>();
  while (seen.size < n) {
    let w = '';
    for (let i = 3 + rng.int(3); i > 0; i--) w += letters[rng.int(letters.length)];
    seen.add(w);
  }
  return [...seen].map((w) => `${w}\t${[...w].map((c) => sounds[c]).join(' ')}`).join('\n') + '\n';
}

describe('recur seq2seq train --joint-ngram: kill -9 before the first checkpoint', () => {
  it('the same command without --resume starts afresh (the killed run left its n-gram) and gives the uninterrupted run', () => {
    const pairs = join(dir, 'spell.tsv');
    writeFileSync(pairs, spellings(120, 4));
    const flags = [
      ...['--source-tokens', 'chars', '--target-tokens', 'words', '--units', '6', '--embedding', '4'],
      ...['--batch-size', '32', '--epochs', '2', '--seed', '3', '--threads', '1', '-q'],
    ];
    const train = (out: string, ...extra: string[]) =>
      runCli(['seq2seq', 'train', pairs, '--out', out, ...flags, ...extra]);
    const reference = join(dir, 'ngram-reference');
    assert.equal(train(reference, '--joint-ngram', '3').code, 0);
    const out = join(dir, 'ngram-killed');
    // Killed in its first epoch: the n-gram is saved, no model nor checkpoint yet.
    const killed = runCli(['seq2seq', 'train', pairs, '--out', out, ...flags, '--joint-ngram', '2'], {
      env: { RECUR_TEST_KILL_AFTER: '1' },
    });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const resumed = train(out, '--resume');
    assert.equal(resumed.code, 2, resumed.stderr);
    assert.match(resumed.stderr, /holds no checkpoint to resume .* without --resume to start afresh/);
    // That advice works, and the new run fits its own n-gram (order 3), not the killed run's (order 2).
    const again = train(out, '--joint-ngram', '3');
    assert.equal(again.code, 0, again.stderr);
    for (const f of ['log.csv', 'joint-ngram.json'])
      assert.equal(readFileSync(join(out, f), 'utf8'), readFileSync(join(reference, f), 'utf8'), f);
  });
});
