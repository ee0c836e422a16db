/**
 * Classifier seed ensembles (`recur classify train --ensemble N`, src/classify/ensemble.ts, src/cli/classify_ensemble.ts):
 * the averaging maths by hand, the member seeds, ensemble.json's checks; through the built CLI on small review data:
 * N = 1 keeps the single-model layout and bytes, N = 3 writes members/1…3 whose member 1 is the single model of the
 * seed, `eval` and `predict` (one thread and the inference pool) agree with averaging the members' own `predict
 * --json` class probabilities, resume after Ctrl-C or kill -9 in any member gives the uninterrupted ensemble bit for
 * bit, a spent time budget ends with the members so far, `recur serve` answers as `predict`, and bad flags or a
 * damaged member are exit-2 errors naming them.
 */
import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ENSEMBLE_FILE,
  averageProbabilities,
  memberSeed,
  parseEnsembleRecord,
} from '../src/classify/ensemble.js';
import { InvalidInputError } from '../src/core/errors.js';
import '../src/node/index.js';
import { createInferencePool } from '../src/node/inference_pool.js';
import { loadClassifierDir } from '../src/node/classifier_dir.js';
import { loadModel } from '../src/node/model_io.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { attachInferencePool, createServeApp, loadServedModels } from '../src/node/server.js';
import { expectSnakeKeys, reviews, runCli, runCliOk } from './cli_helpers.js';
import { listen } from './serve_helpers.js';

const SMALL = ['--units', '8', '--embedding-dim', '8', '--batch-size', '16', '--threads', '1', '--seed', '3'];
const TEXTS = ['the film was great', 'a dull plot and a very bad story', 'story', 'zebra unseen words'];

interface Prediction {
  text: string;
  label: string;
  probability: number;
  probabilities: Record<string, number>;
}
const jsonLines = <T>(out: string): T[] =>
  out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as T);

/** Every weight array of each member's saved model and checkpoint, and each member's log.csv. */
function snapshot(dir: string, members: number): unknown[] {
  const out: unknown[] = [];
  for (let k = 1; k <= members; k++) {
    const m = join(dir, 'members', String(k));
    out.push(
      loadModel(m)
        .model.getWeights()
        .map((w) => Array.from(w.data)),
    );
    out.push(
      loadModel(join(m, 'checkpoint'))
        .model.getWeights()
        .map((w) => Array.from(w.data)),
    );
    out.push(readFileSync(join(m, 'log.csv'), 'utf8'));
  }
  out.push(JSON.parse(readFileSync(join(dir, ENSEMBLE_FILE), 'utf8')));
  return out;
}

