/**
 * The `recur` command line end to end: train → generate → evaluate, exact resume after an interruption, the embedded
 * default corpus, and bad input (clear message, non-zero exit, nothing overwritten).
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadModel } from '../src/node/model_io.js';
import { ChunkedText } from '../src/text/chunked_text.js';
import { CLI, pseudoText, runCli, type CliResult } from './cli_helpers.js';

const TINY = [
  '--units',
  '16',
  '--batch-size',
  '32',
  '--maxlen',
  '12',
  '--sample-length',
  '20',
  '--threads',
  '2',
];

const run = (args: string[], env: Record<string, string> = {}): CliResult => runCli(args, { env });

const WORDS = [
  'the',
  'whale',
  'sea',
  'ship',
  'and',
  'of',
  'a',
  'captain',
  'white',
  'deep',
  'sailed',
  'into',
  'storm',
  'night',
];
const makeText = (chars: number, seed: number): string => pseudoText(chars, seed, WORDS);

describe('recur CLI', () => {
  let dir = '';
  let textFile = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-cli-'));
    textFile = join(dir, 'book.txt');
    writeFileSync(textFile, makeText(6000, 1));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('train → generate → evaluate, with --json logs', () => {
    const out = join(dir, 'run');
    const t = run([
      'train',
      textFile,
      '--out',
      out,
      '--epochs',
      '2',
      '--validation-split',
      '0.1',
      '--json',
      '--seed',
      '1',
      ...TINY,
    ]);
    assert.equal(t.code, 0, t.stderr);
    const lines = t.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number | string>);
    const epochs = lines.filter((l) => 'epoch' in l);
    assert.equal(epochs.length, 2);
    for (const key of ['epoch', 'loss', 'val_loss', 'lr', 'seconds', 'samples_per_sec'])
      assert.ok(key in epochs[0], `missing ${key}`);
    assert.equal(lines.filter((l) => 'sample' in l).length, 8, 'four temperatures per epoch');
    const samples = lines.filter((l) => 'sample' in l);
    assert.deepEqual(
      samples.slice(0, 4).map((l) => l.temperature),
      [0.2, 0.5, 1, 1.2],
      'each sample line says its temperature as a number',
    );
    assert.ok(samples.every((l) => typeof l.prime === 'string' && l.prime.length > 0 && !('epoch' in l)));
    assert.ok(existsSync(join(out, 'model.json')) && existsSync(join(out, 'checkpoint', 'model.json')));
    assert.match(readFileSync(join(out, 'log.csv'), 'utf8'), /^epoch,loss,lr,val_loss\n0,/);

    const g = run([
      'generate',
      out,
      '--length',
      '50',
      '--temperature',
      '0.5',
      '--seed',
      '3',
      '--prime',
      'the whale',
    ]);
    assert.equal(g.code, 0, g.stderr);
    assert.ok(g.stdout.startsWith('the whale'));
    assert.equal(Array.from(g.stdout.trimEnd()).length >= 'the whale'.length + 40, true);
    assert.equal(
      run(['generate', out, '--length', '50', '--temperature', '0.5', '--seed', '3', '--prime', 'the whale'])
        .stdout,
      g.stdout,
    );

    // The streamed characters (written in chunks) are the text --json reports, none lost or repeated.
    const long = ['generate', out, '--length', '700', '--seed', '4', '--prime', 'the whale'];
    const streamed = run(long).stdout;
    const reported = JSON.parse(run([...long, '--json']).stdout) as { prime: string; text: string };
    assert.equal(streamed, `${reported.prime}${reported.text}\n`);

    const e = run(['evaluate', out, textFile, '--json']);
    assert.equal(e.code, 0, e.stderr);
    const m = JSON.parse(e.stdout) as { loss: number; bits_per_char: number; perplexity: number };
    assert.ok(
      Math.abs(m.bits_per_char - m.loss / Math.LN2) < 1e-9 &&
        Math.abs(m.perplexity - Math.exp(m.loss)) < 1e-6,
    );
    const quiet = run(['evaluate', out, textFile, '--quiet']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
    assert.match(quiet.stdout, new RegExp(`^loss ${m.loss.toFixed(4)} nats/char · `));
    // The saved model loads as a TensorFlow.js LayersModel file set too (checked in tfjs.test); here: in recur.
    assert.equal(loadModel(out).model.layers[0].className, 'LSTM');
  });

  it('--init: uniform by default (U(±1/√units), no unit forget bias), keras on request', () => {
    const inits: Record<string, string> = {};
    for (const init of ['default', 'keras']) {
      const out = join(dir, `init-${init}`);
      const args = ['train', textFile, '--out', out, '--epochs', '1', '--steps-per-epoch', '1', '-q'];
      const r = run([...args, '--no-samples', ...TINY, ...(init === 'keras' ? ['--init', 'keras'] : [])]);
      assert.equal(r.code, 0, r.stderr);
      const loaded = loadModel(out).model;
      const config = loaded.layers[0].getConfig() as Record<string, { className: string }>;
      // RMSprop with ε outside the root is the CLI's default; the optimizer config carries it.
      assert.equal(loaded.optimizer?.getConfig().epsilonOutside, true);
      inits[init] =
        `${config.kernelInitializer.className}/${config.recurrentInitializer.className}/${String(config.unitForgetBias)}`;
    }
    assert.equal(inits.default, 'RandomUniform/RandomUniform/false');
    assert.equal(inits.keras, 'GlorotUniform/Orthogonal/true');
    const bad = run(['train', textFile, '--out', join(dir, 'init-bad'), '--init', 'xavier']);
    assert.equal(bad.code, 2, 'a usage error');
    assert.match(bad.stderr, /--init must be keras or uniform, got 'xavier'/);
    const badEps = run(['train', textFile, '--out', join(dir, 'eps-bad'), '--rmsprop-epsilon', 'middle']);
    assert.equal(badEps.code, 2, 'a usage error');
    assert.match(badEps.stderr, /--rmsprop-epsilon must be inside or outside, got 'middle'/);
  });

  it('an interrupted run resumes exactly: same weights as an uninterrupted run', () => {
    const common = ['--epochs', '2', '--seed', '7', '--no-samples', '-q', '--dropout', '0.1', ...TINY];
    const a = join(dir, 'straight');
    assert.equal(run(['train', textFile, '--out', a, ...common]).code, 0);
    const b = join(dir, 'interrupted');
    const first = run(['train', textFile, '--out', b, ...common.filter((a) => a !== '-q')], {
      RECUR_TEST_INTERRUPT_AFTER: '7',
    });
    assert.equal(first.code, 130, first.stderr);
    // The hint repeats what a resumed run does not take from its checkpoint: following it finishes this run.
    const hint = /Continue with: recur (.*)/.exec(first.stderr)?.[1].split(' ');
    assert.deepEqual(hint?.slice(0, 7), ['train', textFile, '--out', b, '--resume', '--epochs', '2']);
    assert.equal(hint?.[7], '--threads');
    const meta = loadModel(join(b, 'checkpoint')).metadata as { state: { epoch: number; batch: number } };
    assert.deepEqual([meta.state.epoch, meta.state.batch], [0, 7]);
    // Another text (the same characters, another order) is not the run's: refused.
    const other = join(dir, 'other.txt');
    writeFileSync(other, readFileSync(textFile, 'utf8').split('').reverse().join(''));
    const wrongText = run(['train', other, '--out', b, '--resume', '--epochs', '2', '-q']);
    assert.equal(wrongText.code, 2, wrongText.stderr);
    assert.match(wrongText.stderr, /other\.txt is not the text the run was trained on/);
    // No text at all reads the one the checkpoint names (not Moby Dick); moved away, it is refused, named.
    renameSync(textFile, `${textFile}.moved`);
    const noText = run(['train', '--out', b, '--resume', '--epochs', '2', '-q']);
    renameSync(`${textFile}.moved`, textFile);
    assert.equal(noText.code, 2, noText.stderr);
    assert.equal(
      noText.stderr,
      `recur: --resume: the run in ${b} trained on ${textFile}, which is not there (moved or deleted); give its text: ` +
        `recur train FILE --out ${b} --resume\n`,
    );
    // The checkpoint keeps the model: a flag that says otherwise is refused before anything is touched.
    const changed = run(['train', textFile, '--out', b, '--resume', '--epochs', '2', '-q', '--units', '24']);
    assert.equal(changed.code, 2, changed.stderr);
    assert.match(
      changed.stderr,
      /--units 24 with --resume: the checkpoint's run uses 16; leave the flag out/,
    );
    const second = run([...hint!, '-q']);
    assert.equal(second.code, 0, second.stderr);
    const wa = loadModel(join(a, 'checkpoint')).model.getWeights();
    const wb = loadModel(join(b, 'checkpoint')).model.getWeights();
    wa.forEach((w, i) => assert.deepEqual(wb[i].data, w.data, `weight ${i}`));
  });

  it('Ctrl-C as soon as the run holds its lock (before the text is read) stops after the first batch with a checkpoint, and --resume ends as an uninterrupted run', () => {
    const common = [
      '--epochs',
      '2',
      '--seed',
      '7',
      '--no-samples',
      '--dropout',
      '0.1',
      '--threads',
      '1',
      ...TINY,
    ];
    const a = join(dir, 'start-straight');
    assert.equal(run(['train', textFile, '--out', a, ...common, '-q']).code, 0);
    const b = join(dir, 'start-interrupted');
    // A real SIGINT, sent as the lock is taken: it used to kill the run with no word, its lock left behind.
    const first = run(['train', textFile, '--out', b, ...common], { RECUR_TEST_INTERRUPT_AT_START: '1' });
    assert.equal(first.code, 130, first.stderr);
    assert.match(
      first.stderr,
      /Interrupted: training stops after its first batch and saves a checkpoint \(Ctrl-C again to quit now\)/,
    );
    assert.match(
      first.stderr,
      /Saved \S*start-interrupted\/checkpoint at epoch 1, batch 1\. Continue with: recur train/,
    );
    assert.ok(!existsSync(join(b, 'recur.lock')), 'the lock is released');
    const second = run(['train', textFile, '--out', b, '--resume', '-q']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(readFileSync(join(b, 'log.csv'), 'utf8'), readFileSync(join(a, 'log.csv'), 'utf8'));
    const wa = loadModel(join(a, 'checkpoint')).model.getWeights();
    const wb = loadModel(join(b, 'checkpoint')).model.getWeights();
    wa.forEach((w, i) => assert.deepEqual(wb[i].data, w.data, `weight ${i}`));
  });

  it('the char-rnn recipe trains statefully', () => {
    const out = join(dir, 'charrnn');
    const r = run([
      'train',
      textFile,
      '--recipe',
      'char-rnn',
      '--out',
      out,
      '--epochs',
      '1',
      '--units',
      '16',
      '--batch-size',
      '4',
      '--seq-length',
      '20',
      '--no-samples',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout.trim().split('\n')[0]).val_loss > 0);
    assert.equal(run(['generate', out, '--length', '10', '--prime', 'the']).code, 0);
    // evaluate reads its own batch of 4 streams: the same batch size is fine, a window stride or another batch size
    // is refused rather than ignored.
    const e = run(['evaluate', out, textFile, '--json', '--threads', '1', '--batch-size', '4']);
    assert.equal(e.code, 0, e.stderr);
    const refused: [string[], RegExp][] = [
      [
        ['--batch-size', '64'],
        /--batch-size 64: .* is a stateful char-rnn model, which evaluates in its own batch of 4 streams/,
      ],
      [['--step', '2'], /--step: .* is a stateful char-rnn model, which reads streams, not windows/],
    ];
    for (const [flags, message] of refused) {
      const r2 = run(['evaluate', out, textFile, ...flags]);
      assert.equal(r2.code, 2, r2.stderr);
      assert.match(r2.stderr, message);
    }
  });

  it('trains on the embedded default corpus (Moby Dick) with no file', () => {
    const out = join(dir, 'moby');
    const r = run([
      'train',
      '--out',
      out,
      '--epochs',
      '1',
      '--steps-per-epoch',
      '2',
      '--units',
      '8',
      '--no-samples',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(loadModel(out).metadata.vocabulary);
  });

  it('line ends: CRLF and a lone CR (old Mac OS) are each the LF of the same text, never a CR in the vocabulary', () => {
    const lines = makeText(3000, 2).split('\n');
    const vocabulary = (eol: string): string[] => {
      const file = join(dir, `eol-${eol === '\r' ? 'cr' : eol === '\r\n' ? 'crlf' : 'lf'}.txt`);
      writeFileSync(file, lines.join(eol));
      const out = `${file}.run`;
      const flags = [
        '--epochs',
        '1',
        '--steps-per-epoch',
        '1',
        '--units',
        '4',
        '--no-samples',
        '--threads',
        '1',
      ];
      const r = run(['train', file, '--out', out, ...flags, '-q']);
      assert.equal(r.code, 0, r.stderr);
      return loadModel(out).metadata.vocabulary as string[];
    };
    const lf = vocabulary('\n');
    assert.ok(lf.includes('\n') && !lf.includes('\r'), JSON.stringify(lf));
    assert.deepEqual(vocabulary('\r\n'), lf);
    assert.deepEqual(vocabulary('\r'), lf);
  });

  it('bad input: clear messages, non-zero exits, nothing overwritten', () => {
    const bad = (args: string[], pattern: RegExp, code?: number): void => {
      const r = run(args);
      assert.notEqual(r.code, 0, `expected failure for ${args.join(' ')}`);
      if (code !== undefined) assert.equal(r.code, code);
      assert.match(r.stderr, pattern);
    };
    bad(['train', join(dir, 'missing.txt'), '--out', join(dir, 'x')], /missing\.txt: no such file/);
    writeFileSync(join(dir, 'empty.txt'), '');
    bad(['train', join(dir, 'empty.txt'), '--out', join(dir, 'x')], /empty\.txt is empty/);
    writeFileSync(join(dir, 'bin.txt'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]));
    bad(
      ['train', join(dir, 'bin.txt'), '--out', join(dir, 'x')],
      /bin\.txt looks binary \(a NUL byte at offset 4\)/,
    );
    writeFileSync(join(dir, 'latin1.txt'), Buffer.from('caf\xe9 au lait\n', 'latin1'));
    bad(
      ['train', join(dir, 'latin1.txt'), '--out', join(dir, 'x')],
      /latin1\.txt is not valid UTF-8 \(byte 0xe9 at offset 3, line 1\)/,
    );
    writeFileSync(join(dir, 'short.txt'), 'too short');
    bad(
      ['train', join(dir, 'short.txt'), '--out', join(dir, 'x')],
      /has 9 characters; this recipe needs at least 41/,
    );
    bad(['train', textFile, '--epochs', '0'], /--epochs must be an integer from 1 to/, 2);
    bad(['train', textFile, '--seq-length', '20'], /--seq-length applies to --recipe char-rnn/, 2);
    bad(
      ['train', textFile, '--recipe', 'char-rnn', '--maxlen', '20'],
      /--maxlen applies to the keras recipe/,
      2,
    );
    // An unknown flag with commander's suggestion is still one line.
    const typo = run(['train', textFile, '--epoch', '1']);
    assert.equal(typo.code, 2);
    assert.equal(typo.stderr, "recur: unknown option '--epoch' (Did you mean --epochs?)\n");

    const out = join(dir, 'run');
    const before = readdirSync(out).sort();
    bad(['train', textFile, '--out', out], /already holds a model; pass --resume .* --overwrite/, 2);
    assert.deepEqual(readdirSync(out).sort(), before);
    bad(
      ['train', textFile, '--from', out, '--recipe', 'char-rnn'],
      /--recipe: --from continues a trained model/,
      2,
    );
    bad(
      ['train', textFile, '--from', out, '--no-lowercase'],
      /--no-lowercase: --from continues a trained model/,
      2,
    );
    // A file of a name recur writes, with no model beside it, is the user's: never replaced, --overwrite or not.
    const users = join(dir, 'users');
    mkdirSync(users);
    writeFileSync(join(users, 'log.csv'), 'my log');
    for (const more of [[], ['--overwrite']])
      bad(
        ['train', textFile, '--out', users, ...more],
        /users\/log\.csv is not part of a recur model here/,
        2,
      );
    assert.equal(readFileSync(join(users, 'log.csv'), 'utf8'), 'my log');
    const weights = join(dir, 'users-weights');
    mkdirSync(weights);
    writeFileSync(join(weights, 'weights-0a.bin'), 'mine');
    bad(['train', textFile, '--out', weights], /weights-0a\.bin is not part of a recur model here/, 2);
    assert.equal(readFileSync(join(weights, 'weights-0a.bin'), 'utf8'), 'mine');
    // A model.json that is no model (not a LayersModel's JSON) is the user's too, --overwrite or not.
    const notes = join(dir, 'users-model-json');
    mkdirSync(notes);
    for (const content of ['my notes', '{}']) {
      writeFileSync(join(notes, 'model.json'), content);
      for (const more of [[], ['--overwrite']])
        bad(
          ['train', textFile, '--out', notes, ...more],
          /users-model-json\/model\.json is not part of a recur model here/,
          2,
        );
      assert.equal(readFileSync(join(notes, 'model.json'), 'utf8'), content);
    }
    // Beside a real checkpoint too: --overwrite used to delete it with the run's files, and --resume's first save
    // would replace it.
    const beside = join(dir, 'users-model-json-beside-checkpoint');
    const tiny = ['--epochs', '1', '--steps-per-epoch', '1', '--no-samples', '-q', '--threads', '1', ...TINY];
    assert.equal(run(['train', textFile, '--out', beside, ...tiny]).code, 0);
    for (const n of readdirSync(beside)) if (n !== 'checkpoint') rmSync(join(beside, n));
    writeFileSync(join(beside, 'model.json'), 'my notes');
    for (const more of [['--overwrite'], ['--resume'], []])
      bad(
        ['train', textFile, '--out', beside, ...tiny, ...more],
        /users-model-json-beside-checkpoint\/model\.json is not part of a recur model here/,
        2,
      );
    assert.equal(readFileSync(join(beside, 'model.json'), 'utf8'), 'my notes');
    assert.ok(loadModel(join(beside, 'checkpoint')).model, 'the checkpoint is left too');
    bad(
      ['train', textFile, '--out', users, '--resume'],
      /holds no checkpoint to resume .* without --resume/,
      2,
    );
    bad(
      ['generate', out, '--prime', 'ZQX€'],
      /--prime has characters the model never saw: "z", "q", "x", "€"/,
      2,
    );
    bad(['generate', join(dir, 'nope')], /no such file or directory; expected a model directory/);
    mkdirSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'broken', 'model.json'), '{"modelTopology": 5');
    bad(['generate', join(dir, 'broken')], /model\.json: not valid JSON/);
    // QA's file: one line, at the right place (Node 20's message has no position and quotes the text over lines).
    mkdirSync(join(dir, 'bj'));
    writeFileSync(join(dir, 'bj', 'model.json'), '{\n "a": 1,\n "b": x,\n "c": 3\n}\n');
    for (const args of [
      ['generate', join(dir, 'bj')],
      ['evaluate', join(dir, 'bj'), textFile],
      ['predict', join(dir, 'bj')],
      ['convert', join(dir, 'bj'), join(dir, 'bj.keras')],
    ]) {
      const r = run(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(
        r.stderr,
        `recur: ${join(dir, 'bj', 'model.json')}: not valid JSON at line 3, column 7 (unexpected "x" where a value was expected)\n`,
        args[0],
      );
    }
    const notJson = run(['generate', textFile]);
    assert.equal(notJson.code, 2);
    assert.match(
      notJson.stderr,
      /^recur: \S*book\.txt: not a model file recur reads; expected a recur\/tfjs model directory \(or its model\.json\), a Keras \.h5\/\.hdf5 file or a Keras 3 \.keras archive\n$/,
    );
    // An empty prime is bad usage, named, before the model is loaded.
    const empty = run(['generate', out, '--prime', '', '--length', '5']);
    assert.equal(empty.code, 2, empty.stderr);
    assert.equal(empty.stderr, 'recur: --prime is empty; give at least one character to start from\n');
    bad(['evaluate', out, join(dir, 'latin1.txt')], /not valid UTF-8/);
  });
});

describe('CLI start-up loads only the flag table', () => {
  // --help, --version and usage errors answer from commander and the flags' defaults. The defaults once came from
  // the modules that use them (forecast/network.ts, classify/model.ts, seq2seq/model.ts), which loaded every layer,
  // the wasm binaries and zod's schemas first: 0.31 s and 67 MB for `--version` instead of 0.24 s and 60 MB.
  it('--version, --help and a usage error import no layer, model or kernel module', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-startup-'));
    try {
      const hooks = join(dir, 'hooks.mjs');
      writeFileSync(
        hooks,
        'export async function load(url, context, next) {\n' +
          "  if (url.startsWith('file:')) process.stderr.write(`LOADED ${url}\\n`);\n" +
          '  return next(url, context);\n}\n',
      );
      const register = join(dir, 'register.mjs');
      writeFileSync(
        register,
        `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
      );
      for (const args of [['--version'], ['train', '--help'], ['generate']]) {
        const r = spawnSync(process.execPath, ['--import', pathToFileURL(register).href, CLI, ...args], {
          encoding: 'utf8',
        });
        const loaded = [...r.stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]);
        assert.ok(
          loaded.some((u) => u.endsWith('/cli/main.js')),
          `the hook saw nothing for ${args.join(' ')}`,
        );
        const heavy = loaded.filter((u) => /\/src\/(layers|models|core\/wasm)\//.test(u));
        assert.deepEqual(heavy, [], `recur ${args.join(' ')} loaded ${heavy.length} library modules`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ChunkedText (streamed text in chunks)', () => {
  it('writes a chunk once it holds maxChars characters, the rest on flush, in order', () => {
    const chunks: string[] = [];
    const w = new ChunkedText((c) => chunks.push(c), 4, Infinity);
    for (const c of 'abcdefghij') w.add(c);
    assert.deepEqual(chunks, ['abcd', 'efgh']);
    w.flush();
    w.flush(); // nothing left: no empty write
    assert.deepEqual(chunks, ['abcd', 'efgh', 'ij']);
    w.add('a long line\n');
    assert.deepEqual(chunks.at(-1), 'a long line\n');
  });

  it('writes what it holds once maxMs have passed, so streamed text keeps appearing', () => {
    const chunks: string[] = [];
    const w = new ChunkedText((c) => chunks.push(c), 1000, 0);
    w.add('x');
    w.add('y');
    assert.deepEqual(chunks, ['x', 'y']);
  });
});
