/**
 * `--overwrite` never leaves a directory without a usable model: the old model (and its log) stays loadable until the
 * new run saves its first, which replaces it atomically; only the old run's checkpoint goes at the start, so that
 * --resume continues the new run, and ends exactly where the uninterrupted new run does.
 */
import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pairs, pseudoText, reviews, runCli, spellings, TINY_TEXT_MODEL } from './cli_helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'recur-overwrite-keeps-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A model directory's model.json and the bytes of the weights it names: what loading it gives. */
function modelOf(d: string): { json: string; weights: string } {
  const json = readFileSync(join(d, 'model.json'), 'utf8');
  const paths = (JSON.parse(json) as { weightsManifest: { paths: string[] }[] }).weightsManifest.flatMap(
    (g) => g.paths,
  );
  return { json, weights: paths.map((p) => readFileSync(join(d, p)).toString('hex')).join('|') };
}

/** The same model: topology, metadata and weights (the names of its weights and n-gram files, random, aside). */
function sameModel(a: string, b: string): void {
  const x = modelOf(a);
  const y = modelOf(b);
  assert.equal(y.weights, x.weights);
  const parts = (j: string): unknown => {
    // The manifest's hash covers the weights file's name.
    const unnamed = j.replace(/weights-[0-9a-f]{8}\.bin/g, 'weights.bin');
    const { modelTopology, userDefinedMetadata } = JSON.parse(unnamed, (k, v: unknown) =>
      k === 'weightsManifest' && typeof v === 'string' ? undefined : v,
    ) as Record<string, unknown> & { userDefinedMetadata: Record<string, unknown> };
    // Where the model's joint n-gram is (a run that replaced a model names its own file): seq2seqState compares it.
    delete userDefinedMetadata.jointNgram;
    return { modelTopology, userDefinedMetadata };
  };
  assert.deepEqual(parts(y.json), parts(x.json));
}

/**
 * For a training command (`args` without --out, `newSeed` what the new run changes): trains an old model, then
 * checks an --overwrite run killed (kill -9) and stopped (Ctrl-C) in its first epoch leaves the old model and log as
 * they were, and the stopped run resumed gives exactly the uninterrupted new run's model and log; and that a run its
 * time budget stops in the first epoch replaces both.
 */
function checkOverwrite(
  args: string[],
  oldSeed: string[],
  newSeed: string[],
  loads: (d: string) => void,
): void {
  const out = join(dir, `${args[0]}-${args[1]}-run`);
  const reference = join(dir, `${args[0]}-${args[1]}-reference`);
  let r = runCli([...args, '--out', out, ...oldSeed]);
  assert.equal(r.code, 0, r.stderr);
  const old = modelOf(out);
  const oldLog = readFileSync(join(out, 'log.csv'), 'utf8');
  r = runCli([...args, '--out', reference, ...newSeed]);
  assert.equal(r.code, 0, r.stderr);

  r = runCli([...args, '--out', out, ...newSeed, '--overwrite'], { env: { RECUR_TEST_KILL_AFTER: '1' } });
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  assert.deepEqual(modelOf(out), old);
  assert.equal(readFileSync(join(out, 'log.csv'), 'utf8'), oldLog);
  loads(out);
  // The old run's checkpoint went at the start: --resume does not continue the old run.
  assert.equal(existsSync(join(out, 'checkpoint', 'model.json')), false);

  r = runCli([...args, '--out', out, ...newSeed, '--overwrite'], {
    env: { RECUR_TEST_INTERRUPT_AFTER: '1' },
  });
  assert.equal(r.code, 130, r.stderr);
  assert.deepEqual(modelOf(out), old);
  assert.equal(readFileSync(join(out, 'log.csv'), 'utf8'), oldLog);
  loads(out);
  r = runCli([...args, '--out', out, '--resume']);
  assert.equal(r.code, 0, r.stderr);
  sameModel(reference, out);
  assert.equal(readFileSync(join(out, 'log.csv'), 'utf8'), readFileSync(join(reference, 'log.csv'), 'utf8'));

  // A run whose time budget runs out in its first epoch ends normally with its model as it is, which replaces the
  // old one; the old model's log goes with it (no epoch of the new run finished).
  r = runCli([...args, '--out', out, ...oldSeed, '--overwrite'], { env: { RECUR_TEST_BUDGET_AFTER: '1' } });
  assert.equal(r.code, 0, r.stderr);
  assert.notEqual(modelOf(out).weights, modelOf(reference).weights);
  assert.equal(readFileSync(join(out, 'log.csv'), 'utf8'), '');
  loads(out);
}

