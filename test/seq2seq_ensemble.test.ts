/**
 * `recur seq2seq train --ensemble N` end to end on small pairs the test makes: the layout and record, member 1 = the
 * single model of the run's seed, the other members on the same split with their own init seeds; eval and predict
 * of the ensemble directory (one thread = the pool); the time budget split between members; exact resume after
 * Ctrl-C or kill -9 in any member; --val-words; and a seeded fuzz test of the ensemble.json loader (library and CLI).
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import { ENSEMBLE_FILE, memberSeed, parseEnsembleRecord } from '../src/models/seed_ensemble.js';
import { loadFunctionalModel } from '../src/node/model_io.js';
import { loadSeq2SeqDir } from '../src/node/seq2seq_dir.js';
import { loadServedModels, type Seq2SeqServed } from '../src/node/server.js';
import { parseSeq2SeqMetadata } from '../src/seq2seq/seq2seq.js';
import { expectSnakeKeys, runCli, runCliOk } from './cli_helpers.js';

const root = mkdtempSync(join(tmpdir(), 'recur-s2s-ens-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Word-for-word "translation" of short phrases. */
function pairsText(n: number, seed: number): string {
  const en = ['cat', 'dog', 'bird', 'fish', 'tree', 'sun'];
  const fr = ['chat', 'chien', 'oiseau', 'poisson', 'arbre', 'soleil'];
  const rng = new Random(seed);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = rng.int(6);
    const b = rng.int(6);
    lines.push(`the ${en[a]} and the ${en[b]}\tle ${fr[a]} et le ${fr[b]}`);
  }
  return lines.join('\n') + '\n';
}

const pairs = join(root, 'pairs.tsv');
writeFileSync(pairs, pairsText(200, 1));
// 36 distinct sources, 32 to train on in batches of 8: 4 batches an epoch, 8 a member.
const SMALL = ['--units', '8', '--embedding-dim', '6', '--batch-size', '8', '--lr', '0.01', '--seed', '3'];
const train = (out: string, ...extra: string[]): string[] => [
  'seq2seq',
  'train',
  pairs,
  '--out',
  out,
  '--epochs',
  '2',
  '--threads',
  '1',
  '-q',
  ...SMALL,
  ...extra,
];

/** The loss columns of a run directory's log.csv. */
function losses(dir: string): string[] {
  const [head, ...rows] = readFileSync(join(dir, 'log.csv'), 'utf8').trim().split('\n');
  const cols = head.split(',');
  return rows.map((r) => ['loss', 'val_loss', 'val_wer'].map((k) => r.split(',')[cols.indexOf(k)]).join(','));
}

/** Every member's best and checkpoint weights and losses. */
function snapshot(dir: string, members: number): unknown[] {
  const out: unknown[] = [];
  for (let k = 1; k <= members; k++) {
    const m = join(dir, 'members', String(k));
    for (const d of [m, join(m, 'checkpoint')])
      out.push(
        loadFunctionalModel(d)
          .model.getWeights()
          .map((w) => Array.from(w.data)),
      );
    out.push(losses(m));
  }
  return out;
}

/** Where a member's checkpoint stands: [epoch, batch]. */
function memberState(dir: string): [number, number] {
  const ckpt = join(dir, 'checkpoint');
  const state = parseSeq2SeqMetadata(loadFunctionalModel(ckpt).metadata, ckpt).state!;
  return [state.epoch, state.batch];
}

