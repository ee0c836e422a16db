/**
 * The built CLI on Keras files: `recur predict` (JSON in, JSON out) on every format, `recur convert` between them
 * with identical predictions, `recur generate model.h5 --corpus` rebuilding the tutorial's vocabulary, and bad
 * input → exit 2 with one line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Random } from '../src/core/random.js';
import * as L from '../src/layers/index.js';
import { saveKerasH5 } from '../src/keras/save.js';
import { Sequential } from '../src/models/sequential.js';
import { maxAbsDiff } from './helpers.js';
import { fixtures, predictAll, randomizeWeights, type Fixture } from './keras_fixtures.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

function run(args: string[], stdin?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input: stdin, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function badInput(r: { code: number; stderr: string }, re: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[lines.length - 1], re, what);
  assert.doesNotMatch(r.stderr, /\n\s+at |TypeError|HDF5-DIAG/, `${what}: ${r.stderr}`);
}

describe('recur predict, convert and generate on Keras files', () => {
  let dir = '';
  let all: Fixture[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'recur-cli-keras-'));
    all = await fixtures();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('predict reads JSON on stdin (or -i) and prints the outputs by name', () => {
    const f = all.find((x) => x.name.startsWith('Keras 3.8 .keras'))!;
    const file = join(dir, 's2s.keras');
    writeFileSync(file, f.bytes);
    const want = predictAll(f.reference, f.inputs)[0];
    const input = JSON.stringify({
      input_layer: f.inputs[0].toArray(),
      input_layer_1: f.inputs[1].toArray(),
    });
    const r = run(['predict', file], input);
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { time_distributed: number[][][] };
    // The CLI may run other kernels (relaxed SIMD) than this process: equal to rounding.
    assert.ok(maxAbsDiff(Float32Array.from(got.time_distributed.flat(2)), want.data) < 1e-6);
    writeFileSync(join(dir, 'in.json'), input);
    assert.equal(run(['predict', file, '-i', join(dir, 'in.json')]).stdout, r.stdout);
    // A file is text as stdin is: a BOM (Notepad, PowerShell) dropped, UTF-16 named as such, not "invalid JSON".
    writeFileSync(join(dir, 'bom.json'), '\uFEFF' + input);
    assert.equal(run(['predict', file, '-i', join(dir, 'bom.json')]).stdout, r.stdout);
    writeFileSync(join(dir, 'utf16.json'), Buffer.from('\uFEFF' + input, 'utf16le'));
    badInput(
      run(['predict', file, '-i', join(dir, 'utf16.json')]),
      /utf16\.json is UTF-16LE text .*, not UTF-8/,
      'UTF-16 --input',
    );
    // One array for a single-input model.
    const seq = all.find((x) => x.name.startsWith('Keras 2.0'))!;
    writeFileSync(join(dir, 'seq.h5'), seq.bytes);
    const r2 = run(['predict', join(dir, 'seq.h5'), '--quiet'], JSON.stringify(seq.inputs[0].toArray()));
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(Object.keys(JSON.parse(r2.stdout) as object), ['dense_1']);
    // --quiet keeps the loader's note, as every command's --quiet keeps notes.
    assert.match(r2.stderr, /^note: \S*seq\.h5: hard_sigmoid read as Keras 2's clip/);
  });

  it('convert .h5 → .keras → model directory → .h5: every copy predicts the same', () => {
    const f = all.find((x) => x.name.startsWith('tf.keras 2.2.4-tf'))!;
    const src = join(dir, 'bi.h5');
    writeFileSync(src, f.bytes);
    const input = JSON.stringify(f.inputs[0].toArray());
    const want = run(['predict', src], input).stdout;
    const chain = [src, join(dir, 'bi.keras'), join(dir, 'bi-dir'), join(dir, 'bi2.hdf5')];
    for (let i = 1; i < chain.length; i++) {
      const c = run(['convert', chain[i - 1], chain[i]]);
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stderr, /→/);
      assert.equal(run(['predict', chain[i]], input).stdout, want, `predictions of ${chain[i]}`);
    }
    badInput(run(['convert', src, chain[1]]), /already exists; add --overwrite/, 'existing OUT');
    assert.equal(run(['convert', src, chain[1], '--overwrite', '--quiet']).code, 0);
    badInput(
      run(['convert', src, chain[2]]),
      /already holds a model; add --overwrite/,
      'existing model directory',
    );
  });

  it('convert writes a layer Keras cannot load and says so on stderr (and in --json notes), naming it', async () => {
    // textgenrnn's AttentionWeightedAverage: Keras loads it only given textgenrnn's class.
    const model = new Sequential({
      seed: 2,
      layers: [
        new L.Embedding({ inputDim: 6, outputDim: 3, inputShape: [4] }),
        new L.LSTM({ units: 3, returnSequences: true }),
        new L.AttentionWeightedAverage({ name: 'awa' }),
        new L.Dense({ units: 6, activation: 'softmax' }),
      ],
    });
    model.build();
    const src = join(dir, 'awa.h5');
    writeFileSync(src, (await saveKerasH5(model)).bytes);
    const note =
      /note: Keras 3 cannot load this file: it has no class for layer 'awa' \(AttentionWeightedAverage: textgenrnn's custom layer, which Keras loads only given textgenrnn's class as a custom object\); recur reads it/;
    const c = run(['convert', src, join(dir, 'awa.keras')]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stderr, note);
    const j = run(['convert', src, join(dir, 'awa2.h5'), '--json']);
    assert.equal(j.code, 0, j.stderr);
    const notes = (JSON.parse(j.stdout.trim()) as { notes: string[] }).notes;
    assert.ok(
      notes.some((n) => /^Keras 2 cannot load this file: .*'awa' \(AttentionWeightedAverage/.test(n)),
      notes.join('\n'),
    );
    // The file is written all the same: recur reads it back.
    const input = JSON.stringify([[1, 2, 3, 4]]);
    assert.equal(run(['predict', join(dir, 'awa.keras')], input).stdout, run(['predict', src], input).stdout);
  });

  it('convert refuses what the target cannot express, and writes nothing', () => {
    const f = all.find((x) => x.name.startsWith('Keras 2.0'))!;
    const src = join(dir, 'hs.h5');
    writeFileSync(src, f.bytes);
    const out = join(dir, 'hs.keras');
    badInput(
      run(['convert', src, out]),
      /layer 'lstm_1' uses Keras 2's hard_sigmoid/,
      'hard_sigmoid to .keras',
    );
    assert.ok(!existsSync(out));
  });

  it("convert does not put a model beside a seed ensemble's or a forecaster's manifest, even with --overwrite", () => {
    const f = all.find((x) => x.name.startsWith('tf.keras 2.2.4-tf'))!;
    const src = join(dir, 'beside.h5');
    writeFileSync(src, f.bytes);
    for (const manifest of ['ensemble.json', 'forecaster.json']) {
      const out = join(dir, `holds-${manifest}`);
      mkdirSync(out);
      writeFileSync(join(out, manifest), '{}');
      for (const extra of [[], ['--overwrite']])
        badInput(
          run(['convert', src, out, ...extra]),
          new RegExp(
            `holds-${manifest.replace('.', '\\.')}: holds a .* \\(${manifest.replace('.', '\\.')}\\); give another directory`,
          ),
          `${manifest} ${extra.join(' ')}`,
        );
      assert.deepEqual(readdirSync(out), [manifest]);
    }
  });

  it('a file under another name: Keras bytes are read as Keras; other bytes are not a model file, not "bad JSON"', () => {
    const f = all.find((x) => x.name.startsWith('tf.keras 2.2.4-tf'))!;
    const renamed = join(dir, 'weights.best');
    writeFileSync(renamed, f.bytes);
    const r = run(['convert', renamed, join(dir, 'renamed.keras'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { from: string }).from, 'keras-h5');
    for (const [name, bytes] of [
      ['model.onnx', Uint8Array.from([8, 7, 0x12, 0xff, 0xfe, 0x80])],
      ['model.pt', new Uint8Array(0)],
    ] as const) {
      const file = join(dir, name);
      writeFileSync(file, bytes);
      for (const args of [
        ['convert', file, join(dir, `${name}.keras`)],
        ['predict', file],
      ])
        badInput(
          run(args, '[]'),
          new RegExp(
            `${name.replace('.', '\\.')}: not a model file recur reads; expected a recur/tfjs model directory \\(or its model\\.json\\), a Keras \\.h5/\\.hdf5 file or a Keras 3 \\.keras archive$`,
          ),
          `${args[0]} ${name}`,
        );
    }
  });

  it("convert refuses a new OUT named like another framework's model file instead of making a directory of that name", () => {
    const f = all.find((x) => x.name.startsWith('tf.keras 2.2.4-tf'))!;
    const src = join(dir, 'foreign-out.h5');
    writeFileSync(src, f.bytes);
    for (const name of ['converted.onnx', 'converted.PT', 'converted.tflite', 'converted.txt', 'out.csv'])
      badInput(
        run(['convert', src, join(dir, name)]),
        /recur writes a recur\/tfjs model directory, a Keras \.h5\/\.hdf5 file or a Keras 3 \.keras archive, told by OUT's extension; '\.(onnx|pt|tflite|txt|csv)' is none of them/,
        name,
      );
    assert.ok(!existsSync(join(dir, 'converted.onnx')));
    // An existing directory of such a name is the user's choice.
    mkdirSync(join(dir, 'v1.zip'));
    assert.equal(run(['convert', src, join(dir, 'v1.zip'), '-q']).code, 0);
  });

  it("convert into a directory without a model keeps the user's weights.bin: refused, --overwrite or not", () => {
    const f = all.find((x) => x.name.startsWith('tf.keras 2.2.4-tf'))!;
    const src = join(dir, 'users-weights.h5');
    writeFileSync(src, f.bytes);
    const out = join(dir, 'users-dir');
    mkdirSync(out);
    writeFileSync(join(out, 'weights.bin'), 'mine');
    for (const extra of [[], ['--overwrite']])
      badInput(
        run(['convert', src, out, ...extra]),
        /users-dir\/weights\.bin is not part of a recur model here and saving one would replace it/,
        `weights.bin ${extra.join(' ')}`,
      );
    assert.deepEqual(readdirSync(out), ['weights.bin']);
    assert.equal(readFileSync(join(out, 'weights.bin'), 'utf8'), 'mine');
    // So is a model.json that is no model's (not a LayersModel's JSON).
    const notes = join(dir, 'users-model-json');
    mkdirSync(notes);
    writeFileSync(join(notes, 'model.json'), 'my notes');
    for (const extra of [[], ['--overwrite']])
      badInput(
        run(['convert', src, notes, ...extra]),
        /users-model-json\/model\.json is not part of a recur model here and saving one would replace it/,
        `model.json ${extra.join(' ')}`,
      );
    assert.deepEqual(readdirSync(notes), ['model.json']);
    assert.equal(readFileSync(join(notes, 'model.json'), 'utf8'), 'my notes');
    // Once it holds a model, --overwrite replaces that model's files.
    rmSync(join(out, 'weights.bin'));
    assert.equal(run(['convert', src, out, '-q']).code, 0);
    assert.equal(run(['convert', src, out, '-q', '--overwrite']).code, 0);
    assert.equal(readdirSync(out).filter((n) => n.endsWith('.bin')).length, 1);
  });

  it('bad input exits 2 with one line: damaged files, bad JSON, wrong shapes', () => {
    const f = all.find((x) => x.name.startsWith('Keras 2.0'))!;
    const cut = join(dir, 'cut.h5');
    writeFileSync(cut, f.bytes.subarray(0, 3000));
    badInput(run(['predict', cut], '[]'), /cut\.h5: .*(truncated|damaged)/, 'truncated file');
    const good = join(dir, 'good.h5');
    writeFileSync(good, f.bytes);
    badInput(run(['predict', good], '{"x": '), /stdin: not valid JSON/, 'bad JSON');
    badInput(run(['predict', good], ''), /stdin is empty/, 'empty stdin');
    badInput(
      run(['predict', good], '[[[1, 2]]]'),
      /input 'lstm_1': has shape \[1, 1, 2\]; the model takes \[any, 5, 4\]/,
      'shape',
    );
    badInput(
      run(['predict', join(dir, 'missing.keras')], '[]'),
      /missing\.keras: no such file/,
      'missing file',
    );
    badInput(
      run(['convert', join(dir, 'nothing-here'), join(dir, 'x.keras')]),
      /no such file or directory; expected a model directory/,
      'missing dir',
    );
    // Finite in JSON, infinite in float32: bad input naming the value and where it is.
    const big = JSON.stringify([Array.from({ length: 5 }, () => [1, 2, 1e308, 4])]);
    badInput(
      run(['predict', good], big),
      /^recur: stdin: input 'lstm_1': value 1e\+308 at index \[0, 0, 2\] is outside float32's range/,
      'beyond float32',
    );
    // Beyond a double: JSON.parse reads Infinity (which JSON.stringify would print as null).
    const huge = `[${JSON.stringify(Array.from({ length: 5 }, () => [1, 2, 3, 4])).replace('[1,2,3,4]]', '[1,2,-1e400,4]]')}]`;
    badInput(
      run(['predict', good], huge),
      /^recur: stdin: input 'lstm_1': value at index \[0, 4, 2\] is not finite: a number beyond ±1\.7976931348623157e\+308 \(a double's range\) reads as -Infinity; expected a finite number$/,
      'beyond a double',
    );
    badInput(
      run(['predict', good, '--input', dir]),
      new RegExp(
        `^recur: ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a directory; expected a JSON file$`,
      ),
      'a directory as --input',
    );
  });

  it('convert makes the missing parent directories of a Keras file, as of a model directory', () => {
    const f = all.find((x) => x.name.startsWith('tf.keras 2.2.4-tf'))!;
    const src = join(dir, 'nested-src.h5');
    writeFileSync(src, f.bytes);
    for (const out of [
      join(dir, 'no', 'such', 'm.keras'),
      join(dir, 'no2', 'm.h5'),
      join(dir, 'no3', 'd', 'm'),
    ]) {
      const r = run(['convert', src, out, '--quiet']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.ok(existsSync(out.endsWith('m') ? join(out, 'model.json') : out), out);
    }
    // A file in the way is named as the user gave it, never a temp file.
    writeFileSync(join(dir, 'afile'), '');
    const r = run(['convert', src, join(dir, 'afile', 'm.keras')]);
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /\.tmp/);
    assert.match(r.stderr, /afile/);
  });

  it('a text model keeps its vocabulary through Keras files and model directories; one without takes --corpus', () => {
    const book = join(dir, 'text.txt');
    const rng = new Random(5);
    const words = ['the', 'whale', 'sea', 'ship', 'and', 'of', 'a'];
    let text = '';
    while (text.length < 3000) text += words[rng.int(words.length)] + (rng.next() < 0.1 ? '.\n' : ' ');
    writeFileSync(book, text);
    const base = join(dir, 'text-base');
    const t = run([
      'train',
      book,
      '--out',
      base,
      '--epochs',
      '1',
      '--units',
      '8',
      '--maxlen',
      '12',
      '--threads',
      '1',
      '--quiet',
    ]);
    assert.equal(t.code, 0, t.stderr);
    const meta = (d: string): Record<string, unknown> =>
      (
        JSON.parse(readFileSync(join(d, 'model.json'), 'utf8')) as {
          userDefinedMetadata: Record<string, unknown>;
        }
      ).userDefinedMetadata;
    const want = run(['generate', base, '-n', '30', '--seed', '3', '--json']);
    assert.equal(want.code, 0, want.stderr);
    const score = run(['evaluate', base, book, '--threads', '1', '--json']);
    assert.equal(score.code, 0, score.stderr);
    const paths = {
      keras: join(dir, 'text.keras'),
      h5: join(dir, 'text.h5'),
      fromKeras: join(dir, 'text-from-keras'),
      fromH5: join(dir, 'text-from-h5'),
      copy: join(dir, 'text-copy'),
    };
    for (const [a, b] of [
      [base, paths.keras],
      [paths.keras, paths.fromKeras],
      [base, paths.h5],
      [paths.h5, paths.fromH5],
      [base, paths.copy],
    ]) {
      const c = run(['convert', a, b, '--quiet']);
      assert.equal(c.code, 0, `${a} → ${b}: ${c.stderr}`);
    }
    const { recur: origRecur, ...orig } = meta(base);
    for (const d of [paths.fromKeras, paths.fromH5, paths.copy]) {
      const { recur, ...m } = meta(d);
      assert.deepEqual(m, orig, `${d}: task, vocabulary, settings, prime`);
      // Each file's own hashes aside (the new directory's are of its files).
      const withoutHashes = (r: unknown): Record<string, unknown> => {
        const o = { ...(r as Record<string, unknown>) };
        delete o.sha256;
        return o;
      };
      assert.deepEqual(
        withoutHashes(recur),
        withoutHashes(origRecur),
        `${d}: recur's seed and compile settings`,
      );
    }
    // Everything generates and scores as the original: the directories, and the Keras files themselves.
    const strip = (s: string): unknown => {
      const o = JSON.parse(s) as Record<string, unknown>;
      delete o.seconds;
      return o;
    };
    for (const m of Object.values(paths)) {
      const g = run(['generate', m, '-n', '30', '--seed', '3', '--json']);
      assert.equal(g.code, 0, `${m}: ${g.stderr}`);
      assert.deepEqual(strip(g.stdout), strip(want.stdout), m);
      const e = run(['evaluate', m, book, '--threads', '1', '--json']);
      assert.equal(e.code, 0, `${m}: ${e.stderr}`);
      const [x, y] = [e.stdout, score.stdout].map((s) => JSON.parse(s) as { loss: number });
      assert.ok(Math.abs(x.loss - y.loss) < 1e-6, `${m}: ${x.loss} vs ${y.loss}`);
    }
    // --corpus for a model with its vocabulary: the same vocabulary is fine (its windows prime the model), another is
    // refused.
    assert.equal(run(['generate', paths.fromKeras, '--corpus', book, '-n', '10']).code, 0);
    const other = join(dir, 'other.txt');
    writeFileSync(other, '0123456789!@#$%^'.repeat(40)); // as many characters as the book, other ones
    badInput(
      run(['generate', paths.fromKeras, '--corpus', other]),
      /--corpus: it gives other characters than the \d+ \S+ carries \(.+ where it has .+\); leave out --corpus and --chars/,
      '--corpus with another vocabulary',
    );

    // A directory without a vocabulary (as one converted from a Keras file that carries none, the tutorial's):
    // --corpus, as for the Keras file.
    const bareDir = join(dir, 'bare-dir');
    const stripped = run(['convert', paths.copy, bareDir, '--quiet']);
    assert.equal(stripped.code, 0);
    const mj = JSON.parse(readFileSync(join(bareDir, 'model.json'), 'utf8')) as {
      userDefinedMetadata: Record<string, unknown>;
    };
    mj.userDefinedMetadata = { recur: mj.userDefinedMetadata.recur };
    writeFileSync(join(bareDir, 'model.json'), JSON.stringify(mj));
    badInput(
      run(['generate', bareDir, '-n', '5']),
      /bare-dir: the model carries no vocabulary .*; give the training text with --corpus FILE \(or the characters with --chars\)$/,
      'no vocabulary in the directory',
    );
    badInput(
      run(['evaluate', bareDir, book]),
      /bare-dir: the model carries no vocabulary .*--corpus FILE/,
      'evaluate without a vocabulary',
    );
    const g = run([
      'generate',
      bareDir,
      '--corpus',
      book,
      '-n',
      '30',
      '--seed',
      '3',
      '--json',
      '--prime',
      'the whale',
    ]);
    assert.equal(g.code, 0, g.stderr);
    const gBase = run(['generate', base, '-n', '30', '--seed', '3', '--json', '--prime', 'the whale']);
    assert.deepEqual(strip(g.stdout), strip(gBase.stdout), "the rebuilt vocabulary is the model's");
    const e = run(['evaluate', bareDir, book, '--corpus', book, '--threads', '1', '--json']);
    assert.equal(e.code, 0, e.stderr);
    assert.ok(
      Math.abs(
        (JSON.parse(e.stdout) as { loss: number }).loss - (JSON.parse(score.stdout) as { loss: number }).loss,
      ) < 1e-6,
    );
  });

  it("generate model.h5 --corpus rebuilds the tutorial's vocabulary and says so", async () => {
    // A model shaped like the Keras tutorial's: one-hot windows of 10 characters → LSTM → Dense(softmax).
    const rng = new Random(3);
    const words = ['the', 'whale', 'sea', 'Ship', 'and', 'of', 'a'];
    let text = '';
    while (text.length < 2000) text += words[rng.int(words.length)] + (rng.next() < 0.1 ? '.\r\n' : ' ');
    const chars = [...new Set(text.replace(/\r\n/g, '\n').toLowerCase())].sort();
    const m = new Sequential({
      seed: 2,
      layers: [
        new L.LSTM({ name: 'lstm_1', units: 8, inputShape: [10, chars.length] }),
        new L.Dense({ name: 'dense_1', units: chars.length, activation: 'softmax' }),
      ],
    });
    m.build();
    randomizeWeights(m, 4);
    const model = join(dir, 'tutorial.h5');
    writeFileSync(model, (await saveKerasH5(m)).bytes);
    const corpus = join(dir, 'book.txt');
    writeFileSync(corpus, text);
    const r = run(['generate', model, '--corpus', corpus, '-n', '40', '--seed', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `vocabulary: ${chars.length} characters, sorted set of the corpus's characters \\(lowercased`,
      ),
    );
    assert.ok(
      [...r.stdout.trim()].every((c) => chars.includes(c) || c === '\n'),
      r.stdout,
    );
    const j = run([
      'generate',
      model,
      '--corpus',
      corpus,
      '-n',
      '20',
      '--seed',
      '1',
      '--json',
      '--exact-window',
    ]);
    assert.equal(j.code, 0, j.stderr);
    assert.equal([...(JSON.parse(j.stdout) as { text: string }).text].length, 20);
    badInput(
      run(['generate', model, '-n', '5']),
      /carries no vocabulary; give the training text with --corpus/,
      'no corpus',
    );
    writeFileSync(join(dir, 'other.txt'), 'xyz');
    badInput(
      run(['generate', model, '--corpus', join(dir, 'other.txt')]),
      /^recur: \S*tutorial\.h5: the model predicts \d+ characters, but \S*other\.txt has 3 however the tutorial may have read it/,
      'wrong corpus',
    );
    badInput(
      run(['generate', model, '--chars', 'abc', '-p', 'a']),
      /^recur: \S*tutorial\.h5: the model predicts \d+ characters, but --chars gives 3$/,
      'wrong chars',
    );
    assert.ok(readFileSync(corpus, 'utf8') === text, 'the corpus is untouched');
  });
});