describe('--overwrite keeps the old model until the new run saves its own', () => {
  it('recur train', () => {
    const text = join(dir, 'book.txt');
    writeFileSync(text, pseudoText(3000, 1));
    const args = ['train', text, ...TINY_TEXT_MODEL, '--steps-per-epoch', '4', '--epochs', '2'];
    checkOverwrite(args, ['--seed', '1'], ['--seed', '2'], (d) =>
      assert.equal(runCli(['generate', d, '--length', '5', '-q']).code, 0),
    );
  });

  it('recur classify train', () => {
    const csv = join(dir, 'reviews.csv');
    writeFileSync(csv, reviews(200, 2));
    const args = ['classify', 'train', csv, '--units', '8', '--embedding-dim', '8'];
    const more = ['--batch-size', '16', '--threads', '1', '--epochs', '2', '-q'];
    checkOverwrite([...args, ...more], ['--seed', '1'], ['--seed', '2'], (d) =>
      assert.equal(runCli(['classify', 'predict', d, 'a good film', '-q']).code, 0),
    );
  });

  it('recur seq2seq train (no joint n-gram)', () => {
    const tsv = join(dir, 'pairs.tsv');
    writeFileSync(tsv, pairs(120, 4));
    const args = ['seq2seq', 'train', tsv, '--units', '8', '--embedding-dim', '8', '--batch-size', '8'];
    const more = ['--threads', '1', '--epochs', '2', '-q'];
    checkOverwrite([...args, ...more], ['--seed', '1'], ['--seed', '2'], (d) =>
      assert.equal(runCli(['seq2seq', 'predict', d, 'the cat and the dog', '-q']).code, 0),
    );
  });
});

/** An ensemble directory's members (in order) as loading reads them, and its record less where the members are. */
function ensembleOf(d: string): { members: string[]; record: unknown } {
  const rec = JSON.parse(readFileSync(join(d, 'ensemble.json'), 'utf8')) as Record<string, unknown> & {
    members: string[];
  };
  const { members, ...record } = rec;
  // Where its members and n-gram are (an --overwrite run's have names of their own).
  delete record.membersDir;
  delete record.jointNgram;
  return { members: members.map((m) => join(d, m)), record };
}

/**
 * A seeded walk of kills: `first` (an --overwrite run), then each `resume`, dies (kill -9) after 1–12 batches until one
 * finishes, at least 4 killed; after every kill `loads` checks the directory holds a model (the old one, or the new
 * one once it has replaced it).
 */
function killWalk(first: string[], resume: string[], loads: () => void, seed: { state: number }): void {
  let cmd = first;
  for (let round = 0; ; round++) {
    assert.ok(round < 40, `${first.join(' ')}: the run never finished`);
    seed.state = (Math.imul(seed.state, 1103515245) + 12345) >>> 0;
    const r = runCli(cmd, { env: { RECUR_TEST_KILL_AFTER: String(1 + (seed.state % 12)) } });
    if (r.signal !== 'SIGKILL') {
      assert.equal(r.code, 0, r.stderr);
      assert.ok(round >= 3, `${first.join(' ')}: killed only ${round} times`);
      return;
    }
    loads();
    cmd = resume;
  }
}

/** The ensemble in `out` is the one in `reference`: its record, and each member's model and log. */
function sameEnsemble(reference: string, out: string): void {
  const got = ensembleOf(out);
  const want = ensembleOf(reference);
  assert.deepEqual(got.record, want.record);
  assert.equal(got.members.length, want.members.length);
  for (const [i, m] of got.members.entries()) {
    sameModel(want.members[i], m);
    assert.equal(
      readFileSync(join(m, 'log.csv'), 'utf8'),
      readFileSync(join(want.members[i], 'log.csv'), 'utf8'),
    );
  }
  // Nothing of the replaced model is left.
  assert.deepEqual(
    readdirSync(out)
      .filter((n) => !ignored.includes(n))
      .sort(),
    ['ensemble.json', got.members[0].split('/').at(-2)!, ...ngramFiles(out)].sort(),
  );
}

/** The joint n-gram files (recur's names) in a directory. */
function ngramFiles(d: string): string[] {
  return readdirSync(d).filter((n) => /^joint-ngram(-[0-9a-f]{8})?\.json$/.test(n));
}

/**
 * What loading a seq2seq directory reads: the model(s) (model.json and weights) and the text of the joint n-gram its
 * manifest names (model.json's or ensemble.json's jointNgram; none named: joint-ngram.json), '' for none.
 */
