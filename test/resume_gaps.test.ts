/**
 * Gaps of "nothing is lost" a seeded kill-and-resume fuzz of every trainer found: a seq2seq run killed before its
 * first checkpoint left a joint n-gram that no command would take over; and the flags a resumed run silently took
 * from the command line instead of its checkpoint (--steps-per-epoch, --recipe).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pseudoText, reviews, runCli, spellings, TINY_TEXT_MODEL } from './cli_helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'recur-resume-gaps-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The bytes of the weights files of the model in `d`, in its manifest's order. */
function weightsOf(d: string): string {
  const json = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8')) as {
    weightsManifest: { paths: string[] }[];
  };
  return json.weightsManifest
    .flatMap((g) => g.paths)
    .map((p) => readFileSync(join(d, p)).toString('hex'))
    .join('|');
}

describe('recur seq2seq train --joint-ngram: kill -9 before the first checkpoint', () => {
  it('the same command without --resume starts afresh (the killed run left its n-gram) and gives the uninterrupted run', () => {
    const pairs = join(dir, 'spell.tsv');
    writeFileSync(pairs, spellings(120, 4));
    const flags = [
      ...['--source-tokens', 'chars', '--target-tokens', 'words', '--units', '6', '--embedding-dim', '4'],
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

  it('a run without one is resumed without one: --joint-ngram N with --resume is refused, not fitted', () => {
    const pairs = join(dir, 'spell.tsv');
    writeFileSync(pairs, spellings(120, 4));
    const out = join(dir, 'no-ngram');
    const flags = [
      ...['--source-tokens', 'chars', '--target-tokens', 'words', '--units', '6', '--embedding-dim', '4'],
      ...['--batch-size', '32', '--epochs', '2', '--seed', '3', '--threads', '1', '-q'],
    ];
    const stopped = runCli(['seq2seq', 'train', pairs, '--out', out, ...flags], {
      env: { RECUR_TEST_INTERRUPT_AFTER: '4' },
    });
    assert.equal(stopped.code, 130, stopped.stderr);
    const added = runCli([
      'seq2seq',
      'train',
      pairs,
      '--out',
      out,
      ...flags,
      '--resume',
      '--joint-ngram',
      '2',
    ]);
    assert.equal(added.code, 2, added.stderr);
    assert.match(
      added.stderr,
      /--joint-ngram 2 with --resume: the run has no joint n-gram; leave the flag out/,
    );
    assert.equal(existsSync(join(out, 'joint-ngram.json')), false);
    const resumed = runCli(['seq2seq', 'train', pairs, '--out', out, ...flags, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(existsSync(join(out, 'joint-ngram.json')), false);
  });
});

describe("recur seq2seq train: a bare --resume after kill -9 keeps the run's --epochs and --threads", () => {
  it("continues to the uninterrupted run's end, not to the command line's default 20 epochs on every core", () => {
    const pairs = join(dir, 'spell.tsv');
    writeFileSync(pairs, spellings(120, 4));
    const flags = [
      ...['--source-tokens', 'chars', '--target-tokens', 'words', '--units', '6', '--embedding-dim', '4'],
      ...['--batch-size', '32', '--seed', '3', '--joint-ngram', '0', '-q'],
    ];
    const train = (out: string, extra: string[], env: Record<string, string> = {}) =>
      runCli(['seq2seq', 'train', pairs, '--out', out, ...flags, ...extra], { env });
    const reference = join(dir, 'bare-s2s-reference');
    assert.equal(train(reference, ['--epochs', '3', '--threads', '1']).code, 0);
    const out = join(dir, 'bare-s2s-killed');
    const killed = train(out, ['--epochs', '3', '--threads', '1'], { RECUR_TEST_KILL_AFTER: '5' });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const resumed = train(out, ['--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const log = (d: string) => readFileSync(join(d, 'log.csv'), 'utf8');
    assert.equal(log(out), log(reference));
    assert.equal(log(out).trim().split('\n').length, 1 + 3);
    // Without the pairs file too: the checkpoint names it (it was refused as "trained on PAIRS; give the same data",
    // though none other was given), as an ensemble's or a classifier's bare --resume reads its own data.
    const bare = join(dir, 'bare-s2s-no-pairs');
    // Killed before its first checkpoint: "the same command without --resume", the bare one, would train on CMUdict.
    const early = train(bare, ['--epochs', '3', '--threads', '1'], { RECUR_TEST_KILL_AFTER: '1' });
    assert.equal(early.signal, 'SIGKILL', early.stderr);
    const nothing = runCli(['seq2seq', 'train', '--out', bare, '--resume', '-q']);
    assert.equal(nothing.code, 2, nothing.stderr);
    assert.match(
      nothing.stderr,
      /holds no checkpoint .*; run the command that started the run \(with its data file, if it named one\) without --resume/,
    );
    const stopped = train(bare, ['--epochs', '3', '--threads', '1'], { RECUR_TEST_KILL_AFTER: '5' });
    assert.equal(stopped.signal, 'SIGKILL', stopped.stderr);
    const again = runCli(['seq2seq', 'train', '--out', bare, '--resume', '-q']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(log(bare), log(reference));
  });
});

describe('recur seq2seq train: a bare --resume with --format or a column flag', () => {
  it('checks them against the pairs file the run recorded (they were refused as if the data were CMUdict), single or --ensemble', () => {
    const pairs = join(dir, 'spell-format.tsv');
    writeFileSync(pairs, spellings(120, 4));
    const flags = [
      ...['--source-tokens', 'chars', '--target-tokens', 'words', '--units', '6', '--embedding-dim', '4'],
      ...['--batch-size', '32', '--epochs', '2', '--seed', '3', '--threads', '1', '--joint-ngram', '0', '-q'],
    ];
    for (const ensemble of [[], ['--ensemble', '2']]) {
      const out = join(dir, `bare-format${ensemble.length > 0 ? '-ensemble' : ''}`);
      const killed = runCli(['seq2seq', 'train', pairs, '--out', out, ...flags, ...ensemble], {
        env: { RECUR_TEST_KILL_AFTER: '5' },
      });
      assert.equal(killed.signal, 'SIGKILL', killed.stderr);
      const bare = ['seq2seq', 'train', '--out', out, '--resume', '-q'];
      const column = runCli([...bare, '--source-column', 'word']);
      assert.equal(column.code, 2, column.stderr);
      assert.match(
        column.stderr,
        /--source-column names a column of a CSV pairs file \(its header\); \S+spell-format\.tsv is read as TSV/,
      );
      const format = runCli([...bare, '--format', 'tsv']);
      assert.equal(format.code, 0, format.stderr);
    }
  });
});

describe('recur seq2seq train --lr-schedule cosine --resume with another --epochs or a plateau flag', () => {
  it('is refused, naming the flag (the schedule anneals over the epochs the run started with; it was ignored), single or --ensemble', () => {
    const pairs = join(dir, 'spell-cosine.tsv');
    writeFileSync(pairs, spellings(120, 5));
    const flags = [
      ...['--source-tokens', 'chars', '--target-tokens', 'words', '--units', '6', '--embedding-dim', '4'],
      ...[
        '--batch-size',
        '32',
        '--seed',
        '3',
        '--joint-ngram',
        '0',
        '--lr-schedule',
        'cosine',
        '--threads',
        '1',
        '-q',
      ],
    ];
    for (const ensemble of [[], ['--ensemble', '2']]) {
      const out = join(dir, `cosine-epochs${ensemble.length > 0 ? '-ensemble' : ''}`);
      const train = (extra: string[], env: Record<string, string> = {}) =>
        runCli(['seq2seq', 'train', pairs, '--out', out, ...flags, ...extra], { env });
      const killed = train(['--epochs', '3', ...ensemble], { RECUR_TEST_KILL_AFTER: '5' });
      assert.equal(killed.signal, 'SIGKILL', killed.stderr);
      const longer = train(['--resume', '--epochs', '5']);
      assert.equal(longer.code, 2, longer.stderr);
      assert.match(
        longer.stderr,
        /^recur: --epochs 5 with --resume: the checkpoint's run uses 3; leave the flag out/,
      );
      // The plateau flags: the run has none of their settings (its saved defaults are not "what it uses").
      for (const [flag, value, what] of [
        ['--lr-factor', '0.3', 'factor'],
        ['--lr-patience', '2', 'patience'],
        ['--lr-monitor', 'val_loss', 'monitor'],
      ]) {
        const plateau = train(['--resume', flag, value]);
        assert.equal(plateau.code, 2, plateau.stderr);
        assert.equal(
          plateau.stderr,
          `recur: ${flag} ${value} with --resume: the checkpoint's run uses --lr-schedule cosine, which has no plateau ${what} (it anneals by the step and watches nothing); leave the flag out\n`,
        );
      }
      // The same epochs (as the "Continue with:" line gives them), or none, go on.
      const same = train(['--resume', '--epochs', '3']);
      assert.equal(same.code, 0, same.stderr);
      const logs = ensemble.length > 0 ? ['members/1', 'members/2'] : ['.'];
      for (const l of logs)
        assert.equal(
          readFileSync(join(out, l, 'log.csv'), 'utf8')
            .trim()
            .split('\n').length,
          1 + 3,
        );
    }
  });
});

describe('--steps-per-epoch is kept by the checkpoint', () => {
  it('recur train: a resume after kill -9 needs no flag to train as the uninterrupted run; another cap is refused', () => {
    const text = join(dir, 'book.txt');
    writeFileSync(text, pseudoText(3000, 1));
    const flags = [
      ...TINY_TEXT_MODEL,
      '--steps-per-epoch',
      '3',
      '--epochs',
      '3',
      '--seed',
      '5',
      '--no-samples',
    ];
    const run = (out: string, extra: string[], env: Record<string, string> = {}) =>
      runCli(['train', text, '--out', out, '--threads', '1', '-q', ...extra], { env });
    const reference = join(dir, 'steps-reference');
    assert.equal(run(reference, flags).code, 0);
    const out = join(dir, 'steps-killed');
    // kill -9 in epoch 2 prints no "Continue with:" line: the documented command is all the user has.
    assert.equal(run(out, flags, { RECUR_TEST_KILL_AFTER: '4' }).signal, 'SIGKILL');
    const other = run(out, ['--resume', '--epochs', '3', '--steps-per-epoch', '4']);
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /--steps-per-epoch 4 with --resume: the checkpoint's run uses 3/);
    const resumed = run(out, ['--resume', '--epochs', '3']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const log = (d: string) => readFileSync(join(d, 'log.csv'), 'utf8');
    assert.equal(log(out), log(reference));
  });

  it("recur train: a bare --resume after kill -9 keeps the run's --epochs and --threads", () => {
    const text = join(dir, 'book.txt');
    writeFileSync(text, pseudoText(3000, 1));
    const flags = [...TINY_TEXT_MODEL, '--steps-per-epoch', '2', '--seed', '5', '--no-samples', '-q'];
    const run = (out: string, extra: string[], env: Record<string, string> = {}) =>
      runCli(['train', text, '--out', out, ...flags, ...extra], { env });
    const reference = join(dir, 'bare-reference');
    assert.equal(run(reference, ['--epochs', '3', '--threads', '1']).code, 0);
    const out = join(dir, 'bare-killed');
    assert.equal(
      run(out, ['--epochs', '3', '--threads', '1'], { RECUR_TEST_KILL_AFTER: '3' }).signal,
      'SIGKILL',
    );
    // Neither flag: the command line's defaults (20 epochs, every core) would make another run.
    const resumed = run(out, ['--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const log = (d: string) => readFileSync(join(d, 'log.csv'), 'utf8');
    assert.equal(log(out), log(reference));
    assert.equal(log(out).trim().split('\n').length, 1 + 3);
    // Given, --epochs still extends a finished run.
    const longer = run(out, ['--resume', '--epochs', '4']);
    assert.equal(longer.code, 0, longer.stderr);
    assert.equal(log(out).trim().split('\n').length, 1 + 4);
  });

  it('recur train: a bare --resume without the text file reads the one the checkpoint records, as classify and seq2seq do', () => {
    const text = join(dir, 'book-bare.txt');
    writeFileSync(text, pseudoText(3000, 3));
    const flags = [...TINY_TEXT_MODEL, '--steps-per-epoch', '2', '--seed', '5', '--no-samples', '-q'];
    const run = (out: string, extra: string[], env: Record<string, string> = {}) =>
      runCli(['train', text, '--out', out, ...flags, ...extra], { env });
    const reference = join(dir, 'bare-text-reference');
    assert.equal(run(reference, ['--epochs', '3', '--threads', '1']).code, 0);
    const out = join(dir, 'bare-text-killed');
    assert.equal(
      run(out, ['--epochs', '3', '--threads', '1'], { RECUR_TEST_KILL_AFTER: '3' }).signal,
      'SIGKILL',
    );
    // It was refused, spelling out the command with the file, which the checkpoint names.
    const resumed = runCli(['train', '--out', out, '--resume', '-q']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(
      readFileSync(join(out, 'log.csv'), 'utf8'),
      readFileSync(join(reference, 'log.csv'), 'utf8'),
    );
    assert.equal(weightsOf(out), weightsOf(reference));
    // The recorded file changed or gone: refused, naming it (a changed one would train another run).
    const longer = ['train', '--out', out, '--resume', '--epochs', '4', '-q'];
    writeFileSync(text, pseudoText(3000, 4));
    const changed = runCli(longer);
    assert.equal(changed.code, 2, changed.stderr);
    assert.match(changed.stderr, /--resume: \S+book-bare\.txt has changed since the run trained on it/);
    rmSync(text);
    const gone = runCli(longer);
    assert.equal(gone.code, 2, gone.stderr);
    assert.match(gone.stderr, /--resume: the run in \S+ trained on \S+book-bare\.txt, which is not there/);
  });

  it('recur classify train: the same', () => {
    const csv = join(dir, 'reviews.csv');
    writeFileSync(csv, reviews(200, 1));
    const flags = [
      ...['--units', '6', '--embedding-dim', '6', '--batch-size', '16', '--epochs', '3', '--patience', '0'],
      ...['--steps-per-epoch', '2', '--seed', '3', '--threads', '1', '-q'],
    ];
    const run = (out: string, extra: string[], env: Record<string, string> = {}) =>
      runCli(['classify', 'train', csv, '--out', out, ...extra], { env });
    const reference = join(dir, 'classify-steps-reference');
    assert.equal(run(reference, flags).code, 0);
    const out = join(dir, 'classify-steps-killed');
    assert.equal(run(out, flags, { RECUR_TEST_KILL_AFTER: '3' }).signal, 'SIGKILL');
    const other = run(out, ['--resume', '--steps-per-epoch', '5']);
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /--steps-per-epoch 5 with --resume: the checkpoint's run uses 2/);
    const resumed = run(out, ['--resume', '--threads', '1', '-q']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const log = (d: string) => readFileSync(join(d, 'log.csv'), 'utf8');
    assert.equal(log(out), log(reference));
  });
});

describe("recur classify train: a bare --resume after kill -9 keeps the run's --threads", () => {
  it('sums every split batch as the uninterrupted run did (it trained on all cores): the same weights and log', () => {
    const csv = join(dir, 'reviews-threads.csv');
    writeFileSync(csv, reviews(200, 2));
    const flags = [
      ...['--units', '6', '--embedding-dim', '6', '--batch-size', '16', '--epochs', '2', '--patience', '0'],
      ...['--steps-per-epoch', '3', '--seed', '4', '-q'],
    ];
    // Every batch split over the threads, however small: two threads sum a batch's gradients in another order than one.
    const split = { RECUR_MIN_SPLIT_WORK: '0' };
    const run = (out: string, extra: string[], env: Record<string, string> = {}) =>
      runCli(['classify', 'train', csv, '--out', out, ...flags, ...extra], { env: { ...split, ...env } });
    const reference = join(dir, 'classify-threads-reference');
    assert.equal(run(reference, ['--threads', '1']).code, 0);
    const out = join(dir, 'classify-threads-killed');
    const killed = run(out, ['--threads', '1'], { RECUR_TEST_KILL_AFTER: '4' });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const resumed = run(out, ['--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(
      readFileSync(join(out, 'log.csv'), 'utf8'),
      readFileSync(join(reference, 'log.csv'), 'utf8'),
    );
    assert.equal(weightsOf(out), weightsOf(reference));
  });

  it("says so when --threads is given and differs from the run's", () => {
    const csv = join(dir, 'reviews-threads.csv');
    const out = join(dir, 'classify-threads-other');
    const args = ['classify', 'train', csv, '--out', out, '--units', '4', '--embedding-dim', '4'];
    const first = runCli([...args, '--epochs', '1', '--steps-per-epoch', '2', '--threads', '1', '-q']);
    assert.equal(first.code, 0, first.stderr);
    // A run may only ask for the cores there are: one core has no other count to resume on.
    if (availableParallelism() < 2) return;
    const other = runCli(['classify', 'train', '--out', out, '--resume', '--epochs', '2', '--threads', '2']);
    assert.equal(other.code, 0, other.stderr);
    assert.match(
      other.stderr,
      /note: resuming on --threads 2, where the run trained on 1: the result may differ in the last bits/,
    );
    // The checkpoint now records the threads it went on with: resumed on those, nothing to say.
    const same = runCli(['classify', 'train', '--out', out, '--resume', '--epochs', '3', '--threads', '2']);
    assert.equal(same.code, 0, same.stderr);
    assert.doesNotMatch(same.stderr, /note: resuming on --threads/);
  });
});

describe('recur classify train --ensemble: a resume on other --threads', () => {
  it('records them, so a later bare --resume (after kill -9) goes on with them, as a single run does', () => {
    // A run may only ask for the cores there are: one core has no other count to resume on.
    if (availableParallelism() < 2) return;
    const csv = join(dir, 'reviews-threads.csv');
    writeFileSync(csv, reviews(200, 2));
    const out = join(dir, 'classify-ensemble-threads');
    const flags = ['--units', '4', '--embedding-dim', '4', '--epochs', '2', '--steps-per-epoch', '3', '-q'];
    const run = (extra: string[], kill?: string) =>
      runCli(['classify', 'train', csv, '--out', out, ...flags, ...extra], {
        env: kill ? { RECUR_TEST_KILL_AFTER: kill } : {},
      });
    const threadsOf = (): unknown =>
      (
        JSON.parse(readFileSync(join(out, 'ensemble.json'), 'utf8')) as {
          training: { options: { threads: unknown } };
        }
      ).training.options.threads;
    assert.equal(run(['--ensemble', '2', '--seed', '3', '--threads', '1'], '2').signal, 'SIGKILL');
    assert.equal(threadsOf(), 1);
    const other = run(['--resume', '--threads', '2'], '3');
    assert.equal(other.signal, 'SIGKILL', other.stderr);
    assert.equal(threadsOf(), 2);
    const bare = run(['--resume']);
    assert.equal(bare.code, 0, bare.stderr);
    assert.equal(threadsOf(), 2);
  });
});

describe('recur classify train --ensemble --steps-per-epoch', () => {
  it('a member resumed after kill -9 keeps the cap (it trained whole epochs), and another cap is refused', () => {
    const csv = join(dir, 'reviews-ens.csv');
    writeFileSync(csv, reviews(200, 2));
    const flags = [
      ...['--units', '6', '--embedding-dim', '6', '--batch-size', '16', '--epochs', '2', '--patience', '0'],
      ...['--steps-per-epoch', '2', '--ensemble', '2', '--seed', '3', '--threads', '1', '-q'],
    ];
    const reference = join(dir, 'ens-reference');
    assert.equal(runCli(['classify', 'train', csv, '--out', reference, ...flags]).code, 0);
    const out = join(dir, 'ens-killed');
    // Batch 3: member 1's second epoch, after its first checkpoint.
    const killed = runCli(['classify', 'train', csv, '--out', out, ...flags], {
      env: { RECUR_TEST_KILL_AFTER: '3' },
    });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const other = runCli(['classify', 'train', '--out', out, '--resume', '--steps-per-epoch', '3', '-q']);
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /--steps-per-epoch 3 with --resume: the checkpoint's run uses 2/);
    const resumed = runCli(['classify', 'train', '--out', out, '--resume', '-q']);
    assert.equal(resumed.code, 0, resumed.stderr);
    for (const k of ['1', '2']) {
      const log = (d: string) => readFileSync(join(d, 'members', k, 'log.csv'), 'utf8');
      assert.equal(log(out), log(reference), `member ${k}`);
    }
  });
});

describe('recur train --resume with a flag the checkpoint decides', () => {
  it('refuses another --recipe (it has a default, and was ignored) or a flag of the other recipe, and names a --no- flag without a value', () => {
    const text = join(dir, 'book2.txt');
    writeFileSync(text, pseudoText(3000, 2));
    const out = join(dir, 'recipe');
    const flags = [...TINY_TEXT_MODEL, '--steps-per-epoch', '2', '--epochs', '2', '--no-samples', '-q'];
    const stopped = runCli(['train', text, '--out', out, ...flags], {
      env: { RECUR_TEST_INTERRUPT_AFTER: '1' },
    });
    assert.equal(stopped.code, 130, stopped.stderr);
    const charRnn = runCli(['train', text, '--out', out, '--resume', '--recipe', 'char-rnn', '-q']);
    assert.equal(charRnn.code, 2, charRnn.stderr);
    assert.match(charRnn.stderr, /--recipe char-rnn with --resume: the checkpoint's run uses keras/);
    const cased = runCli(['train', text, '--out', out, '--resume', '--no-lowercase', '-q']);
    assert.equal(cased.code, 2, cased.stderr);
    assert.match(
      cased.stderr,
      /^recur: --no-lowercase with --resume: the checkpoint's run was started without it;/m,
    );
    // A flag of the other recipe: the run has no such setting (it was compared with the other recipe's default).
    const streams = runCli(['train', text, '--out', out, '--resume', '--seq-length', '5', '-q']);
    assert.equal(streams.code, 2, streams.stderr);
    assert.match(
      streams.stderr,
      /^recur: --seq-length applies to --recipe char-rnn; the keras recipe trains on windows/m,
    );
    const same = runCli([
      'train',
      text,
      '--out',
      out,
      '--resume',
      '--recipe',
      'keras',
      '--epochs',
      '2',
      '-q',
    ]);
    assert.equal(same.code, 0, same.stderr);
  });
});

describe('recur classify train --resume with a data or weighting flag of another run', () => {
  it('refuses --class-weight, --multi-label, --test and named columns that differ (they were ignored), accepts the same', () => {
    const csv = join(dir, 'reviews-flags.csv');
    writeFileSync(csv, reviews(120, 3));
    const test = join(dir, 'test.csv');
    writeFileSync(test, 'sentence,label\nthe film was great,pos\n');
    const out = join(dir, 'classify-flags');
    const flags = [
      '--units',
      '6',
      '--embedding-dim',
      '6',
      '--batch-size',
      '16',
      '--epochs',
      '2',
      '--threads',
      '1',
    ];
    const stopped = runCli(
      ['classify', 'train', csv, '--out', out, ...flags, '-q', '--class-weight', 'pos=2'],
      {
        env: { RECUR_TEST_INTERRUPT_AFTER: '2' },
      },
    );
    assert.equal(stopped.code, 130, stopped.stderr);
    const resume = (...extra: string[]) =>
      runCli(['classify', 'train', csv, '--out', out, '--resume', '--threads', '1', '-q', ...extra]);
    for (const [extra, message] of [
      [
        ['--class-weight', 'balanced'],
        /--class-weight balanced with --resume: the checkpoint's run uses pos=2;/,
      ],
      [['--multi-label'], /--multi-label with --resume: the checkpoint's run was started without it;/],
      [
        ['--test', test],
        /--test \S+test\.csv with --resume: the checkpoint's run uses a test split of its data;/,
      ],
      [['--text-column', 'label'], /--text-column label with --resume: the checkpoint's run uses sentence;/],
      [
        ['--label-column', 'sentence'],
        /--label-column sentence with --resume: the checkpoint's run uses label;/,
      ],
    ] as const) {
      const r = resume(...extra);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const same = resume('--class-weight', 'pos=2', '--text-column', 'sentence', '--label-column', 'label');
    assert.equal(same.code, 0, same.stderr);
  });
});

describe('recur classify train --resume of a run early stopping ended', () => {
  it('trains nothing more (it ran one more epoch each time): the log, the checkpoint and the best model stay', () => {
    const csv = join(dir, 'reviews-early.csv');
    writeFileSync(csv, reviews(200, 1));
    const out = join(dir, 'early');
    const flags = [
      ...['--units', '6', '--embedding-dim', '6', '--batch-size', '16', '--epochs', '6', '--patience', '1'],
      ...['--steps-per-epoch', '3', '--lr', '0.0001', '--seed', '3', '--threads', '1', '-q'],
    ];
    const first = runCli(['classify', 'train', csv, '--out', out, ...flags]);
    assert.equal(first.code, 0, first.stderr);
    const files = () =>
      ['log.csv', 'model.json', join('checkpoint', 'model.json')].map((f) =>
        readFileSync(join(out, f), 'utf8'),
      );
    const before = files();
    // A learning rate this low never improves the macro-F1 twice: early stopping ends the run before --epochs.
    assert.ok(before[0].trim().split('\n').length - 1 < 6, before[0]);
    const again = runCli(['classify', 'train', csv, '--out', out, '--resume', '--threads', '1']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout + again.stderr, /has finished training; nothing to resume/);
    assert.deepEqual(files(), before);
  });
});
