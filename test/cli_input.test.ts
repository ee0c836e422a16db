/**
 * The command line's handling of bad usage and bad input: every numeric flag of every command is range-checked with
 * the flag, the value and the range in the message; models or batches too big for memory are refused before
 * allocation; files and directories of the wrong kind are clear errors; exit codes are 2 for bad usage or input and
 * 1 for a failure while running, with no stack trace unless --debug. And `evaluate`: characters outside the model's
 * vocabulary are skipped and counted (or refused with --unknown error), and it runs on the worker pool.
 */
import '../src/node/index.js';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { after, before, describe, it } from 'node:test';
import { kernels } from '../src/core/backend.js';
import { WasmKernels } from '../src/core/wasm/wasm_kernels.js';
import { findUnknown } from '../src/cli/evaluate.js';
import { reportError, UsageError } from '../src/cli/output.js';
import * as L from '../src/layers/index.js';
import { setMinSplitWork } from '../src/models/pool_model.js';
import { Sequential, setParallelRunner, type BatchDataset } from '../src/models/sequential.js';
import { installWorkerPool } from '../src/node/pool.js';
import { createParallelRunner } from '../src/parallel/pool.js';
import type { PoolReply } from '../src/parallel/protocol.js';
import { TextCorpus } from '../src/text/corpus.js';
import { Vocabulary } from '../src/text/vocabulary.js';
import { runCli as run, CLI, pseudoText, type CliResult } from './cli_helpers.js';