function seq2seqState(d: string): { models: { json: string; weights: string }[]; ngram: string } {
  const record = join(d, 'ensemble.json');
  const ensemble = existsSync(record);
  const manifest = JSON.parse(readFileSync(ensemble ? record : join(d, 'model.json'), 'utf8')) as {
    members?: string[];
    jointNgram?: string | null;
    userDefinedMetadata?: { jointNgram?: string | null };
  };
  const named = ensemble ? manifest.jointNgram : manifest.userDefinedMetadata?.jointNgram;
  const file = named === null ? null : join(d, named ?? 'joint-ngram.json');
  return {
    models: ensemble ? manifest.members!.map((m) => modelOf(join(d, m))) : [modelOf(d)],
    ngram: file !== null && existsSync(file) ? readFileSync(file, 'utf8') : '',
  };
}

/** Files (names) the test's own checks leave out of a directory's listing: the user's, placed there. */
const ignored = ['notes.txt', 'my-ngram.json', 'mine'];

describe('--overwrite keeps the old model until the new ensemble has a member', () => {
  it('recur classify train, single model and --ensemble in turn: killed anywhere (kill -9), resumed, exactly the uninterrupted run', () => {
    const csv = join(dir, 'ens-reviews.csv');
    writeFileSync(csv, reviews(120, 3));
    const args = ['classify', 'train', csv, '--units', '4', '--embedding-dim', '4', '--batch-size', '16'];
    const more = ['--threads', '1', '--epochs', '2', '-q'];
    const out = join(dir, 'ens-run');
    const ensembleRef = join(dir, 'ens-reference');
    const singleRef = join(dir, 'single-reference');
    const predict = (d: string): string => {
      const r = runCli(['classify', 'predict', d, 'a good film', 'a dull film', '--json']);
      assert.equal(r.code, 0, `${d} does not load: ${r.stderr}`);
      return r.stdout;
    };
    let r = runCli([...args, '--out', out, ...more, '--seed', '5', '--epochs', '1']);
    assert.equal(r.code, 0, r.stderr);
    r = runCli([...args, '--out', ensembleRef, ...more, '--seed', '2', '--ensemble', '2']);
    assert.equal(r.code, 0, r.stderr);
    r = runCli([...args, '--out', singleRef, ...more, '--seed', '3']);
    assert.equal(r.code, 0, r.stderr);
    const seed = { state: 7 };
    // A single model replaced by an ensemble, that ensemble by another, and that by a single model.
    for (let replaced = 0; replaced < 2; replaced++) {
      killWalk(
        [...args, '--out', out, ...more, '--seed', '2', '--ensemble', '2', '--overwrite'],
        [...args, '--out', out, '--resume', '-q'],
        () => predict(out),
        seed,
      );
      sameEnsemble(ensembleRef, out);
      assert.equal(predict(out), predict(ensembleRef));
    }
    // export, which takes one model, names a member where this ensemble keeps them (members-<hex>/ once replaced).
    const membersDir = ensembleOf(out).members[0].split('/').at(-2)!;
    assert.match(membersDir, /^members-[0-9a-f]{8}$/);
    r = runCli(['export', 'pytorch', out, join(dir, 'ens-export')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`export one member, e\\.g\\. ${join(out, membersDir, '1')}\n$`));
    // An ensemble replaced by a single model: killed in its first epoch, the ensemble is as it was; killed after the
    // first epoch's save, the single model has replaced it; resumed, it is the uninterrupted run's.
    const ensemble = predict(out);
    const single = [...args, '--out', out, ...more, '--seed', '3', '--overwrite'];
    r = runCli(single, { env: { RECUR_TEST_KILL_AFTER: '2' } });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    assert.equal(predict(out), ensemble);
    r = runCli(single, { env: { RECUR_TEST_KILL_AFTER: '8' } });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    assert.equal(existsSync(join(out, 'ensemble.json')), false);
    assert.notEqual(predict(out), ensemble);
    // A bare --resume: the single run keeps the threads it recorded, as an ensemble does.
    r = runCli([...args, '--out', out, '--resume', '-q']);
    assert.equal(r.code, 0, r.stderr);
    sameModel(singleRef, out);
    assert.equal(
      readFileSync(join(out, 'log.csv'), 'utf8'),
      readFileSync(join(singleRef, 'log.csv'), 'utf8'),
    );
    assert.deepEqual(
      readdirSync(out)
        .filter((n) => !n.startsWith('weights-'))
        .sort(),
      ['checkpoint', 'log.csv', 'model.json'],
    );
    assert.equal(predict(out), predict(singleRef));
  });

  it('recur seq2seq train --ensemble (no joint n-gram): killed anywhere (kill -9), resumed, exactly the uninterrupted run', () => {
    const tsv = join(dir, 'ens-pairs.tsv');
    writeFileSync(tsv, pairs(120, 4));
    // (Its distinct pairs are few: batches of 2 make epochs of several.)
    const args = ['seq2seq', 'train', tsv, '--units', '8', '--embedding-dim', '8', '--batch-size', '2'];
    const more = ['--threads', '1', '--epochs', '2', '-q'];
    const out = join(dir, 'ens-s2s-run');
    const reference = join(dir, 'ens-s2s-reference');
    const predict = (d: string): string => {
      const r = runCli(['seq2seq', 'predict', d, 'the cat and the dog', '-q']);
      assert.equal(r.code, 0, `${d} does not load: ${r.stderr}`);
      return r.stdout;
    };
    let r = runCli([...args, '--out', out, ...more, '--seed', '5', '--epochs', '1']);
    assert.equal(r.code, 0, r.stderr);
    r = runCli([...args, '--out', reference, ...more, '--seed', '2', '--ensemble', '2']);
    assert.equal(r.code, 0, r.stderr);
    killWalk(
      [...args, '--out', out, ...more, '--seed', '2', '--ensemble', '2', '--overwrite'],
      ['seq2seq', 'train', tsv, '--out', out, '--resume', '-q'],
      () => predict(out),
      { state: 11 },
    );
    sameEnsemble(reference, out);
    assert.equal(predict(out), predict(reference));
  });
});