describe('classifier seed ensembles: the maths', () => {
  it('averages each class probability over the members (hand-computed), once rounded to float32', () => {
    const a = Float32Array.from([0.2, 0.8, 0.5, 0.5]);
    const b = Float32Array.from([0.6, 0.4, 0.1, 0.9]);
    const c = Float32Array.from([0.1, 0.9, 0.3, 0.7]);
    const mean = averageProbabilities([a, b, c]);
    const expected = [
      (0.2 + 0.6 + 0.1) / 3,
      (0.8 + 0.4 + 0.9) / 3,
      (0.5 + 0.1 + 0.3) / 3,
      (0.5 + 0.9 + 0.7) / 3,
    ];
    expected.forEach((e, i) => assert.ok(Math.abs(mean[i] - e) < 1e-7, `${i}: ${mean[i]} vs ${e}`));
    // Text 1: members say pos (0.8), neg (0.6), pos (0.9): the mean says pos at 0.7, not the mean of 0.8, 0.6, 0.9.
    assert.ok(Math.abs(mean[1] - 0.7) < 1e-7);
    assert.equal(averageProbabilities([a]), a);
    assert.throws(() => averageProbabilities([]), /no members/);
    assert.throws(() => averageProbabilities([a, Float32Array.from([1])]), /member 2 has 1/);
  });

  it('derives member seeds from the run seed: member 1 is the seed itself, the others distinct 31-bit values', () => {
    for (const seed of [0, 1, 3, 2 ** 32 - 1]) {
      assert.equal(memberSeed(seed, 1), seed);
      const seeds = Array.from({ length: 20 }, (_, k) => memberSeed(seed, k + 1));
      assert.equal(new Set(seeds).size, 20, `seed ${seed}`);
      for (const s of seeds.slice(1)) assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 31);
      assert.deepEqual(
        seeds,
        Array.from({ length: 20 }, (_, k) => memberSeed(seed, k + 1)),
      );
    }
    assert.notEqual(memberSeed(1, 2), memberSeed(2, 2));
    assert.throws(() => memberSeed(1, 0), /count from 1/);
  });

  it('checks ensemble.json, naming the field', () => {
    const good = {
      format: 'recur-classifier-ensemble',
      version: 1,
      size: 2,
      seed: 3,
      memberSeeds: [3, 7],
      members: ['members/1'],
      training: { data: null, options: {} },
    };
    assert.equal(parseEnsembleRecord(JSON.stringify(good), 'e.json').size, 2);
    const bad: [unknown, RegExp][] = [
      ['{', /e\.json: not valid JSON/],
      [{ ...good, memberSeeds: [3] }, /memberSeeds: 1 seeds for an ensemble of size 2/],
      [{ ...good, members: ['members/3'] }, /members\.0: members\/3 is past size 2/],
      [{ ...good, members: ['members/1', 'members/1'] }, /listed twice/],
      [{ ...good, members: ['../x'] }, /members\.0: a path members\/K/],
      [{ ...good, size: 0 }, /size/],
      [{ ...good, extra: 1 }, /extra|Unrecognized/],
    ];
    for (const [v, re] of bad)
      assert.throws(
        () => parseEnsembleRecord(typeof v === 'string' ? v : JSON.stringify(v), 'e.json'),
        (e: Error) => e instanceof InvalidInputError && re.test(e.message),
        String(re),
      );
  });
});

