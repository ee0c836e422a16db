/**
 * Consistency of the CLI across commands: what every training command's --json epoch lines and checkpoints hold, and
 * the flags the commands share.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it, mock } from 'node:test';
import { TerminateOnNaN } from '../src/models/callbacks.js';
import { EpochRecorder, TrainingInterrupt } from '../src/cli/run_dir.js';
import type { Output } from '../src/cli/output.js';
import {
  DATA_KEYED,
  expectSnakeKeys,
  pairs,
  reviews,
  runCli,
  spellings,
  trainTinyModels,
} from './cli_helpers.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'recur-cli-consistency-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(
  args: string[],
  env: Record<string, string> = {},
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('epoch rows', () => {
  it('an epoch shorter than the clock resolution has a finite speed, in --json and in the history', async () => {
    mock.method(Date, 'now', () => 1_000_000);
    try {
      const printed: Record<string, unknown>[] = [];
      const out: Output = {
        progress: false,
        info: () => {},
        note: () => {},
        error: () => {},
        sample: () => {},
        json: (obj) => printed.push(JSON.parse(JSON.stringify(obj)) as Record<string, unknown>),
      };
      const history: Record<string, number>[] = [];
      const recorder = new EpochRecorder({
        out,
        history,
        interrupt: new TrainingInterrupt({ stopTraining: false }, out),
        terminateOnNaN: new TerminateOnNaN(),
        startEpoch: 0,
        resumed: false,
        checkpoint: () => {},
      });
      await recorder.onEpochBegin(0);
      await recorder.onBatchEnd(0, { size: 32, loss: 1 });
      await recorder.onEpochEnd(0, { loss: 1 });
      assert.equal(history[0].seconds, 0);
      assert.ok(Number.isFinite(history[0].samples_per_sec), `samples_per_sec ${history[0].samples_per_sec}`);
      assert.equal(typeof printed[0].samples_per_sec, 'number');
    } finally {
      mock.restoreAll();
    }
  });

  it('classify train --resume takes a checkpoint whose history has a null speed (written by an older recur)', () => {
    const data = join(tmp, 'c.csv');
    const rows = ['text,label'];
    for (let i = 0; i < 40; i++)
      rows.push(i % 2 === 0 ? `good fine film ${i},pos` : `bad dull film ${i},neg`);
    writeFileSync(data, rows.join('\n') + '\n');
    const out = join(tmp, 'run');
    const args = ['classify', 'train', data, '--out', out, '--units', '2', '--embedding-dim', '2'];
    const common = ['--threads', '1', '--batch-size', '8', '--epochs', '3', '--quiet'];
    const stopped = run([...args, ...common], { RECUR_TEST_INTERRUPT_AFTER: '5' });
    assert.equal(stopped.code, 130, stopped.stderr);
    const file = join(out, 'checkpoint', 'model.json');
    const model = JSON.parse(readFileSync(file, 'utf8')) as {
      userDefinedMetadata: { state: { history: Record<string, number | null>[] } };
    };
    const history = model.userDefinedMetadata.state.history;
    assert.ok(history.length >= 1);
    history[0].samples_per_sec = null;
    writeFileSync(file, JSON.stringify(model));
    const resumed = run([...args, ...common, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
  });
});

describe('models given to the wrong command, and to the run that would replace them', () => {
  const text = join(tmp, 'book.txt');
  const quick = [
    '--epochs',
    '1',
    '--units',
    '4',
    '--threads',
    '1',
    '--steps-per-epoch',
    '2',
    '--no-samples',
    '--quiet',
  ];

  it('train --from DIR --out DIR --overwrite refuses, and leaves the model it would have read', () => {
    writeFileSync(text, 'it was the best of times, it was the worst of times. '.repeat(20));
    const dir = join(tmp, 'text-run');
    assert.equal(run(['train', text, '--out', dir, ...quick]).code, 0);
    const before = readFileSync(join(dir, 'model.json'), 'utf8');
    for (const from of [dir, join(dir, 'checkpoint')]) {
      const r = run([
        'train',
        text,
        '--out',
        dir,
        '--from',
        from,
        '--overwrite',
        ...quick.filter((f) => f !== '--units' && f !== '4'),
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^recur: .*give --out another directory\n$/);
      assert.equal(readFileSync(join(dir, 'model.json'), 'utf8'), before);
    }
  });

  it('generate and evaluate name the kind of model a classifier directory holds', () => {
    const data = join(tmp, 'small.csv');
    const rows = ['text,label'];
    for (let i = 0; i < 30; i++) rows.push(i % 2 === 0 ? `good fine ${i},pos` : `bad dull ${i},neg`);
    writeFileSync(data, rows.join('\n') + '\n');
    const dir = join(tmp, 'classifier');
    const trained = run([
      'classify',
      'train',
      data,
      '--out',
      dir,
      '--epochs',
      '1',
      '--units',
      '2',
      '--embedding-dim',
      '2',
      '--threads',
      '1',
      '--quiet',
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    for (const args of [
      ['generate', dir],
      ['evaluate', dir, text],
    ]) {
      const r = run(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /holds a text classifier \(from recur classify train\), not a text model/);
    }
  });
});

describe('a file given where a model goes', () => {
  it('a text or CSV file is named as not a model, not as a model.json of bad JSON', () => {
    const text = join(tmp, 'notes.txt');
    writeFileSync(text, 'call me ishmael.\n');
    const csv = join(tmp, 'series.csv');
    writeFileSync(csv, 'month,value\n2000-01,1\n');
    for (const args of [
      ['generate', text],
      ['predict', csv],
      ['evaluate', text, text],
      ['convert', text, join(tmp, 'x.keras')],
    ]) {
      const r = run(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /^recur: \S+: not a model file recur reads; expected a recur\/tfjs model directory \(or its model\.json\), a Keras \.h5\/\.hdf5 file or a Keras 3 \.keras archive\n$/,
        args.join(' '),
      );
    }
  });
});

describe('column flags', () => {
  it("classify's --text-column counts from 1 (forecast's columns count from 0): help and error say so", () => {
    const data = join(tmp, 'cols.csv');
    writeFileSync(data, 'text,label\n' + 'good,pos\nbad,neg\n'.repeat(10));
    const help = run(['classify', 'train', '--help']);
    assert.match(
      help.stdout.replace(/\s+/g, ' '),
      /--text-column <name\|n> column of the texts, by name or number counting from 1 \(JSON Lines: field name\)/,
    );
    const r = run(['classify', 'train', data, '--out', join(tmp, 'cols'), '--text-column', '0', '--quiet']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^recur: .*no column '0' \(--text-column\); the columns are 'text', 'label', or their numbers from 1 to 2\n$/,
    );
  });
});

describe('--help', () => {
  it('states at most one default per option, in every command (a flag with its own default rule has no commander default)', () => {
    const commands = [
      ['train'],
      ['generate'],
      ['convert'],
      ['predict'],
      ['evaluate'],
      ['export'],
      ['forecast'],
      ['forecast', 'predict'],
      ['classify', 'train'],
      ['classify', 'eval'],
      ['classify', 'predict'],
      ['seq2seq', 'train'],
      ['seq2seq', 'eval'],
      ['seq2seq', 'predict'],
      ['seq2seq', 'ngram'],
      ['serve'],
    ];
    for (const command of commands) {
      const help = run([...command, '--help']);
      assert.equal(help.code, 0, help.stderr);
      // One entry per option: its first line starts with '  -', continuation lines are indented further.
      const entries = help.stdout.split('\n').reduce<string[]>((acc, line) => {
        if (/^ {2}-/.test(line)) acc.push(line.trim());
        else if (acc.length > 0 && /^ {10,}\S/.test(line)) acc[acc.length - 1] += ' ' + line.trim();
        return acc;
      }, []);
      for (const entry of entries) {
        const stated = entry.match(/\(default[ :]/g) ?? [];
        assert.ok(stated.length <= 1, `recur ${command.join(' ')} --help: ${entry}`);
      }
    }
  });

  it('--seed states its default in every command that takes it (drawn at random in some, 1 in others)', () => {
    for (const command of [
      ['train'],
      ['generate'],
      ['forecast'],
      ['classify', 'train'],
      ['seq2seq', 'train'],
    ]) {
      const help = run([...command, '--help']);
      assert.equal(help.code, 0, help.stderr);
      const entry = help.stdout.replace(/\s+/g, ' ').match(/--seed <n> (.*?) (?:-|--)[a-z]/)?.[1] ?? '';
      assert.match(entry, /\(default[ :]/, `recur ${command.join(' ')} --help: --seed ${entry}`);
    }
  });

  it('the exit codes it lists include 130, what Ctrl-C ends a command with', () => {
    const help = run(['--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(
      help.stdout.replace(/\s+/g, ' '),
      /Exit codes \(every command\): 0 success; .*; 130 stopped by Ctrl-C/,
    );
  });

  it("'help NAME…' prints the help of the command it names, at any depth, as '--help' does", () => {
    for (const [asked, named] of [
      [
        ['help', 'classify', 'predict'],
        ['classify', 'predict'],
      ],
      [
        ['help', 'forecast', 'predict'],
        ['forecast', 'predict'],
      ],
      [
        ['forecast', 'help', 'predict'],
        ['forecast', 'predict'],
      ],
      [['forecast', 'help'], ['forecast']],
      [
        ['seq2seq', 'help', 'eval'],
        ['seq2seq', 'eval'],
      ],
    ]) {
      const help = run(asked);
      assert.equal(help.code, 0, `recur ${asked.join(' ')}: ${help.stderr}`);
      assert.equal(help.stdout, run([...named, '--help']).stdout, `recur ${asked.join(' ')}`);
    }
    const unknown = run(['help', 'forecast', 'bogus']);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, "recur: unknown command 'bogus'\n");
  });

  it('an argument too many or missing names the whole command (classify eval, not eval)', () => {
    for (const [args, message] of [
      [
        ['classify', 'eval', 'a', 'b', 'c'],
        "recur: too many arguments for 'recur classify eval'. Expected 2 arguments but got 3.\n",
      ],
      [
        ['seq2seq', '--debug', 'eval', 'a', 'b', 'c'],
        "recur: too many arguments for 'recur seq2seq eval'. Expected 2 arguments but got 3.\n",
      ],
      [['train', 'a', 'b'], "recur: too many arguments for 'recur train'. Expected 1 argument but got 2.\n"],
      [['seq2seq', 'predict'], "recur: missing required argument 'model-dir' of 'recur seq2seq predict'\n"],
    ] as const) {
      const r = run([...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stderr, message, args.join(' '));
    }
  });
});

describe('--quiet', () => {
  it('generate --quiet prints the text alone: no notes on the rebuilt vocabulary and prime', () => {
    const book = join(tmp, 'quiet-book.txt');
    writeFileSync(book, 'call me ishmael. some years ago, never mind how long. '.repeat(20));
    const dir = join(tmp, 'quiet-run');
    const common = ['--epochs', '1', '--units', '4', '--threads', '1', '--steps-per-epoch', '2'];
    assert.equal(run(['train', book, '--out', dir, ...common, '--no-samples', '--quiet']).code, 0);
    const h5 = join(tmp, 'quiet.h5');
    assert.equal(run(['convert', dir, h5, '--quiet']).code, 0);
    const noisy = run(['generate', h5, '--corpus', book, '-n', '5', '--threads', '1']);
    assert.equal(noisy.code, 0, noisy.stderr);
    assert.match(noisy.stderr, /vocabulary:/);
    const quiet = run(['generate', h5, '--corpus', book, '-n', '5', '--threads', '1', '--quiet']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
    assert.ok(quiet.stdout.length > 5);
  });
});

describe('empty stdin', () => {
  it('every command reading its inputs from stdin refuses nothing at all (exit 2, naming stdin), as an empty file', () => {
    const text = join(tmp, 'stdin-book.txt');
    writeFileSync(text, 'it was the best of times, it was the worst of times. '.repeat(20));
    const csv = join(tmp, 'stdin-reviews.csv');
    writeFileSync(csv, reviews(40, 1));
    const tsv = join(tmp, 'stdin-pairs.tsv');
    writeFileSync(tsv, pairs(40, 2));
    const quick = ['--epochs', '1', '--units', '2', '--threads', '1', '--quiet'];
    const models = {
      text: join(tmp, 'stdin-text'),
      classifier: join(tmp, 'stdin-classifier'),
      seq2seq: join(tmp, 'stdin-seq2seq'),
    };
    for (const args of [
      ['train', text, '--out', models.text, '--steps-per-epoch', '1', '--no-samples'],
      ['classify', 'train', csv, '--out', models.classifier, '--embedding-dim', '2'],
      ['seq2seq', 'train', tsv, '--out', models.seq2seq, '--embedding', '2'],
    ]) {
      const r = run([...args, ...quick]);
      assert.equal(r.code, 0, r.stderr);
    }
    const readers: [string[], RegExp][] = [
      [['classify', 'predict', models.classifier], /texts to classify/],
      [['classify', 'predict', models.classifier, '--json'], /texts to classify/],
      [['seq2seq', 'predict', models.seq2seq], /sources to decode/],
      [['seq2seq', 'predict', models.seq2seq, '--json'], /sources to decode/],
      [['predict', models.text], /inputs as JSON/],
    ];
    // No byte at all, and a byte-order mark alone (an editor's "empty" UTF-8 file).
    for (const input of ['', '\ufeff'])
      for (const [args, expected] of readers) {
        const r = runCli(args, { input });
        const what = `recur ${args.join(' ')} < ${JSON.stringify(input)}`;
        assert.equal(r.code, 2, `${what}: ${r.stderr}`);
        assert.equal(r.stdout, '', what);
        assert.match(r.stderr, /^recur: stdin is empty; give /, what);
        assert.match(r.stderr, expected, what);
      }
    // A header without rows in --input is named as that file's, not as stdin's.
    const header = join(tmp, 'stdin-header.csv');
    writeFileSync(header, 'text\n');
    const r = run(['classify', 'predict', models.classifier, '--input', header]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `recur: ${header} holds no texts to classify (no rows)\n`);
  });
});

describe('a flag given no value', () => {
  it('does not take the next flag as its value: `--out --quiet` is refused, and no directory --quiet is made', () => {
    const cwd = join(tmp, 'no-value');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'book.txt'), 'it was the best of times, it was the worst of times. '.repeat(20));
    const quick = [
      '--epochs',
      '1',
      '--units',
      '2',
      '--threads',
      '1',
      '--steps-per-epoch',
      '1',
      '--no-samples',
    ];
    for (const [args, message] of [
      [['train', 'book.txt', ...quick, '--out', '--quiet'], '--out: expected a value, got the flag --quiet'],
      [['forecast', 'series.csv', '--output', '-q'], '--output: expected a value, got the flag -q'],
      [['forecast', 'predict', 'fc', '--chart', '--json'], '--chart: expected a value, got the flag --json'],
      [['generate', 'model', '--prime', '--help'], '--prime: expected a value, got the flag --help'],
    ] as const) {
      const r = runCli(args, { cwd });
      assert.equal(r.code, 2, `recur ${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, `recur: ${message}; give ${message.split(':')[0]} its value\n`);
      assert.equal(r.stdout, '');
    }
    assert.equal(existsSync(join(cwd, '--quiet')), false);
  });
});

/** Every command as typed after `recur` (`classify train`) with its --help text, found from `recur --help` down. */
function allHelps(): Map<string, string> {
  const helps = new Map<string, string>();
  for (const pending: string[][] = [[]]; pending.length > 0;) {
    const words = pending.pop()!;
    const help = run([...words, '--help']).stdout;
    if (words.length > 0) helps.set(words.join(' '), help);
    const section = help.split(/^Commands:$/m)[1] ?? '';
    for (const m of section.matchAll(/^ {2}([a-z0-9-]+)/gm))
      if (m[1] !== 'help') pending.push([...words, m[1]]);
  }
  return helps;
}