describe('--overwrite of a seq2seq model with a joint n-gram keeps model and n-gram until the new run replaces both', () => {
  const tsv = (): string => join(dir, 'ngram-spell.tsv');
  const args = (): string[] => [
    ...['seq2seq', 'train', tsv(), '--source-tokens', 'chars', '--target-tokens', 'words'],
    // Epochs of 6 batches: the walk's kills (after 1–12) let an epoch finish now and then.
    ...['--units', '6', '--embedding-dim', '4', '--batch-size', '16'],
  ];
  const more = ['--threads', '1', '--epochs', '2', '-q'];
  const singleRef = (): string => join(dir, 'ngram-single-reference');
  const ensembleRef = (): string => join(dir, 'ngram-ensemble-reference');
  /** An epoch's batches, so that a kill can fall after the first epoch's saves (and before the run's end). */
  let batches = 0;
  const predict = (d: string): string => {
    const r = runCli(['seq2seq', 'predict', d, 'abcd', 'fade', 'cab', '--json']);
    assert.equal(r.code, 0, `${d} does not load: ${r.stderr}`);
    return r.stdout;
  };
  before(() => {
    writeFileSync(tsv(), spellings(120, 4));
    let r = runCli([
      ...args(),
      '--out',
      singleRef(),
      ...more.slice(0, -1),
      '--seed',
      '3',
      '--joint-ngram',
      '2',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const pairCount = Number(/ ([0-9,]+) training pairs/.exec(r.stderr)![1].replace(/,/g, ''));
    batches = Math.ceil(pairCount / 16);
    r = runCli([
      ...args(),
      '--out',
      ensembleRef(),
      ...more,
      '--seed',
      '2',
      '--ensemble',
      '2',
      '--joint-ngram',
      '2',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(seq2seqState(singleRef()).ngram, '');
  });

  /** Trains the model an --overwrite run replaces into `out`: another seed and n-gram order than the new runs'. */
  function trainOld(out: string): void {
    const r = runCli([
      ...args(),
      '--out',
      out,
      ...more,
      '--seed',
      '5',
      '--epochs',
      '1',
      '--joint-ngram',
      '3',
    ]);
    assert.equal(r.code, 0, r.stderr);
  }

  /** Puts the user's files into `out`; returns the check that they are untouched. */
  function withUserFiles(out: string): () => void {
    // (One named like an n-gram, of recur's format, and one in a subdirectory.)
    const mine: Record<string, string> = {
      'notes.txt': 'my notes\n',
      'my-ngram.json': '{"format":"recur-joint-ngram"}\n',
      'mine/joint-ngram.json': 'mine\n',
    };
    mkdirSync(join(out, 'mine'));
    for (const [n, text] of Object.entries(mine)) writeFileSync(join(out, n), text);
    return () => {
      for (const [n, text] of Object.entries(mine)) assert.equal(readFileSync(join(out, n), 'utf8'), text, n);
    };
  }

  /** A single run replacing the model in `out`: killed before its first save, killed after it, resumed. */
  function replaceBySingle(out: string, untouched: () => void): void {
    const old = seq2seqState(out);
    const oldAnswer = predict(out);
    const single = [...args(), '--out', out, ...more, '--seed', '3', '--joint-ngram', '2', '--overwrite'];
    let r = runCli(single, { env: { RECUR_TEST_KILL_AFTER: '2' } });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    assert.deepEqual(seq2seqState(out), old);
    assert.equal(predict(out), oldAnswer);
    untouched();
    r = runCli(single, { env: { RECUR_TEST_KILL_AFTER: String(batches + 2) } });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    assert.equal(existsSync(join(out, 'ensemble.json')), false);
    assert.equal(seq2seqState(out).ngram, seq2seqState(singleRef()).ngram);
    predict(out);
    untouched();
    r = runCli([...args(), '--out', out, '--resume', '--threads', '1', '-q']);
    assert.equal(r.code, 0, r.stderr);
    sameModel(singleRef(), out);
    assert.equal(seq2seqState(out).ngram, seq2seqState(singleRef()).ngram);
    assert.equal(
      readFileSync(join(out, 'log.csv'), 'utf8'),
      readFileSync(join(singleRef(), 'log.csv'), 'utf8'),
    );
    assert.equal(predict(out), predict(singleRef()));
    // Nothing of the replaced model is left, its n-gram included.
    assert.deepEqual(
      readdirSync(out)
        .filter((n) => !n.startsWith('weights-') && !ignored.includes(n))
        .sort(),
      ['checkpoint', 'log.csv', 'model.json', ...ngramFiles(out)].sort(),
    );
    assert.equal(ngramFiles(out).length, 1);
    untouched();
  }

  it('a single model replaced by a single model: killed before the first save, the old model with its n-gram; after it, the new with its own; resumed, the uninterrupted run', () => {
    const out = join(dir, 'ngram-single-single');
    trainOld(out);
    const untouched = withUserFiles(out);
    replaceBySingle(out, untouched);
    // `seq2seq ngram --overwrite` on a model that names its n-gram: a new file, which model.json (and the checkpoint,
    // for a later --resume) then names; the replaced one goes.
    const before = ngramFiles(out);
    let r = runCli(['seq2seq', 'ngram', out, '--order', '3', '-q']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /joint-ngram-[0-9a-f]{8}\.json exists; give --overwrite/);
    r = runCli(['seq2seq', 'ngram', out, '--order', '3', '--overwrite', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const [now] = ngramFiles(out);
    assert.equal(ngramFiles(out).length, 1);
    assert.notEqual(now, before[0]);
    assert.equal(JSON.parse(seq2seqState(out).ngram).order, 3);
    const named = (f: string): unknown =>
      (JSON.parse(readFileSync(f, 'utf8')) as { userDefinedMetadata: { jointNgram?: unknown } })
        .userDefinedMetadata.jointNgram;
    assert.equal(named(join(out, 'checkpoint', 'model.json')), now);
    predict(out);
    untouched();
  });

  it('an ensemble replaced by a single model: the same', () => {
    const out = join(dir, 'ngram-ensemble-single');
    cpSync(ensembleRef(), out, { recursive: true });
    replaceBySingle(out, withUserFiles(out));
  });

  it('a single model replaced by an ensemble: killed anywhere (kill -9), the old model with its n-gram or the new ensemble with its own; resumed, the uninterrupted run', () => {
    const out = join(dir, 'ngram-single-ensemble');
    trainOld(out);
    const untouched = withUserFiles(out);
    const old = seq2seqState(out);
    const ensembleNgram = seq2seqState(ensembleRef()).ngram;
    killWalk(
      [
        ...args(),
        '--out',
        out,
        ...more,
        '--seed',
        '2',
        '--ensemble',
        '2',
        '--joint-ngram',
        '2',
        '--overwrite',
      ],
      [...args(), '--out', out, '--resume', '-q'],
      () => {
        predict(out);
        const now = seq2seqState(out);
        if (existsSync(join(out, 'ensemble.json'))) assert.equal(now.ngram, ensembleNgram);
        else assert.deepEqual(now, old);
        untouched();
      },
      { state: 13 },
    );
    sameEnsemble(ensembleRef(), out);
    assert.equal(seq2seqState(out).ngram, ensembleNgram);
    assert.equal(predict(out), predict(ensembleRef()));
    untouched();
  });
});