function runAsync(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

const STACK_FRAME = /\n\s+at /;

/** A usage error: exit 2, one message line naming what is wrong, no stack trace. */
function assertUsageError(args: string[], pattern: RegExp): void {
  const r = run(args);
  assert.equal(r.code, 2, `${args.join(' ')} → exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, pattern, args.join(' '));
  assert.doesNotMatch(r.stderr, STACK_FRAME, args.join(' '));
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line expected:\n${r.stderr}`);
}

describe('recur CLI: bad usage and bad input', () => {
  let dir = '';
  let textFile = '';
  let model = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-input-'));
    textFile = join(dir, 'book.txt');
    writeFileSync(textFile, pseudoText(3000, 1));
    model = join(dir, 'model');
    const t = run([
      'train',
      textFile,
      '--out',
      model,
      '--units',
      '8',
      '--maxlen',
      '10',
      '--batch-size',
      '16',
      '--epochs',
      '1',
      '--steps-per-epoch',
      '3',
      '--threads',
      '1',
      '--no-samples',
      '-q',
    ]);
    assert.equal(t.code, 0, t.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('every numeric flag of every command is range-checked: the error names the flag, the value and the range', async () => {
    const cases: [string[], string, string, RegExp][] = [
      // [command and arguments, flag, bad value, the range the message states]
      [['train', textFile], '--epochs', '0', /from 1 to/],
      [['train', textFile], '--batch-size', '1e8', /from 1 to 1000000/],
      [['train', textFile], '--maxlen', '-3', /from 1 to/],
      [['train', textFile], '--step', '2.5', /from 1 to/],
      [['train', textFile], '--seq-length', 'abc', /from 1 to/],
      [['train', textFile], '--units', '100000', /from 1 to 65536/],
      [['train', textFile], '--layers', '1000', /from 1 to 64/],
      [['train', textFile], '--dropout', '1', /from 0 to 0\.99/],
      [['train', textFile], '--lr', '0', /from 1e-9 to 10/],
      [['train', textFile], '--clipnorm', 'Infinity', /from 1e-9 to/],
      [['train', textFile], '--validation-split', '0.95', /from 0 to 0\.9/],
      [['train', textFile], '--seed', '-1', /from 0 to 4294967295/],
      [['train', textFile], '--threads', '999', new RegExp(`from 1 to ${availableParallelism()}`)],
      [['train', textFile], '--steps-per-epoch', '0', /from 1 to/],
      [['train', textFile], '--sample-length', '-1', /from 0 to/],
      [['train', textFile], '--temperatures', '', /comma-separated list of numbers from 0 to 100/],
      [['train', textFile], '--temperatures', '0.5,,1', /comma-separated list/],
      [['generate', model], '--length', '1e12', /from 0 to 10000000/],
      [['generate', model], '--temperature', '-1', /from 0 to 100/],
      [['generate', model], '--top-k', '0', /from 1 to 65536/],
      [['generate', model], '--top-p', '1.5', /from 1e-9 to 1/],
      [['generate', model], '--seed', '1e10', /from 0 to 4294967295/],
      [['evaluate', model, textFile], '--step', '0', /from 1 to/],
      [['evaluate', model, textFile], '--batch-size', '1e8', /from 1 to 1000000/],
      [['evaluate', model, textFile], '--threads', '999', /from 1 to/],
      [['forecast'], '--season', '0', /from 1 to 10000/],
      [['forecast'], '--horizon', '0', /from 1 to 100000/],
      [['forecast'], '--holdout', '-1', /from 0 to/],
      [['forecast'], '--lookback', '0', /from 1 to/],
      [['forecast'], '--units', '1e6', /from 1 to 8192/],
      [['forecast'], '--layers', '99', /from 1 to 64/],
      [['forecast'], '--dropout', '2', /from 0 to 0\.99/],
      [['forecast'], '--epochs', '0', /from 1 to/],
      [['forecast'], '--seeds', '5000', /from 1 to 1000/],
      [['forecast'], '--folds', '0', /from 1 to 1000/],
      [['forecast'], '--threads', '999', /from 1 to/],
    ];
    // A few processes at a time: each only parses its flags and exits.
    const results: { code: number; stderr: string }[] = [];
    for (let i = 0; i < cases.length; i += 4)
      results.push(
        ...(await Promise.all(
          cases.slice(i, i + 4).map(([args, flag, value]) => runAsync([...args, flag, value])),
        )),
      );
    cases.forEach(([args, flag, value, range], i) => {
      const r = results[i];
      const what = `${args[0]} ${flag} '${value}'`;
      assert.equal(r.code, 2, `${what} → exit ${r.code}\n${r.stderr}`);
      assert.ok(r.stderr.includes(`${flag} must be`), `${what}: the flag is named:\n${r.stderr}`);
      assert.ok(r.stderr.includes(`got '${value}'`), `${what}: the value is named:\n${r.stderr}`);
      assert.match(r.stderr, range, `${what}: the range is stated`);
      assert.doesNotMatch(r.stderr, STACK_FRAME);
    });
  });

  it('a model or batch too big for memory is refused before allocation, with the estimate', () => {
    const out = join(dir, 'big');
    for (const args of [
      ['--units', '60000'],
      ['--batch-size', '1000000', '--maxlen', '1000'],
      [
        '--recipe',
        'char-rnn',
        '--units',
        '30000',
        '--layers',
        '4',
        '--batch-size',
        '1',
        '--seq-length',
        '50',
      ],
    ]) {
      const r = run(['train', textFile, '--out', out, '--threads', '1', '-q', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /would need about [\d.]+ (GiB|TiB|PiB) to [\d.]+ (GiB|TiB|PiB) \(.* for weights, gradients and optimizer state, .* for one batch's activations, and the allocator's headroom: runs measured 1.2–1.6× that\), more than/,
      );
    }
    // Evaluation keeps no gradients or optimizer state, but a batch of a million windows of a wide model is too big.
    const wide = join(dir, 'wide');
    const t = run([
      'train',
      textFile,
      '--out',
      wide,
      '--units',
      '600',
      '--batch-size',
      '4',
      '--epochs',
      '1',
      '--steps-per-epoch',
      '1',
      '--threads',
      '1',
      '--no-samples',
      '-q',
    ]);
    assert.equal(t.code, 0, t.stderr);
    assertUsageError(
      ['evaluate', wide, textFile, '--batch-size', '1000000'],
      /evaluating in batches of 1000000 would need about [\d.]+ GiB to [\d.]+ GiB/,
    );
  });

  it('files and directories of the wrong kind: clear errors, exit 2', () => {
    const afile = join(dir, 'afile');
    writeFileSync(afile, 'keep me');
    assertUsageError(
      ['train', textFile, '--out', afile, '--threads', '1'],
      /--out .*afile is a file; give a directory/,
    );
    assert.equal(readFileSync(afile, 'utf8'), 'keep me');
    const somedir = join(dir, 'somedir');
    mkdirSync(somedir, { recursive: true });
    assertUsageError(
      ['train', `${somedir}/`, '--out', join(dir, 'x')],
      /somedir\/ is a directory, not a text file/,
    );
    assertUsageError(['evaluate', model, somedir], /somedir is a directory, not a text file/);
    assertUsageError(['evaluate', textFile, textFile], /book\.txt/);
    assertUsageError(['evaluate', model, join(dir, 'missing.txt')], /missing\.txt: no such file/);
    const unseen = join(dir, 'unseen.txt');
    writeFileSync(unseen, 'a' + '€'.repeat(24));
    assertUsageError(
      ['evaluate', model, unseen],
      /unseen\.txt: the text has 1 usable character \(24 more not in the model's vocabulary skipped\); the model needs at least/,
    );
  });

  it('a text from a pipe (/dev/stdin, <(zcat …)) is read once, whole: train and evaluate take it as the file', () => {
    // `cat FILE | recur …`: a shell pipe, whose size (0) says nothing and which can be read once.
    const piped = (args: string[]): CliResult => {
      const r = spawnSync('/bin/sh', ['-c', 'cat "$0" | "$@"', textFile, process.execPath, CLI, ...args], {
        encoding: 'utf8',
      });
      return { code: r.status ?? -1, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    };
    const fromFile = run(['evaluate', model, textFile, '--threads', '1', '--json']);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const fromPipe = piped(['evaluate', model, '/dev/stdin', '--threads', '1', '--json']);
    assert.equal(fromPipe.code, 0, fromPipe.stderr);
    const loss = (r: CliResult): unknown => (JSON.parse(r.stdout) as { loss: number }).loss;
    assert.equal(loss(fromPipe), loss(fromFile));
    // spawnSync's input is a socket, which /dev/stdin cannot open (ENXIO): this process's stdin is read where it is.
    const fromSocket = run(['evaluate', model, '/dev/stdin', '--threads', '1', '--json'], {
      input: readFileSync(textFile, 'utf8'),
    });
    assert.equal(fromSocket.code, 0, fromSocket.stderr);
    assert.equal(loss(fromSocket), loss(fromFile));
    const out = join(dir, 'piped-run');
    const quick = '--units 8 --maxlen 10 --epochs 1 --steps-per-epoch 1 --threads 1 --no-samples -q'.split(
      ' ',
    );
    const t = piped(['train', '/dev/stdin', '--out', out, ...quick]);
    assert.equal(t.code, 0, t.stderr);
    const textSha256 = (m: string): string =>
      (
        JSON.parse(readFileSync(join(m, 'model.json'), 'utf8')) as {
          userDefinedMetadata: { settings: { textSha256: string } };
        }
      ).userDefinedMetadata.settings.textSha256;
    assert.equal(textSha256(out), textSha256(model));
    // An empty pipe is still refused, once read.
    const empty = spawnSync(
      '/bin/sh',
      ['-c', ': | "$@"', 'sh', process.execPath, CLI, 'evaluate', model, '/dev/stdin'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(empty.status, 2, empty.stderr);
    assert.match(empty.stderr, /^recur: \/dev\/stdin is empty\n$/);
    // A stream of NUL bytes is refused at its first block, not read until memory runs out.
    assertUsageError(
      ['evaluate', model, '/dev/zero'],
      /^recur: \/dev\/zero looks binary \(a NUL byte at offset 0\)/,
    );
  });

  it('a part of the text too short for the recipe is named: exit 2, not a failure while running', () => {
    const short = join(dir, 'short.txt');
    writeFileSync(short, pseudoText(40, 2));
    const flags = ['--out', join(dir, 'short-run'), '--threads', '1', '--no-samples', '-q'];
    assertUsageError(
      ['train', short, ...flags, '--maxlen', '10', '--validation-split', '0.1'],
      /the validation part of the text \(its last 10%, --validation-split\): the text has \d+ characters; it needs at least maxlen \+ 1 = 11/,
    );
    const longer = join(dir, 'longer.txt');
    writeFileSync(longer, pseudoText(2000, 2));
    assertUsageError(
      ['train', longer, ...flags, '--recipe', 'char-rnn', '--units', '4', '--validation-split', '0.1'],
      /the validation part of the text \(its last 10%, --validation-split\): the text has \d+ characters; 32 streams of 50 need at least 1601/,
    );
    // The training part is named as such: the file holds more than it has, so "the training text has 1,800" would
    // contradict the file. A small split is its share, not "0%".
    assertUsageError(
      ['train', longer, ...flags, '--recipe', 'char-rnn', '--units', '4', '--batch-size', '64'],
      /longer\.txt: the training part of the text \(all but its last 10%, --validation-split\) has 1,\d{3} characters; this recipe needs at least 3,201$/m,
    );
    assertUsageError(
      ['train', short, ...flags, '--maxlen', '10', '--validation-split', '0.001'],
      /the validation part of the text \(its last 0\.1%, --validation-split\)/,
    );
  });

  it('exit codes: 2 for unknown commands, flags and choices, 0 for --help; a stack trace only with --debug', () => {
    assertUsageError(['bogus'], /unknown command 'bogus'/);
    assertUsageError(['help', 'bogus'], /^recur: unknown command 'bogus'$/m);
    assertUsageError(['classify', 'help', 'bogus'], /^recur: unknown command 'bogus'$/m);
    assert.equal(run(['help', 'classify']).code, 0);
    assertUsageError(['train', '--out', 'help', 'bogus'], /bogus: no such file/);
    assertUsageError(['train', '--bogus'], /unknown option '--bogus'/);
    assertUsageError(['--bogus'], /unknown option '--bogus'/);
    assertUsageError(
      ['evaluate', model, textFile, '--unknown', 'maybe'],
      /--unknown must be skip or error, got 'maybe'/,
    );
    assertUsageError(
      ['train', textFile, '--optimizer', 'adamw'],
      /^recur: .*--optimizer must be sgd, rmsprop, adam or adagrad, got 'adamw'/,
    );
    assertUsageError(
      ['train', textFile, '--cell', 'rnn'],
      /--cell must be lstm, gru or simple-rnn, got 'rnn'/,
    );
    assertUsageError(['evaluate', model], /missing required argument/);
    const none = run([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage: recur/);
    const help = run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--debug/);
    assert.equal(run(['train', '--help']).code, 0);
    const version = run(['--version']);
    assert.equal(version.code, 0);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(version.stdout.trim(), pkg.version);

    const missing = join(dir, 'missing.txt');
    const plain = run(['evaluate', model, missing]);
    assert.doesNotMatch(plain.stderr, STACK_FRAME);
    for (const args of [
      ['--debug', 'evaluate', model, missing],
      ['evaluate', model, missing, '--debug'],
    ]) {
      const debug = run(args);
      assert.equal(debug.code, 2);
      assert.match(debug.stderr, /missing\.txt: no such file/);
      assert.match(debug.stderr, STACK_FRAME);
    }
  });

  it('reportError: 2 for bad usage or input, 1 for a failure while running, one line without the stack', () => {
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => lines.push(s) > 0) as typeof process.stderr.write;
    try {
      assert.equal(reportError(new UsageError('bad flag'), false), 2);
      const eisdir = Object.assign(new Error('EISDIR: illegal operation on a directory, read'), {
        code: 'EISDIR',
        path: '/tmp/d',
      });
      assert.equal(reportError(eisdir, false), 2);
      assert.equal(reportError(new Error('disk on fire'), false), 1);
      assert.equal(reportError(new Error('worker thread failed: boom\n    at f (x.js:1:1)'), false), 1);
      assert.equal(reportError('a string', false), 1);
    } finally {
      process.stderr.write = write;
    }
    assert.deepEqual(lines, [
      'recur: bad flag\n',
      'recur: /tmp/d: is a directory, where a file was expected\n',
      'recur: disk on fire\n',
      'recur: worker thread failed: boom\n',
      'recur: a string\n',
    ]);
  });

  it('evaluate skips characters outside the vocabulary and counts them; --unknown error refuses, naming the first', () => {
    const clean = join(dir, 'clean.txt');
    const dirty = join(dir, 'dirty.txt');
    const base = pseudoText(1500, 9);
    // The dirty text is the clean one with unknown characters (Q, é, a digit, an emoji) added at known places.
    const lines = base.split('\n');
    lines[3] = 'Q' + lines[3];
    lines[5] = lines[5] + 'é9😀é';
    writeFileSync(clean, base);
    writeFileSync(dirty, lines.join('\n'));
    const a = run(['evaluate', model, clean, '--json', '--threads', '1']);
    const b = run(['evaluate', model, dirty, '--json', '--threads', '1']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const ra = JSON.parse(a.stdout) as Record<string, unknown>;
    const rb = JSON.parse(b.stdout) as Record<string, unknown>;
    // The model lowercases, and its vocabulary has no 'q' either: 'Q' → 'q' is skipped too.
    assert.equal(rb.unknown_skipped, 5);
    assert.deepEqual(rb.unknown_characters, ['q', 'é', '9', '😀']);
    assert.equal(ra.unknown_skipped, 0);
    assert.equal(rb.loss, ra.loss);
    assert.equal(rb.predictions, ra.predictions);

    const human = run(['evaluate', model, dirty, '--threads', '1']);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /skipped 5 characters not in the model's vocabulary: "q", "é", "9", "😀"/);

    assertUsageError(
      ['evaluate', model, dirty, '--unknown', 'error'],
      /dirty\.txt: character "q" on line 4 is not in the model's vocabulary \(5 such characters in all\); --unknown skip leaves them out$/m,
    );
    const once = join(dir, 'once.txt');
    writeFileSync(once, base.replace('\n', '\nQ'));
    assertUsageError(
      ['evaluate', model, once, '--unknown', 'error'],
      /once\.txt: character "q" on line 2 is not in the model's vocabulary \(1 such character in all\); --unknown skip leaves it out$/m,
    );
  });

  it("evaluate's unknown-character scan names the line a character is on, a newline's own line included", () => {
    const vocab = new Vocabulary(['a', 'b', 'c']);
    // The first unknown is the newline that ends line 1: it is on line 1, not on the line it starts.
    assert.deepEqual(findUnknown(['abc\nab', 'c\nq'], vocab), {
      count: 3,
      distinct: ['\n', 'q'],
      first: { char: '\n', line: 1 },
    });
    // Lines are counted across the pieces a large file is read in.
    assert.deepEqual(findUnknown(['a\nb', '\nc', 'q'], new Vocabulary(['a', 'b', 'c', '\n'])).first, {
      char: 'q',
      line: 3,
    });
  });
});

describe('evaluate on the worker pool', () => {
  it('evaluateDataset splits batches across the pool and agrees with one thread (dropout off, stateful too)', async () => {
    // A counting runner over the same pool implementation the CLI uses.
    let poolBatches = 0;
    const { runner, shutdown } = createParallelRunner(() => {
      const worker = new Worker(new URL('../src/node/worker.js', import.meta.url));
      return {
        postMessage: (msg) => worker.postMessage(msg),
        onMessage: (fn) => worker.on('message', (r: PoolReply) => fn(r)),
        onError: (fn) => worker.on('error', fn),
        hold: (busy) => (busy ? worker.ref() : worker.unref()),
        terminate: () => worker.terminate(),
      };
    });
    // This test counts the batches the pool scores: split every batch, however small (as scripts/test.mjs does).
    setMinSplitWork(0);
    setParallelRunner({
      ...runner,
      losses: (...args) => {
        poolBatches++;
        return runner.losses(...args);
      },
    });
    try {
      const corpus = TextCorpus.fromText(pseudoText(4000, 3));
      const V = corpus.vocabulary.size;
      const build = (stateful: boolean): Sequential => {
        const m = new Sequential({ seed: 4 });
        m.add(
          new L.GRU({
            units: 12,
            returnSequences: true,
            stateful,
            ...(stateful ? { batchInputShape: [6, 10, V] } : { inputShape: [10, V] }),
          }),
        );
        m.add(new L.Dropout({ rate: 0.5 }));
        m.add(new L.LSTM({ units: 10, returnSequences: stateful, stateful }));
        m.add(new L.Dense({ units: V, activation: 'softmax' }));
        m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
        return m;
      };
      const datasets: [boolean, () => BatchDataset][] = [
        [false, () => corpus.windows({ maxlen: 10, step: 3, batchSize: 50, shuffle: false })],
        [true, () => corpus.streams({ seqLength: 10, batchSize: 6 })],
      ];
      const onPool = kernels() instanceof WasmKernels;
      for (const [stateful, data] of datasets) {
        const m = build(stateful);
        m.threads = 1;
        m.resetStates();
        const one = await m.evaluateDataset(data());
        m.threads = 3;
        m.resetStates();
        poolBatches = 0;
        const many = await m.evaluateDataset(data());
        const batches = data().batchesPerEpoch ?? 0;
        assert.ok(batches > 1);
        // The reference kernels cannot share memory with workers: there every batch stays on this thread.
        assert.equal(poolBatches, onPool ? batches : 0);
        assert.ok(Math.abs(one.loss - many.loss) < 1e-5, `stateful ${stateful}: ${one.loss} vs ${many.loss}`);
        assert.ok(
          Math.abs(one.accuracy - many.accuracy) < 1e-9,
          `stateful ${stateful}: ${one.accuracy} vs ${many.accuracy}`,
        );
      }
    } finally {
      installWorkerPool();
      await shutdown();
    }
  });
});