describe('flag names', () => {
  it('a long flag takes the same kind of value and has the same short form in every command that lists it', () => {
    const seen = new Map<string, { value: string; short: string; command: string }>();
    const longOf = new Map<string, string>();
    for (const [command, help] of allHelps())
      for (const m of help.matchAll(/^ {2}(?:(-[a-zA-Z]), )?(--[a-z0-9-]+)(?: (<[^>]+>|\[[^\]]+\]))?/gm)) {
        const [, short = '', long, value = ''] = m;
        const first = seen.get(long);
        if (first === undefined) seen.set(long, { value, short, command });
        else {
          // `classify train --output <kind>` was the output activation where forecast's `--output <file>` is a file.
          assert.equal(
            value,
            first.value,
            `${long} takes ${first.value} in ${first.command}, ${value} in ${command}`,
          );
          assert.equal(
            short,
            first.short,
            `${long}: '${first.short}' in ${first.command}, '${short}' in ${command}`,
          );
        }
        if (short !== '') {
          assert.equal(longOf.get(short) ?? long, long, `${short} is ${longOf.get(short)} and ${long}`);
          longOf.set(short, long);
        }
      }
    assert.ok(seen.has('--output-activation') && seen.has('--tokens'));
  });

  it('an older name still works, with a note on stderr (--quiet too); both names with different values are refused', () => {
    const data = join(tmp, 'older.csv');
    writeFileSync(data, reviews(40, 5));
    const quick = ['--epochs', '1', '--threads', '1', '--units', '2', '--embedding-dim', '2', '--seed', '1'];
    const out = join(tmp, 'older-model');
    const r = run([
      'classify',
      'train',
      data,
      ...quick,
      '--out',
      out,
      '--output',
      'softmax',
      '--level',
      'char',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^note: --output is now --output-activation \(--output names the file/m);
    assert.match(r.stderr, /^note: --level is now --tokens/m);
    const meta = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).userDefinedMetadata;
    assert.equal(meta.settings.output, 'softmax');
    assert.equal(meta.settings.tokenizer.level, 'char');
    const quiet = run([
      'classify',
      'train',
      data,
      ...quick,
      '--out',
      join(tmp, 'older-quiet'),
      '--level',
      'char',
      '-q',
    ]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(
      quiet.stderr,
      "note: --level is now --tokens (--level is forecast's interval levels); the older name still works for now\n",
    );
    const both = run([
      'classify',
      'train',
      data,
      '--out',
      join(tmp, 'older-both'),
      '--output',
      'sigmoid',
      '--output-activation',
      'softmax',
    ]);
    assert.equal(both.code, 2);
    assert.equal(both.stderr, 'recur: --output is the older name of --output-activation; give one of them\n');
    assert.equal(existsSync(join(tmp, 'older-both')), false);
  });
});

/** A seq2seq model of one quick epoch on 40 short pairs, in tmp/NAME: its directory and the training run. */
function trainTinySeq2Seq(
  name: string,
  extra: readonly string[],
): { dir: string; r: { code: number; stdout: string; stderr: string } } {
  const tsv = join(tmp, `${name}.tsv`);
  writeFileSync(tsv, pairs(40, 2));
  const dir = join(tmp, name);
  const quick = ['--epochs', '1', '--units', '2', '--threads', '1'];
  return { dir, r: run(['seq2seq', 'train', tsv, '--out', dir, ...quick, ...extra]) };
}

describe("the older-name note is a note (the command's Output): kept by -q, a JSON line on stderr with --json", () => {
  it('forecast --save', () => {
    const csv = join(tmp, 'older-forecast.csv');
    writeFileSync(
      csv,
      'month,value\n' +
        Array.from(
          { length: 48 },
          (_, t) =>
            `${2000 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')},${100 + t + (t % 12)}`,
        ).join('\n') +
        '\n',
    );
    const args = ['forecast', csv, '--method', 'theta', '--holdout', '0', '--save'];
    const note =
      '--save is now --out (as every command that saves a model names it); the older name still works for now';
    const quiet = run([...args, join(tmp, 'older-forecast-q'), '-q']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.ok(quiet.stderr.startsWith(`note: ${note}\n`), quiet.stderr);
    const json = run([...args, join(tmp, 'older-forecast-json'), '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.ok(json.stderr.startsWith(JSON.stringify({ note }) + '\n'), json.stderr);
    const lines = json.stdout.trim().split('\n');
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
    assert.ok(existsSync(join(tmp, 'older-forecast-json', 'forecaster.json')));
  });
});

describe('the embedding size', () => {
  it("is --embedding-dim in classify train and seq2seq train; seq2seq's older --embedding works, with a note", () => {
    for (const command of ['classify train', 'seq2seq train'])
      assert.match(run([...command.split(' '), '--help']).stdout, /^ {2}--embedding-dim <n> /m, command);
    for (const [flag, dim] of [
      ['--embedding-dim', 5],
      ['--embedding', 3],
    ] as const) {
      const { dir: out, r } = trainTinySeq2Seq(`embedding${flag}`, [flag, String(dim), '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stderr,
        flag === '--embedding'
          ? JSON.stringify({
              note: "--embedding is now --embedding-dim (classify train's name for the embedding size); the older name still works for now",
            }) + '\n'
          : '',
      );
      // The note is on stderr only: stdout is JSON lines.
      for (const line of r.stdout.trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), line);
      const meta = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).userDefinedMetadata;
      assert.equal(meta.settings.embeddingDim, dim);
    }
  });
});

describe('the vocabulary cap', () => {
  it('is --max-vocab in classify train and seq2seq train; --vocab-size works in both, with a note', () => {
    for (const command of ['classify train', 'seq2seq train'])
      assert.match(run([...command.split(' '), '--help']).stdout, /^ {2}--max-vocab <n> /m, command);
    const { dir: out, r } = trainTinySeq2Seq('vocab-size', ['--vocab-size', '9', '--source-tokens', 'words']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^note: --vocab-size is now --max-vocab \(classify train's name/m);
    const meta = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).userDefinedMetadata;
    assert.equal(meta.settings.vocabularySize, 9);
    const csv = join(tmp, 'vocab-size.csv');
    writeFileSync(csv, reviews(40, 6));
    const classifier = join(tmp, 'vocab-size-classifier');
    const c = run([
      'classify',
      'train',
      csv,
      '--out',
      classifier,
      '--epochs',
      '1',
      '--units',
      '2',
      '--vocab-size',
      '7',
    ]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stderr, /^note: --vocab-size is now --max-vocab/m);
    const saved = JSON.parse(readFileSync(join(classifier, 'model.json'), 'utf8')).userDefinedMetadata;
    assert.equal(saved.tokenizer.options.maxVocab, 7);
  });
});

describe('--json of a command that writes files', () => {
  it("names what it did in 'event', as every such command's object does (convert had none)", () => {
    mkdirSync(join(tmp, 'json-events'));
    const { textModel } = trainTinyModels(join(tmp, 'json-events'));
    const events = [
      ['convert', textModel, join(tmp, 'json-events', 'm.keras'), '--json'],
      ['export', 'pytorch', textModel, join(tmp, 'json-events', 'py'), '--json'],
    ].map((args) => {
      const r = run(args);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { event?: string }).event;
    });
    assert.deepEqual(events, ['converted', 'exported']);
  });
});

describe('--json keys', () => {
  it("are snake_case in every command's lines, nested objects too, and so are event names", () => {
    const root = join(tmp, 'json-keys');
    mkdirSync(root);
    const { textFile, csv, textModel, classifier } = trainTinyModels(root);
    const at = (name: string): string => join(root, name);
    const quick = ['--epochs', '1', '--threads', '1'];
    // Spelled letters: a monotone task the joint n-gram aligns (its own event).
    writeFileSync(at('spell.tsv'), spellings(120, 4));
    const g2p = ['--source-tokens', 'chars', '--target-tokens', 'symbols', '--units', '8', ...quick];
    // Monthly series, the single one with its last value missing (--interpolate leaves it out, and says so).
    const month = (i: number): string =>
      `${2000 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`;
    const value = (i: number, k: number): string =>
      (100 + 10 * Math.sin((i * Math.PI) / 6) + k * i).toFixed(2);
    const rows = Array.from({ length: 48 }, (_, i) => `${month(i)},${value(i, 1)}`);
    writeFileSync(at('one.csv'), ['date,value', ...rows, `${month(48)},`].join('\n') + '\n');
    const panel = ['a', 'b', 'c'].flatMap((id, k) =>
      Array.from({ length: 48 }, (_, i) => `${id},${month(i)},${value(i, k + 1)}`),
    );
    writeFileSync(at('panel.csv'), ['id,date,value', ...panel].join('\n') + '\n');
    const single = ['--horizon', '6', '--candidates', 'ets,theta', '--threads', '1', '--interpolate'];
    const many = ['--id-column', 'id', '--horizon', '6', '--epochs', '2', '--threads', '1'];
    const net = ['--units', '4', '--embedding-dim', '4', ...quick];
    const g2pEnsemble = ['--ensemble', '2', '--joint-ngram', '3', ...g2p];
    const textNet = ['--units', '4', '--maxlen', '5', '--steps-per-epoch', '2', ...quick];
    // A panel line's `backtest` is keyed by method (a single series' by what it holds: origins, mean …).
    const panelKeys = [...DATA_KEYED, 'backtest'];
    for (const [args, dataKeyed] of [
      [['train', textFile, '--out', at('text'), ...textNet]],
      [['generate', textModel, '--length', '10']],
      [['evaluate', textModel, textFile]],
      [['classify', 'train', csv, '--out', at('ensemble'), '--ensemble', '2', ...net]],
      [['classify', 'train', csv, '--out', at('multi'), '--multi-label', ...net]],
      [['classify', 'eval', classifier]],
      [['classify', 'eval', at('multi')]],
      [['classify', 'predict', classifier, 'a great film']],
      [['classify', 'predict', at('multi'), 'a great film']],
      [['seq2seq', 'train', at('spell.tsv'), '--out', at('g2p'), ...g2pEnsemble]],
      [['seq2seq', 'train', at('spell.tsv'), '--out', at('g2p-plain'), ...g2p]],
      [['seq2seq', 'ngram', at('g2p-plain'), '--order', '3']],
      [['seq2seq', 'eval', at('g2p')]],
      [['seq2seq', 'predict', at('g2p'), 'abc', 'xyz']],
      [['forecast', at('one.csv'), ...single, '--out', at('fc')]],
      [['forecast', 'predict', at('fc')]],
      [['forecast', at('panel.csv'), ...many, '--out', at('fc-panel')], panelKeys],
      [['forecast', 'predict', at('fc-panel'), at('panel.csv')], panelKeys],
      [['convert', textModel, at('m.keras')]],
      [['export', 'pytorch', textModel, at('py')]],
    ] as const) {
      const r = run([...args, '--json']);
      assert.equal(r.code, 0, `recur ${args.join(' ')}: ${r.stderr}`);
      assert.notEqual(r.stdout, '', `recur ${args.join(' ')}`);
      assert.doesNotThrow(() => expectSnakeKeys(r.stdout, dataKeyed), `recur ${args.join(' ')}`);
    }
  });

  it('expectSnakeKeys names a camelCase key, nested or not, and a kebab-case event', () => {
    assert.throws(() => expectSnakeKeys({ summary: { notRun: 1 } }), /key summary\.notRun/);
    assert.throws(() => expectSnakeKeys('{"event":"time-limit"}\n'), /event "time-limit"/);
    assert.throws(() => expectSnakeKeys({ a: [{ inFlight: 0 }] }), /key a\.inFlight/);
    expectSnakeKeys({ per_class: { Positive: { f1: 1 } }, event: 'test' });
    assert.throws(
      () => expectSnakeKeys({ per_class: { Positive: { macroF1: 1 } } }),
      /per_class\.\*\.macroF1/,
    );
  });
});

describe('a path that is not there', () => {
  it('reads the same in every command: "PATH: no such file or directory", then what was expected there (exit 2)', () => {
    const cwd = join(tmp, 'missing-paths');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'texts.csv'), reviews(30, 3));
    for (const args of [
      ['train', 'nope.txt'],
      ['train', '--from', 'nope.h5'],
      ['generate', 'nope'],
      ['evaluate', 'nope', 'nope.txt'],
      ['convert', 'nope.h5', 'out.keras'],
      ['predict', 'nope'],
      ['export', 'pytorch', 'nope', 'out'],
      ['forecast', 'nope.csv'],
      ['forecast', 'predict', 'nope'],
      ['classify', 'train', 'nope.csv'],
      ['classify', 'train', 'texts.csv', '--test', 'nope.csv', '--out', 'never'],
      ['classify', 'eval', 'nope'],
      ['classify', 'predict', 'nope', 'a text'],
      ['seq2seq', 'train', 'nope.tsv'],
      ['seq2seq', 'eval', 'nope'],
      ['seq2seq', 'predict', 'nope', 'a source'],
      ['serve', 'nope'],
    ]) {
      const r = runCli(args, { cwd });
      const missing = args.find((a) => a.startsWith('nope'))!;
      assert.equal(r.code, 2, `recur ${args.join(' ')}: ${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(
          `^recur: ${missing.replace('.', '\\.')}: no such file or directory(; expected [^\\n]+)?\\n$`,
        ),
        `recur ${args.join(' ')}`,
      );
    }
  });
});

describe('--input', () => {
  it('every predict command reads its inputs from -i FILE as from stdin (seq2seq predict had no --input)', () => {
    const { dir: model, r: trained } = trainTinySeq2Seq('input-seq2seq', ['-q']);
    assert.equal(trained.code, 0, trained.stderr);
    const sources = join(tmp, 'input-sources.txt');
    // A blank line and a lone CR end, as stdin's lines are read.
    const lines = 'the dog and the cat\n\nthe fish and the bird\rthe cat\n';
    writeFileSync(sources, lines);
    const fromStdin = runCli(['seq2seq', 'predict', model, '--json', '--threads', '1'], { input: lines });
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.equal(fromStdin.stdout.trimEnd().split('\n').length, 4);
    for (const flag of ['-i', '--input']) {
      const fromFile = run(['seq2seq', 'predict', model, flag, sources, '--json', '--threads', '1']);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      assert.equal(fromFile.stdout, fromStdin.stdout);
    }
    const both = run(['seq2seq', 'predict', model, '-i', sources, 'the cat']);
    assert.equal(both.code, 2);
    assert.equal(both.stderr, 'recur: give the sources as arguments or in --input, not both\n');
  });
});