describe('recur classify train --ensemble', () => {
  let dir = '';
  let csv = '';
  let single = '';
  let ens = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-ensemble-'));
    csv = join(dir, 'reviews.csv');
    writeFileSync(csv, reviews(240, 1));
    single = join(dir, 'single');
    ens = join(dir, 'ens');
    runCliOk(['classify', 'train', csv, '--out', single, '--epochs', '2', '-q', ...SMALL]);
  });
  after(async () => {
    await shutdownWorkerPool();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--ensemble 1 is the single model: the same files, the same bytes', () => {
    const one = join(dir, 'one');
    runCliOk(['classify', 'train', csv, '--out', one, '--epochs', '2', '-q', '--ensemble', '1', ...SMALL]);
    // Weights files are named by a random hex: compare their shapes, then the contents.
    const names = (d: string): string[] =>
      readdirSync(d)
        .map((n) => n.replace(/^weights-[0-9a-f]+\.bin$/, 'weights-HEX.bin'))
        .sort();
    assert.deepEqual(names(one), names(single));
    assert.deepEqual(names(join(one, 'checkpoint')), names(join(single, 'checkpoint')));
    assert.ok(!existsSync(join(one, ENSEMBLE_FILE)) && !existsSync(join(one, 'members')));
    assert.equal(readFileSync(join(one, 'log.csv'), 'utf8'), readFileSync(join(single, 'log.csv'), 'utf8'));
    for (const d of ['', 'checkpoint']) {
      const a = loadModel(join(one, d));
      const b = loadModel(join(single, d));
      // The integrity record names the weights files and hashes their manifest, which holds those names; the
      // checkpoint's history has the epochs' timings.
      const same = (m: unknown): string =>
        JSON.stringify(m)
          .replace(/weights-[0-9a-f]+\.bin/g, 'weights-HEX.bin')
          .replace(/"weightsManifest":"[0-9a-f]+"/, '')
          .replace(/"seconds":[^,]+,"samples_per_sec":[^,}]+/g, '');
      assert.equal(same(a.metadata), same(b.metadata), d);
      b.model.getWeights().forEach((w, i) => assert.deepEqual(a.model.getWeights()[i].data, w.data));
    }
  });

  it('N = 3: members/1…3 (member 1 = the single model of the seed), member lines in --json and log.csv', () => {
    const out = runCliOk([
      'classify',
      'train',
      csv,
      '--out',
      ens,
      '--epochs',
      '2',
      '--ensemble',
      '3',
      '--json',
      ...SMALL,
    ]);
    const lines = jsonLines<Record<string, unknown>>(out);
    const epochs = lines.filter((l) => typeof l.epoch === 'number' && l.event === undefined);
    assert.deepEqual(
      epochs.map((l) => [l.member, l.members, l.epoch]),
      [1, 2, 3].flatMap((m) => [
        [m, 3, 1],
        [m, 3, 2],
      ]),
    );
    const test = lines.find((l) => l.event === 'test')!;
    assert.ok(test, out);
    const members = test.members as { member: number; seed: number; accuracy: number; macro_f1: number }[];
    assert.deepEqual(
      members.map((m) => [m.member, m.seed]),
      [1, 2, 3].map((k) => [k, memberSeed(3, k)]),
    );
    assert.ok(test.baselines && typeof test.accuracy === 'number');
    const rec = parseEnsembleRecord(readFileSync(join(ens, ENSEMBLE_FILE), 'utf8'), 'x');
    assert.deepEqual(rec.members, ['members/1', 'members/2', 'members/3']);
    assert.equal(rec.size, 3);
    assert.equal(rec.seed, 3);
    // Member 1 trains with the run's seed: the single model's weights exactly.
    const w1 = loadModel(join(ens, 'members', '1')).model.getWeights();
    loadModel(single)
      .model.getWeights()
      .forEach((w, i) => assert.deepEqual(w1[i].data, w.data));
    // The other members differ (their own seeds) but share the split and the tokenizer.
    const w2 = loadModel(join(ens, 'members', '2')).model.getWeights();
    assert.notDeepEqual(w2[0].data, w1[0].data);
    const log = readFileSync(join(ens, 'members', '2', 'log.csv'), 'utf8').split('\n');
    assert.match(log[0], /\bmember,members\b/);
    assert.match(log[1], /,2,3,/);
    const loaded = loadClassifierDir(ens);
    assert.equal((loaded.models as unknown[]).length, 3);
  });

  it("eval and predict average the members' own class probabilities (one thread and the inference pool)", () => {
    const own = [1, 2, 3].map((k) =>
      jsonLines<Prediction>(
        runCliOk(['classify', 'predict', join(ens, 'members', String(k)), ...TEXTS, '--json']),
      ),
    );
    const got = jsonLines<Prediction>(runCliOk(['classify', 'predict', ens, ...TEXTS, '--json']));
    TEXTS.forEach((t, i) => {
      const mean = (c: string): number => own.reduce((s, m) => s + m[i].probabilities[c], 0) / 3;
      for (const c of ['neg', 'pos'])
        assert.ok(Math.abs(got[i].probabilities[c] - mean(c)) < 1e-6, `${t} ${c}`);
      const best = mean('pos') > mean('neg') ? 'pos' : 'neg';
      assert.equal(got[i].label, best, t);
      assert.equal(got[i].probability, got[i].probabilities[best]);
    });
    // The whole file through the pool (several batches on 2 workers) and on one thread: the same answers.
    const args = ['classify', 'predict', ens, '-i', csv, '--text-column', 'sentence', '--json', '-b', '32'];
    const pooled = runCliOk([...args, '--threads', '2']);
    assert.equal(pooled, runCliOk([...args, '--threads', '1']));
    // eval on the file: the accuracy of the averaged probabilities, computed here from the members' own.
    const rows = readFileSync(csv, 'utf8').trim().split('\n').slice(1);
    const truth = rows.map((r) => r.slice(r.lastIndexOf(',') + 1));
    const members = [1, 2, 3].map((k) =>
      jsonLines<Prediction>(
        runCliOk([
          'classify',
          'predict',
          join(ens, 'members', String(k)),
          '-i',
          csv,
          '--text-column',
          'sentence',
          '--json',
        ]),
      ),
    );
    let right = 0;
    truth.forEach((label, i) => {
      const pos = members.reduce((s, m) => s + m[i].probabilities.pos, 0);
      const neg = members.reduce((s, m) => s + m[i].probabilities.neg, 0);
      if ((pos > neg ? 'pos' : 'neg') === label) right++;
    });
    const report = JSON.parse(runCliOk(['classify', 'eval', ens, csv, '--json'])) as {
      accuracy: number;
      members: { member: number; accuracy: number }[];
    };
    assert.equal(report.accuracy, right / truth.length);
    // ...and each member alone, as its own predictions score.
    assert.deepEqual(
      report.members.map((m) => [m.member, m.accuracy]),
      members.map((m, k) => [k + 1, m.filter((p, i) => p.label === truth[i]).length / truth.length]),
    );
    assert.match(runCliOk(['classify', 'eval', ens, csv]), /each member alone:/);
  });

  it('resumes exactly after Ctrl-C or kill -9 in any member, before or after a checkpoint', () => {
    const args = (out: string): string[] => [
      'classify',
      'train',
      csv,
      '--out',
      out,
      '--epochs',
      '2',
      '--ensemble',
      '3',
      '-q',
      ...SMALL,
    ];
    const whole = snapshot(ens, 3);
    // 192 training texts in batches of 16: 12 batches an epoch, 24 a member.
    const cases: [string, string, number][] = [
      ['RECUR_TEST_INTERRUPT_AFTER', '30', 130], // member 2, epoch 1, mid-epoch checkpoint
      ['RECUR_TEST_KILL_AFTER', '5', -1], // member 1 before its first checkpoint
      ['RECUR_TEST_KILL_AFTER', '60', -1], // member 3, epoch 1, after members 1 and 2
    ];
    for (const [hook, after, code] of cases) {
      const part = join(dir, `part-${hook}-${after}`);
      const stopped = runCli(args(part), { env: { [hook]: after } });
      assert.equal(stopped.code, code, `${hook}=${after}: ${stopped.stderr}`);
      // The threads the members train on are kept: a resume without --threads (after a kill -9, which prints no
      // hint) trains on them again.
      const kept = JSON.parse(readFileSync(join(part, ENSEMBLE_FILE), 'utf8')) as {
        training: { options: { threads?: unknown } };
      };
      assert.ok(Number.isInteger(kept.training.options.threads), `${hook}=${after}`);
      if (after !== '60') {
        // The members keep the first command's settings: a different flag is refused, touching nothing — also when
        // no member has a checkpoint yet (the settings the stored flags give).
        const changed = runCli(['classify', 'train', '--out', part, '--resume', '-q', '--units', '12']);
        assert.equal(changed.code, 2, changed.stderr);
        assert.match(changed.stderr, /--units 12 with --resume: the checkpoint's run uses 8/);
      }
      const resumed = runCli(['classify', 'train', '--out', part, '--resume', '--threads', '1', '-q']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.deepEqual(snapshot(part, 3), whole, `${hook}=${after}`);
      // No lock of the killed run is left, in the members it finished either.
      for (const k of [1, 2, 3])
        assert.ok(
          !existsSync(join(part, 'members', String(k), 'recur.lock')),
          `${hook}=${after}: member ${k}`,
        );
      // Resuming a finished ensemble trains nothing more.
      runCliOk(['classify', 'train', '--out', part, '--resume', '--threads', '1', '-q']);
      assert.deepEqual(snapshot(part, 3), whole);
    }
  });

  it('a spent time budget ends with the members finished so far (member 1, cut short, when none is)', () => {
    const out = join(dir, 'budget');
    const r = runCli([
      'classify',
      'train',
      csv,
      '--out',
      out,
      '--epochs',
      '200',
      '--patience',
      '0',
      '--ensemble',
      '3',
      '--time-limit',
      '0.01',
      '--json',
      ...SMALL,
    ]);
    assert.equal(r.code, 0, r.stderr);
    expectSnakeKeys(r.stdout);
    const lines = jsonLines<Record<string, unknown>>(r.stdout);
    assert.ok(lines.some((l) => l.event === 'time_limit' && l.member === 1));
    assert.deepEqual(
      lines.find((l) => l.event === 'time_limit' && l.members_finished !== undefined)?.members_finished,
      [1],
    );
    assert.ok(lines.some((l) => l.event === 'test'));
    const rec = parseEnsembleRecord(readFileSync(join(out, ENSEMBLE_FILE), 'utf8'), 'x');
    assert.deepEqual(rec.members, ['members/1']);
    assert.ok(!existsSync(join(out, 'members', '2')));
  });

  it('recur serve answers an ensemble as classify predict --json does, on this thread and in the pool', async () => {
    const expected = jsonLines<Prediction>(runCliOk(['classify', 'predict', ens, ...TEXTS, '--json']));
    const served = loadServedModels([ens]);
    const server = createServeApp({ served });
    const pool = createInferencePool(2);
    const pooledServed = loadServedModels([ens]);
    await attachInferencePool(pooledServed, pool);
    const pooled = createServeApp({ served: pooledServed, pool });
    try {
      for (const app of [server, pooled]) {
        const base = await listen(app);
        const r = await fetch(base + '/v1/predict', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'ens', texts: TEXTS }),
        });
        assert.equal(r.status, 200);
        assert.deepEqual(await r.json(), { model: 'ens', predictions: expected });
        const models = (await (await fetch(base + '/v1/models')).json()) as {
          models: { name: string; classes: string[] }[];
        };
        assert.deepEqual(models.models[0].classes, ['neg', 'pos']);
      }
    } finally {
      await server.close();
      await pooled.close();
      await pool.terminate();
    }
  });

  it('bad flags and damaged members are exit-2 errors naming them', () => {
    for (const v of ['0', '1.5', 'x']) {
      const r = runCli(['classify', 'train', csv, '--out', join(dir, 'bad'), '--ensemble', v]);
      assert.equal(r.code, 2, v);
      assert.match(r.stderr, /--ensemble/);
    }
    // Data that fails before member 1 trains: exit 2, and no directory left behind (not even an empty members/).
    const oneClass = join(dir, 'one-class.csv');
    writeFileSync(oneClass, 'text,label\nhello there,a\nhi you,a\n');
    const failed = runCli(['classify', 'train', oneClass, '--out', join(dir, 'never'), '--ensemble', '3']);
    assert.equal(failed.code, 2);
    assert.match(failed.stderr, /only one class/);
    assert.equal(existsSync(join(dir, 'never')), false);
    const resumed = runCli(['classify', 'train', '--out', ens, '--resume', '--ensemble', '4']);
    assert.equal(resumed.code, 2);
    assert.match(resumed.stderr, /--ensemble 4: .* ensemble of 3 members/);
    const again = runCli(['classify', 'train', csv, '--out', ens, '--ensemble', '2', ...SMALL]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already holds a seed ensemble/);
    const exported = runCli(['export', 'pytorch', ens, join(dir, 'torch')]);
    assert.equal(exported.code, 2);
    assert.match(exported.stderr, /seed ensemble.*export one member, e\.g\. .*members\/1/);

    const damaged = join(dir, 'damaged');
    cpSync(ens, damaged, { recursive: true });
    unlinkSync(join(damaged, 'members', '2', 'model.json'));
    for (const args of [
      ['classify', 'eval', damaged],
      ['classify', 'predict', damaged, 'some text'],
    ]) {
      const r = runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /damaged\/members\/2: member listed in .*ensemble\.json has no model\.json/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    const weights = join(dir, 'weights');
    cpSync(ens, weights, { recursive: true });
    const m3 = join(weights, 'members', '3');
    const bin = readdirSync(m3).find((n) => n.endsWith('.bin'))!;
    writeFileSync(join(m3, bin), readFileSync(join(m3, bin)).subarray(0, 10));
    const r = runCli(['classify', 'predict', weights, 'some text']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /weights\/members\/3/);
    assert.throws(() => loadServedModels([weights]), InvalidInputError);
  });
});
