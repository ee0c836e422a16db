/**
 * `recur classify` and `recur seq2seq` as a user meets them across commands: a model directory of the wrong kind is
 * refused naming what it holds (exit 2); `seq2seq eval PAIRS` reads a G2P model's words as `predict` does; `recur
 * serve` answers a multi-label classifier as `classify predict --json --threshold` prints it; a classifier's --test
 * file is read again with its own columns (eval, an ensemble's test); column flags that would be ignored are refused;
 * `classify predict --input` reads JSON Lines too; a --ngram-weight for a seq2seq model without an n-gram is refused.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
// As in the CLI's process: the worker pool orders big products' sums, so answers equal the CLI's to the last bit.
import '../src/node/index.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { createServeApp, loadServedModels } from '../src/node/server.js';
import { CMUDICT_DATA } from '../src/seq2seq/seq2seq.js';
import { pairs, pseudoText, reviews, runCli, runCliOk } from './cli_helpers.js';

const root = mkdtempSync(join(tmpdir(), 'recur-apps-cli-'));
after(async () => {
  await shutdownWorkerPool();
  rmSync(root, { recursive: true, force: true });
});

const classifier = join(root, 'reviews');
const translator = join(root, 'pairs');
const textModel = join(root, 'book');

before(() => {
  writeFileSync(join(root, 'reviews.csv'), reviews(60, 1));
  writeFileSync(join(root, 'pairs.tsv'), pairs(60, 1));
  writeFileSync(join(root, 'book.txt'), pseudoText(3000, 1));
  const quiet = ['--epochs', '1', '--threads', '1', '--quiet'];
  runCliOk(['classify', 'train', join(root, 'reviews.csv'), '--out', classifier, '--units', '4', ...quiet]);
  runCliOk(['seq2seq', 'train', join(root, 'pairs.tsv'), '--out', translator, '--units', '4', ...quiet]);
  runCliOk(['train', join(root, 'book.txt'), '--out', textModel, '--units', '4', ...quiet]);
});

describe('a model directory of the wrong kind', () => {
  const cases: { args: string[]; holds: string; wanted: string }[] = [
    { args: ['seq2seq', 'predict', classifier, 'hello'], holds: 'a text classifier', wanted: 'seq2seq' },
    { args: ['seq2seq', 'eval', classifier], holds: 'a text classifier', wanted: 'seq2seq' },
    { args: ['seq2seq', 'predict', textModel, 'hello'], holds: 'a text model', wanted: 'seq2seq' },
    { args: ['classify', 'predict', translator, 'hello'], holds: 'a seq2seq model', wanted: 'classify' },
    { args: ['classify', 'eval', translator], holds: 'a seq2seq model', wanted: 'classify' },
  ];
  for (const { args, holds, wanted } of cases)
    it(`${args.slice(0, 2).join(' ')} on ${holds}: exit 2 naming what the directory holds`, () => {
      const r = runCli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`holds ${holds} \\(from recur [^)]+\\)`));
      assert.match(r.stderr, new RegExp(`written by recur ${wanted} train`));
      assert.doesNotMatch(r.stderr, /modelTopology|class_name/);
    });

  it('the right kind still loads', () => {
    assert.match(runCliOk(['classify', 'predict', classifier, 'a good film']), /^(pos|neg)\t/);
    assert.equal(runCliOk(['seq2seq', 'predict', translator, 'the cat']).split('\n').length, 2);
  });
});

describe('seq2seq eval PAIRS on a G2P model', () => {
  it('reads the words as predict does: HELLO scores as hello', () => {
    // A G2P model is one whose metadata names CMUdict as its data; this small letters → symbols model stands in.
    const g2p = join(root, 'g2p');
    const letters = Array.from({ length: 40 }, (_, i) => {
      const w = ['cab', 'bad', 'dab', 'abc', 'cad'][i % 5] + 'abcd'[i % 4];
      return `${w}\t${[...w].map((c) => c.toUpperCase()).join(' ')}`;
    });
    writeFileSync(join(root, 'letters.tsv'), letters.join('\n') + '\n');
    runCliOk([
      'seq2seq',
      'train',
      join(root, 'letters.tsv'),
      '--out',
      g2p,
      '--source-tokens',
      'chars',
      '--target-tokens',
      'words',
      '--units',
      '4',
      '--epochs',
      '1',
      '--threads',
      '1',
      '--quiet',
    ]);
    const file = join(g2p, 'model.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as { userDefinedMetadata: { data: string } };
    json.userDefinedMetadata.data = CMUDICT_DATA;
    writeFileSync(file, JSON.stringify(json));
    cpSync(join(root, 'letters.tsv'), join(root, 'lower.tsv'));
    const upper = letters.map((l) => l.replace(/^[a-z]+/, (w) => ` ${w.toUpperCase()} `));
    writeFileSync(join(root, 'upper.tsv'), upper.join('\n') + '\n');
    const score = (f: string): unknown => {
      const r = JSON.parse(runCliOk(['seq2seq', 'eval', g2p, join(root, f), '--json', '--threads', '1'])) as {
        seconds?: number;
      };
      delete r.seconds;
      return r;
    };
    assert.deepEqual(score('upper.tsv'), score('lower.tsv'));
    assert.equal(
      runCliOk(['seq2seq', 'predict', g2p, 'CABA', '--threads', '1']),
      runCliOk(['seq2seq', 'predict', g2p, 'caba', '--threads', '1']),
    );
  });
});

describe('recur serve with a multi-label classifier', () => {
  const TEXTS = ['the vote on the match', 'a new phone', 'the news today'];
  it('answers labels and threshold as classify predict --json does, at its default or a given threshold', async () => {
    const topics = join(root, 'topics');
    const words = { sports: ['match', 'goal'], politics: ['vote', 'senate'], tech: ['phone', 'chip'] };
    const rows = ['text,topics'];
    for (let i = 0; i < 80; i++) {
      const labels = Object.keys(words).filter((_, k) => (i >> k) % 2 === 1);
      const text = ['the', 'news', ...labels.map((l) => words[l as keyof typeof words][i % 2])].join(' ');
      rows.push(`${text},${labels.join('|')}`);
    }
    writeFileSync(join(root, 'topics.csv'), rows.join('\n') + '\n');
    runCliOk(
      ['classify', 'train', join(root, 'topics.csv'), '--multi-label', '--out', topics].concat([
        '--units',
        '4',
        '--epochs',
        '2',
        '--lr',
        '0.05',
        '--threads',
        '1',
        '--quiet',
      ]),
    );
    const server = createServeApp({ served: loadServedModels([topics, classifier]) });
    await server.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
    const post = (body: unknown): Promise<Response> =>
      fetch(base + '/v1/predict', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    try {
      const models = (await (await fetch(base + '/v1/models')).json()) as {
        models: { multi_label?: boolean }[];
      };
      assert.deepEqual(
        models.models.map((m) => m.multi_label),
        [true, false],
      );
      for (const threshold of [undefined, 0.3]) {
        const flags = threshold === undefined ? [] : ['--threshold', String(threshold)];
        const expected = runCliOk(['classify', 'predict', topics, ...TEXTS, '--json', ...flags])
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as unknown);
        const r = await post({
          model: 'topics',
          texts: TEXTS,
          ...(threshold !== undefined && { threshold }),
        });
        assert.equal(r.status, 200);
        assert.deepEqual(await r.json(), { model: 'topics', predictions: expected });
      }
      const single = await post({ model: 'reviews', texts: TEXTS, threshold: 0.3 });
      assert.equal(single.status, 400);
      assert.match(((await single.json()) as { error: string }).error, /^threshold: .*single-label/);
      const wide = await post({ model: 'topics', texts: TEXTS, threshold: 1.5 });
      assert.equal(wide.status, 400);
      assert.match(((await wide.json()) as { error: string }).error, /^threshold: /);
    } finally {
      await server.close();
    }
  });
});

describe('classify: a --test file with columns of its own', () => {
  // Training rows are `id,body,folder` (named by flags) or `id,sentence,label` (guessed); test rows `id,text,class`.
  const rows = (header: string, n: number, seed: number): string =>
    [
      header,
      ...reviews(n, seed)
        .trim()
        .split('\n')
        .slice(1)
        .map((r, i) => `${i},${r}`),
    ].join('\n') + '\n';
  before(() => {
    writeFileSync(join(root, 'mail.csv'), rows('id,body,folder', 60, 2));
    writeFileSync(join(root, 'sentences.csv'), rows('id,sentence,label', 60, 2));
    writeFileSync(join(root, 'held.csv'), rows('id,text,class', 20, 3));
    writeFileSync(join(root, 'held_named.csv'), rows('id,body,folder', 20, 3));
  });
  const train = (data: string, out: string, test: string, more: string[]): void => {
    runCliOk(
      ['classify', 'train', join(root, data), '--test', join(root, test), '--out', join(root, out)].concat(
        ['--units', '4', '--epochs', '1', '--threads', '1', '--quiet'],
        more,
      ),
    );
  };
  const accuracy = (dir: string): number =>
    (JSON.parse(runCliOk(['classify', 'eval', join(root, dir), '--json'])) as { accuracy: number }).accuracy;

  it('eval DIR reads it with the columns train was given', () => {
    train('mail.csv', 'named', 'held_named.csv', ['--text-column', 'body', '--label-column', 'folder']);
    assert.equal(typeof accuracy('named'), 'number');
  });

  it('an ensemble scores it, and eval DIR reads it, with its own guessed columns', () => {
    train('sentences.csv', 'guessed', 'held.csv', ['--ensemble', '2']);
    assert.equal(typeof accuracy('guessed'), 'number');
  });

  it('eval DIR without DATA refuses --text-column / --label-column, which would not change the split', () => {
    for (const flag of ['--text-column', '--label-column']) {
      const r = runCli(['classify', 'eval', classifier, flag, 'x']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${flag} applies to DATA`));
    }
  });

  it('--test-split beside --test is refused: --test is the test set, so no split would be drawn', () => {
    const out = join(root, 'test-and-split');
    const r = runCli(
      ['classify', 'train', join(root, 'sentences.csv'), '--test', join(root, 'held.csv')].concat([
        '--test-split',
        '0.2',
        '--out',
        out,
        '--units',
        '4',
        '--epochs',
        '1',
        '--threads',
        '1',
        '--quiet',
      ]),
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^recur: --test-split 0\.2 draws a test split from DATA, and --test .*held\.csv is the test set: give one\n$/,
    );
    assert.equal(existsSync(out), false);
  });
});

describe('seq2seq: column flags apply to CSV pairs only', () => {
  it('refuses --source-column / --target-column for a TSV file or CMUdict (exit 2)', () => {
    const tsv = join(root, 'pairs.tsv');
    for (const args of [
      ['seq2seq', 'eval', translator, tsv, '--source-column', 'en'],
      ['seq2seq', 'eval', translator, '--target-column', 'fr'],
      ['seq2seq', 'train', tsv, '--out', join(root, 'never'), '--source-column', 'en'],
      ['seq2seq', 'train', '--out', join(root, 'never'), '--target-column', 'fr'],
    ]) {
      const r = runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /--(source|target)-column names a column of a CSV pairs file/);
    }
  });

  // Small G2P settings, so old code that ignored a refused flag and trained on CMUdict fails in seconds, not minutes.
  const SMALL_G2P = [
    '--units',
    '4',
    '--epochs',
    '1',
    '--ensemble',
    '1',
    '--joint-ngram',
    '0',
    '--threads',
    '1',
  ];

  it('refuses --format without a pairs file (CMUdict): exit 2, before any training', () => {
    const out = join(root, 'never-g2p');
    const r = runCli([
      'seq2seq',
      'train',
      '--out',
      out,
      '--format',
      'csv',
      '--cpu-time-limit',
      '0.01',
      ...SMALL_G2P,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^recur: --format csv reads a pairs file, and the data is CMUdict/);
    assert.equal(existsSync(out), false);
  });

  it('refuses --skip-bad without a pairs file (CMUdict), as --format, new or resumed: exit 2, before any training (it was ignored)', () => {
    const out = join(root, 'never-g2p-skip');
    const r = runCli([
      'seq2seq',
      'train',
      '--out',
      out,
      '--skip-bad',
      '--cpu-time-limit',
      '0.01',
      ...SMALL_G2P,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^recur: --skip-bad skips the bad lines of a pairs file, and the data is CMUdict \(no pairs file was given\)/,
    );
    assert.equal(existsSync(out), false);
    // And on resume: a CMUdict run (stopped at once) continued with --skip-bad.
    const started = runCli(['seq2seq', 'train', '--out', out, '--cpu-time-limit', '0.01', ...SMALL_G2P]);
    assert.equal(started.code, 0, started.stderr);
    const resumed = runCli([
      'seq2seq',
      'train',
      '--out',
      out,
      '--resume',
      '--skip-bad',
      '--cpu-time-limit',
      '0.01',
    ]);
    assert.equal(resumed.code, 2, resumed.stderr);
    assert.match(
      resumed.stderr,
      /^recur: --skip-bad skips the bad lines of a pairs file, and the data is CMUdict/,
    );
  });

  it("a model's own CSV pairs are read as training read them: eval DIR and export need no column flags; --help says so", () => {
    const csv = join(root, 'named-pairs.csv');
    writeFileSync(csv, 'en,fr\n' + pairs(60, 2).replaceAll('\t', ','));
    const dir = join(root, 'named-pairs');
    const columns = ['--source-column', 'en', '--target-column', 'fr'];
    runCliOk([
      'seq2seq',
      'train',
      csv,
      '--out',
      dir,
      ...columns,
      '--units',
      '4',
      '--epochs',
      '1',
      '--threads',
      '1',
      '-q',
    ]);
    const scores = JSON.parse(runCliOk(['seq2seq', 'eval', dir, '--json', '--threads', '1'])) as {
      n: number;
    };
    assert.ok(scores.n > 0);
    runCliOk(['export', 'pytorch', dir, join(root, 'named-pairs-torch'), '-q']);
    for (const command of ['train', 'eval', 'ngram']) {
      const help = runCliOk(['seq2seq', command, '--help']).replace(/\s+/g, ' ');
      assert.match(
        help,
        /CSV column of the sources \(default 'source'; a model's own pairs: as its training read them\)/,
      );
    }
  });

  it('a column or format other than the one training read is refused by name, not blamed on the file', () => {
    // The model the test above trains on named-pairs.csv (columns en, fr).
    const dir = join(root, 'named-pairs');
    const csv = join(root, 'named-pairs.csv');
    for (const [args, flag] of [
      [['seq2seq', 'train', csv, '--out', dir, '--resume', '--source-column', 'fr'], '--source-column fr'],
      [['seq2seq', 'eval', dir, '--target-column', 'en'], '--target-column en'],
      [['seq2seq', 'eval', dir, '--format', 'tsv'], '--format tsv'],
    ] as const) {
      const r = runCli([...args, '--threads', '1', '-q']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const used = { '--source-column fr': 'en', '--target-column en': 'fr', '--format tsv': 'csv' }[flag];
      assert.match(
        r.stderr,
        new RegExp(
          `^recur: ${flag}: the model was trained on .*named-pairs\\.csv read with ${flag.split(' ')[0]} ${used}; leave the flag out`,
        ),
      );
    }
    // The flag as training gave it is fine.
    const same = runCli(['seq2seq', 'eval', dir, '--source-column', 'en', '--format', 'csv', '--json']);
    assert.equal(same.code, 0, same.stderr);
  });
});

describe('classify predict --input', () => {
  it('reads JSON Lines: the text field, guessed or given, each record in order', () => {
    const file = join(root, 'texts.jsonl');
    writeFileSync(file, '{"id": 1, "text": "a good film"}\n\n{"text": "a bad plot", "id": 2}\n');
    const expected = runCliOk(['classify', 'predict', classifier, 'a good film', 'a bad plot', '--json']);
    assert.equal(runCliOk(['classify', 'predict', classifier, '--input', file, '--json']), expected);
    const named = join(root, 'named.jsonl');
    writeFileSync(named, '{"words": "a good film", "n": 1}\n{"words": "a bad plot", "n": 2}\n');
    assert.equal(
      runCliOk(['classify', 'predict', classifier, '--input', named, '--text-column', 'words', '--json']),
      expected,
    );
    const r = runCli(['classify', 'predict', classifier, '--input', named]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /named\.jsonl: line 1: which field holds the text\? Give --text-column/);
  });

  it('answers stdin of blank lines only line for line (a blank line each), as seq2seq predict does', () => {
    const r = runCli(['classify', 'predict', classifier, '--json'], { input: '\n  \n' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
      [
        { text: '', blank: true },
        { text: '  ', blank: true },
      ],
    );
    assert.equal(runCli(['classify', 'predict', classifier], { input: '\n\n' }).stdout, '\n\n');
    assert.equal(runCli(['classify', 'predict', classifier], { input: '' }).code, 2);
  });

  it('a .txt file or stdin whose lines end in a lone CR (classic Mac) is one text per line, as a CSV is', () => {
    const expected = runCliOk(['classify', 'predict', classifier, 'a good film', 'a bad plot', '--json']);
    const file = join(root, 'mac.txt');
    writeFileSync(file, 'a good film\ra bad plot\r');
    assert.equal(runCliOk(['classify', 'predict', classifier, '--input', file, '--json']), expected);
    const r = runCli(['classify', 'predict', classifier, '--json'], { input: 'a good film\ra bad plot\r' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, expected);
  });

  it('refuses --text-column without --input (exit 2), where it was ignored', () => {
    const r = runCli(['classify', 'predict', classifier, 'a good film', '--text-column', 'body']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--text-column names the column of the texts in --input FILE/);
  });
});

describe('seq2seq --ngram-weight', () => {
  it('is refused for a model without a joint n-gram (exit 2), unless 0', () => {
    for (const cmd of [
      ['predict', translator, 'the cat'],
      ['eval', translator],
    ]) {
      const r = runCli(['seq2seq', ...cmd, '--ngram-weight', '0.5', '--threads', '1']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--ngram-weight 0\.5: .* has no joint n-gram to weigh/);
      assert.equal(runCli(['seq2seq', ...cmd, '--ngram-weight', '0', '--threads', '1']).code, 0);
    }
  });
});