const jsonLines = (s: string): Record<string, unknown>[] =>
  s
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('recur seq2seq train --ensemble', () => {
  const ens = join(root, 'ens');
  const single = join(root, 'single');
  before(() => {
    runCliOk(train(ens, '--ensemble', '2'));
    runCliOk(train(single));
  });

  it('trains members on one split, member 1 the single model of the seed, the others their own init seeds', () => {
    const rec = parseEnsembleRecord(
      readFileSync(join(ens, ENSEMBLE_FILE), 'utf8'),
      'x',
      'recur-seq2seq-ensemble',
    );
    assert.equal(rec.size, 2);
    assert.deepEqual(rec.members, ['members/1', 'members/2']);
    assert.deepEqual(rec.memberSeeds, [3, memberSeed(3, 2)]);
    assert.deepEqual(losses(join(ens, 'members', '1')), losses(single));
    assert.notDeepEqual(losses(join(ens, 'members', '2')), losses(single));
    const metas = [1, 2].map((k) => {
      const d = join(ens, 'members', String(k));
      return parseSeq2SeqMetadata(loadFunctionalModel(d).metadata, d);
    });
    assert.deepEqual(
      metas.map((m) => [m.settings.seed, m.settings.initSeed]),
      [
        [3, null],
        [3, memberSeed(3, 2)],
      ],
    );
    assert.deepEqual(metas[0].sourceTokens, metas[1].sourceTokens);
    const loaded = loadSeq2SeqDir(ens);
    assert.equal(loaded.app.members.length, 2);
    assert.equal(loaded.ensemble?.size, 2);
    // recur serve takes the directory as a seq2seq model with both members.
    const [served] = loadServedModels([ens]);
    assert.equal(served.kind, 'seq2seq');
    assert.equal((served as Seq2SeqServed).app!.members.length, 2);
  });

  it('eval and predict take the ensemble directory; the pool answers as one thread', () => {
    for (const beam of ['1', '3']) {
      const args = ['seq2seq', 'eval', ens, pairs, '--json', '--beam', beam, '--batch-size', '4'];
      const one = JSON.parse(runCliOk([...args, '--threads', '1'])) as Record<string, number>;
      const two = JSON.parse(runCliOk([...args, '--threads', '2'])) as Record<string, number>;
      assert.deepEqual({ ...one, seconds: 0 }, { ...two, seconds: 0 }, `beam ${beam}`);
      assert.equal(one.n, 36);
    }
    const p = jsonLines(
      runCliOk(['seq2seq', 'predict', ens, 'the cat and the dog', '--json', '--beam', '2']),
    );
    assert.equal(p.length, 1);
    assert.equal(typeof p[0].output, 'string');
  });

  it('splits a time budget between the members: each trains, then joins the ensemble', () => {
    const out = join(root, 'budget');
    // 0.6 s of wall time each: far less than the 1000 epochs asked for.
    const r = runCli([
      ...train(out, '--ensemble', '2', '--time-limit', '0.02', '--json'),
      '--epochs',
      '1000',
    ]);
    assert.equal(r.code, 0, r.stderr);
    expectSnakeKeys(r.stdout);
    const lines = jsonLines(r.stdout);
    for (const k of [1, 2])
      assert.ok(
        lines.some((l) => l.member === k && l.event === 'time_limit'),
        `member ${k} stopped by its share of the budget`,
      );
    const rec = parseEnsembleRecord(
      readFileSync(join(out, ENSEMBLE_FILE), 'utf8'),
      'x',
      'recur-seq2seq-ensemble',
    );
    assert.deepEqual(rec.members, ['members/1', 'members/2']);
    const test = lines.find((l) => l.event === 'test')!;
    assert.equal((test.members as unknown[]).length, 2);
    // A member whose share is spent joins the ensemble as it is, and a --resume continues it, as classify's does.
    const talk = runCli([
      ...train(join(root, 'budget-talk'), '--ensemble', '2', '--time-limit', '0.02').filter(
        (a) => a !== '-q',
      ),
      '--epochs',
      '1000',
    ]);
    assert.equal(talk.code, 0, talk.stderr);
    assert.match(
      talk.stderr,
      /Its share of the time budget is spent: it joins the ensemble as it is \(a --resume of the ensemble continues it\)/,
    );
    assert.match(
      talk.stderr,
      /Time limit reached: member\(s\) 1, 2 of 2 joined the ensemble before their 1000 epochs\. Continue with: recur seq2seq train --out \S+budget-talk --resume --threads 1/,
    );
    const before = [1, 2].map((k) => memberState(join(out, 'members', String(k))));
    const again = runCli(['seq2seq', 'train', '--out', out, '--resume', '--time-limit', '0.02', '--json']);
    assert.equal(again.code, 0, again.stderr);
    const more = jsonLines(again.stdout);
    for (const k of [1, 2]) {
      assert.ok(
        more.some((l) => l.member === k && l.event === 'time_limit'),
        `member ${k} trained on`,
      );
      const [epoch, batch] = memberState(join(out, 'members', String(k)));
      assert.ok(epoch > before[k - 1][0] || batch > before[k - 1][1], `member ${k} advanced`);
    }
    assert.deepEqual(
      more.find((l) => l.event === 'time_limit' && l.member === undefined),
      {
        event: 'time_limit',
        members_cut_short: [1, 2],
        members: 2,
      },
    );
  });

  it('--target-order both: odd members write forward, even members reversed; the ensemble decodes by agreement', () => {
    const both = join(root, 'both');
    runCliOk(train(both, '--ensemble', '2', '--target-order', 'both'));
    const metas = [1, 2].map((k) => {
      const d = join(both, 'members', String(k));
      return parseSeq2SeqMetadata(loadFunctionalModel(d).metadata, d);
    });
    assert.deepEqual(
      metas.map((m) => m.settings.targetOrder),
      ['forward', 'reversed'],
    );
    // Member 1 is the forward run of the seed, as in a one-order ensemble.
    assert.deepEqual(losses(join(both, 'members', '1')), losses(single));
    assert.deepEqual(loadSeq2SeqDir(both).app.memberOrders, ['forward', 'reversed']);
    for (const beam of ['1', '3']) {
      const args = ['seq2seq', 'eval', both, pairs, '--json', '--beam', beam, '--batch-size', '4'];
      const one = JSON.parse(runCliOk([...args, '--threads', '1'])) as Record<string, number>;
      const two = JSON.parse(runCliOk([...args, '--threads', '2'])) as Record<string, number>;
      assert.deepEqual({ ...one, seconds: 0 }, { ...two, seconds: 0 }, `beam ${beam}`);
    }
    // The reversed member alone answers in reading order: its outputs are French word for word.
    const alone = jsonLines(
      runCliOk(['seq2seq', 'predict', join(both, 'members', '2'), 'the cat and the dog', '--json']),
    );
    assert.match(alone[0].output as string, /^le /);
    const r = runCli(train(join(root, 'both-single'), '--target-order', 'both'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--target-order both .*--ensemble 2 or more/);
  });

  it('resumes exactly after Ctrl-C or kill -9 in any member, before or after a checkpoint', () => {
    const whole = snapshot(ens, 2);
    const cases: [string, string, number][] = [
      ['RECUR_TEST_INTERRUPT_AFTER', '10', 130], // member 2, epoch 1, mid-epoch checkpoint
      // Ctrl-C as the ensemble's lock is taken, before any member is built: member 1 stops after its first batch
      // (it used to kill the run, saying nothing, with the lock left).
      ['RECUR_TEST_INTERRUPT_AT_START', '1', 130],
      ['RECUR_TEST_KILL_AFTER', '2', -1], // member 1 before its first checkpoint
      ['RECUR_TEST_KILL_AFTER', '13', -1], // member 2, epoch 2, after member 1
    ];
    for (const [hook, after, code] of cases) {
      const part = join(root, `part-${hook}-${after}`);
      const stopped = runCli(train(part, '--ensemble', '2'), { env: { [hook]: after } });
      assert.equal(stopped.code, code, `${hook}=${after}: ${stopped.stderr}`);
      if (code === 130)
        assert.ok(!existsSync(join(part, 'recur.lock')), `${hook}=${after}: the lock is released`);
      const resumed = runCli(['seq2seq', 'train', '--out', part, '--resume', '--threads', '1', '-q']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.deepEqual(snapshot(part, 2), whole, `${hook}=${after}`);
      // Resuming a finished ensemble trains nothing more.
      runCliOk(['seq2seq', 'train', '--out', part, '--resume', '--threads', '1', '-q']);
      assert.deepEqual(snapshot(part, 2), whole);
    }
    // --epochs with --resume trains every member on to them (and a later resume keeps them), as a single run's does.
    const longer = join(root, 'longer');
    cpSync(ens, longer, { recursive: true });
    runCliOk(['seq2seq', 'train', '--out', longer, '--resume', '--epochs', '3', '--threads', '1', '-q']);
    assert.deepEqual(
      [memberState(join(longer, 'members', '1')), memberState(join(longer, 'members', '2'))],
      [
        [3, 0],
        [3, 0],
      ],
    );
    const rerun = runCli(['seq2seq', 'train', '--out', longer, '--resume', '--threads', '1']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(
      rerun.stderr,
      /is trained to its 3 epochs: nothing to resume \(give more --epochs to train on\)/,
    );
    // A run cut short by its time budget (0.3 CPU-seconds a member: a few of 400 batches), resumed without one, ends
    // as the run without one.
    const long = ['--ensemble', '2', '--epochs', '100'];
    const uncut = join(root, 'uncut');
    runCliOk(train(uncut, ...long));
    const budgeted = join(root, 'part-budget');
    runCliOk(train(budgeted, ...long, '--cpu-time-limit', '0.01'));
    assert.notDeepEqual(snapshot(budgeted, 2), snapshot(uncut, 2));
    runCliOk(['seq2seq', 'train', '--out', budgeted, '--resume', '--threads', '1', '-q']);
    assert.deepEqual(snapshot(budgeted, 2), snapshot(uncut, 2), 'resumed after its time budget');
    const seeded = runCli(train(join(root, 'seeded'), '--ensemble', '2', '--init-seed', '5'));
    assert.equal(seeded.code, 2);
    assert.match(seeded.stderr, /--init-seed with --ensemble/);
    const other = runCli(['seq2seq', 'train', '--out', ens, '--resume', '--ensemble', '3', '-q']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /holds an ensemble of 2 members/);
    // The members keep the first command's model: its flags again are fine, a different one is bad usage.
    runCliOk([...train(ens, '--ensemble', '2'), '--resume']);
    for (const [flag, value, message] of [
      ['--units', '6', /--units 6 with --resume: the checkpoint's run uses 8/],
      [
        '--target-order',
        'reversed',
        /--target-order reversed with --resume: the ensemble's members were planned with forward/,
      ],
      ['--joint-ngram', '3', /--joint-ngram 3 with --resume: the ensemble was started with 0/],
    ] as const) {
      const changed = runCli([...train(ens, '--ensemble', '2'), '--resume', flag, value]);
      assert.equal(changed.code, 2, changed.stderr);
      assert.match(changed.stderr, message);
    }
    assert.deepEqual(snapshot(ens, 2), whole);
  });

  it('--val-words decodes the first n validation sources, or all; resumed runs keep theirs', () => {
    const one = join(root, 'val1');
    const lines = jsonLines(
      runCliOk([...train(one, '--val-words', '1', '--json')].filter((a) => a !== '-q')),
    );
    for (const l of lines.filter((x) => x.epoch !== undefined)) assert.ok(l.val_wer === 0 || l.val_wer === 1);
    const meta = (d: string) => parseSeq2SeqMetadata(loadFunctionalModel(d).metadata, d).settings;
    assert.equal(meta(one).validationWords, 1);
    const all = join(root, 'valall');
    runCliOk(train(all, '--val-words', 'all'));
    assert.equal(meta(all).validationWords, null);
    const bad = runCli(train(join(root, 'valbad'), '--val-words', 'some'));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--val-words/);
    const changed = runCli([...train(one, '--val-words', '5', '--epochs', '3'), '--resume']);
    assert.equal(changed.code, 2);
    assert.match(changed.stderr, /--val-words 5 with --resume: the checkpoint's run uses 1/);
    // 'all' is named as typed, on either side (the settings keep it as null).
    const toAll = runCli([...train(one, '--val-words', 'all', '--epochs', '3'), '--resume']);
    assert.equal(toAll.code, 2);
    assert.match(toAll.stderr, /--val-words all with --resume: the checkpoint's run uses 1;/);
    const fromAll = runCli([...train(all, '--val-words', '5', '--epochs', '3'), '--resume']);
    assert.equal(fromAll.code, 2);
    assert.match(fromAll.stderr, /--val-words 5 with --resume: the checkpoint's run uses all;/);
  });
});

describe('ensemble.json (seeded fuzz)', () => {
  const good = {
    format: 'recur-seq2seq-ensemble',
    version: 1,
    size: 2,
    seed: 3,
    memberSeeds: [3, 7],
    members: ['members/1', 'members/2'],
    training: { data: null, options: { epochs: 2 } },
  };

  it('names the field of a bad record, and refuses another kind of ensemble', () => {
    assert.equal(parseEnsembleRecord(JSON.stringify(good), 'e.json', 'recur-seq2seq-ensemble').size, 2);
    const bad: [unknown, RegExp][] = [
      ['{', /e\.json: not valid JSON/],
      [
        { ...good, format: 'recur-classifier-ensemble' },
        /format: this is a classifier ensemble, not a seq2seq one/,
      ],
      [{ ...good, format: 'x' }, /e\.json: format/],
      [{ ...good, memberSeeds: [3] }, /memberSeeds: 1 seeds for an ensemble of size 2/],
      [{ ...good, members: ['members/3'] }, /members\.0: members\/3 is past size 2/],
      [{ ...good, members: ['../x'] }, /members\.0: a path members\/K/],
      [{ ...good, version: 2 }, /version/],
      [[], /\(top level\)/],
    ];
    for (const [v, re] of bad)
      assert.throws(
        () =>
          parseEnsembleRecord(
            typeof v === 'string' ? v : JSON.stringify(v),
            'e.json',
            'recur-seq2seq-ensemble',
          ),
        (e: Error) => e instanceof InvalidInputError && re.test(e.message),
        String(re),
      );
  });

  it('every damaged ensemble.json parses or fails with an InvalidInputError naming the file', () => {
    const text = JSON.stringify(good, null, 2);
    const rng = new Random(2026);
    const pieces = ['"', '{', '}', '[', ']', ',', ':', '-1', '0', '1e400', 'null', 'true', '"members/9"', ''];
    for (let trial = 0; trial < 400; trial++) {
      let t = text;
      for (let e = 1 + rng.int(3); e > 0; e--) {
        const at = rng.int(t.length + 1);
        const cut = rng.int(4);
        t = t.slice(0, at) + pieces[rng.int(pieces.length)] + t.slice(at + cut);
      }
      try {
        const rec = parseEnsembleRecord(t, 'e.json', 'recur-seq2seq-ensemble');
        assert.equal(rec.memberSeeds.length, rec.size);
      } catch (err) {
        assert.ok(err instanceof InvalidInputError, `trial ${trial}: ${(err as Error).stack}`);
        assert.match((err as Error).message, /^e\.json: /);
      }
    }
  });

  it('the CLI exits 2 naming the file on a damaged or inconsistent ensemble, never with a stack trace', () => {
    const ens = join(root, 'ens');
    const rng = new Random(7);
    const text = readFileSync(join(ens, ENSEMBLE_FILE), 'utf8');
    const cases: [string, (dir: string) => void][] = [
      [
        'truncated',
        (d) => writeFileSync(join(d, ENSEMBLE_FILE), text.slice(0, 10 + rng.int(text.length - 20))),
      ],
      [
        'no members yet',
        (d) => writeFileSync(join(d, ENSEMBLE_FILE), text.replace(/"members": \[[^\]]*\]/, '"members": []')),
      ],
      ['a member gone', (d) => rmSync(join(d, 'members', '2', 'model.json'))],
      [
        'a member of other data',
        (d) => {
          const f = join(d, 'members', '2', 'model.json');
          writeFileSync(f, readFileSync(f, 'utf8').replace(/"data": *"[^"]*"/, '"data": "other.tsv"'));
        },
      ],
    ];
    const want = [
      /ensemble\.json: /,
      /no finished members yet; continue the run with recur seq2seq train/,
      /members\/2: member listed in .*has no model\.json/,
      /members\/2: this ensemble member cannot decode with the others: it was trained on other\.tsv/,
    ];
    cases.forEach(([name, damage], i) => {
      const d = join(root, `damaged-${i}`);
      cpSync(ens, d, { recursive: true });
      damage(d);
      for (const args of [
        ['seq2seq', 'eval', d, pairs, '--threads', '1'],
        ['seq2seq', 'predict', d, 'the cat'],
      ]) {
        const r = runCli(args);
        assert.equal(r.code, 2, `${name}: ${r.stderr}`);
        assert.match(r.stderr, want[i], name);
        assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
      }
    });
  });
});
