/**
 * Seeded fuzzing of what a text model's model.json carries besides the network (userDefinedMetadata: vocabulary,
 * settings, default prime), for a keras-recipe and a char-rnn model: fields replaced by other types, numbers out of
 * range or off by one, strings and lists changed. Each damaged directory either loads (parseTextModelMetadata, the
 * loader of generate, evaluate, train --resume, serve and the page) into a model that generates from its default prime
 * and scores a batch of its recipe's windows, or is refused with an InvalidInputError naming the directory, model.json
 * and the field — never a raw error from a layer. Settings that no longer fit the network (window, recipe, cell,
 * units, layers) and a default prime outside the vocabulary were accepted: `train --resume` then failed deep in a
 * layer (exit 1), and `recur serve` started and answered every request with an internal error.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import { loadModel } from '../src/node/model_io.js';
import { loadServedModels } from '../src/node/server.js';
import { TextCorpus } from '../src/text/corpus.js';
import { TextGenerator } from '../src/text/generator.js';
import { parseTextModelMetadata, vocabularyOf } from '../src/text/metadata.js';
import { compileTextModel, textDatasets } from '../src/text/recipes.js';
import { pseudoText, runCli } from './cli_helpers.js';
import { damagedMetadataCopy, editedMetadataCopy, type Json } from './json_paths.js';

const SEED = 20261207;
const MUTATIONS = 80;
const root = mkdtempSync(join(tmpdir(), 'recur-text-metadata-fuzz-'));
after(() => rmSync(root, { recursive: true, force: true }));
const book = join(root, 'book.txt');
const models = { keras: join(root, 'keras'), 'char-rnn': join(root, 'char-rnn') };

type Meta = Record<string, Json>;

before(() => {
  writeFileSync(book, pseudoText(3000, 1));
  const quick = [
    '--epochs',
    '1',
    '--steps-per-epoch',
    '2',
    '--units',
    '8',
    '--threads',
    '1',
    '--no-samples',
    '-q',
  ];
  for (const [recipe, out] of Object.entries(models)) {
    const shape =
      recipe === 'keras'
        ? ['--maxlen', '10', '--batch-size', '16']
        : ['--seq-length', '20', '--batch-size', '4'];
    const r = runCli(['train', book, '--out', out, '--recipe', recipe, ...shape, ...quick]);
    assert.equal(r.code, 0, r.stderr);
  }
});

/** Loads `dir` as the commands do; a loaded model must generate from its default prime and score one batch. */
async function loadAndUse(dir: string): Promise<void> {
  const { model, metadata } = loadModel(dir);
  const meta = parseTextModelMetadata(model, metadata, dir);
  const s = meta.settings;
  const vocab = vocabularyOf(meta);
  const text = new TextGenerator(
    model,
    vocab,
    s.lowercase,
    s.recipe === 'keras' ? s.maxlen : undefined,
  ).generate({
    length: 5,
    prime: meta.defaultPrime,
    seed: 1,
  });
  assert.equal(Array.from(text).length, 5);
  for (const c of text) assert.ok(vocab.has(c), `generated ${JSON.stringify(c)}, outside the vocabulary`);
  const corpus = TextCorpus.fromText(readFileSync(book, 'utf8'), {
    lowercase: s.lowercase,
    vocabulary: vocab,
    unknown: 'skip',
  });
  compileTextModel(model, s);
  try {
    const { train } = textDatasets(model, s, corpus, null, { maxBatches: 1 });
    const { loss } = await model.evaluateDataset(train);
    assert.ok(Number.isFinite(loss), `loss ${loss}`);
  } catch (e) {
    // A text too short for the recipe's batch (a larger batch size or window) is the text's problem, named as such.
    if (!(e instanceof InvalidInputError && /text has \d+ characters/.test(e.message))) throw e;
  }
}

function refusedCleanly(e: unknown, copy: string, where: string): void {
  assert.ok(e instanceof InvalidInputError, `${where}: ${(e as Error).stack}`);
  // The field named, or (task or vocabulary gone) not a text model at all.
  assert.ok(
    e.message.startsWith(`${copy}: model.json: userDefinedMetadata.`) ||
      e.message.startsWith(`${copy} is not a recur text model`),
    `${where}: ${e.message}`,
  );
}

describe('text model metadata (seeded fuzz)', () => {
  for (const [recipe, dir] of Object.entries(models)) {
    it(`${recipe}: ${MUTATIONS} damaged metadata load a usable model or are refused naming model.json and the field`, async () => {
      const rng = new Random(SEED + recipe.length);
      let refused = 0;
      for (let c = 0; c < MUTATIONS; c++) {
        const copy = join(root, `damaged-${c}`);
        const what = damagedMetadataCopy(dir, copy, rng, ['recur']);
        try {
          await loadAndUse(copy);
        } catch (e) {
          refusedCleanly(e, copy, `case ${c}: ${what}`);
          refused++;
        }
      }
      assert.ok(refused > MUTATIONS / 4, `only ${refused} of ${MUTATIONS} damaged files were refused`);
    });
  }

  it('regressions: settings that no longer fit the network, and a default prime it cannot encode, are refused', () => {
    const cases: [keyof typeof models, string, (m: Meta) => void, RegExp][] = [
      [
        'keras',
        'maxlen',
        (m) => ((m.settings as Meta).maxlen = 3),
        /settings\.maxlen: 3, but the model reads 10/,
      ],
      ['keras', 'recipe', (m) => ((m.settings as Meta).recipe = 'char-rnn'), /settings\.recipe: 'char-rnn'/],
      ['keras', 'units', (m) => ((m.settings as Meta).units = 9), /settings\.units: 9, but .* has 8$/],
      [
        'keras',
        'layers',
        (m) => ((m.settings as Meta).layers = 2),
        /settings\.layers: 2, but .* 1 recurrent layer$/,
      ],
      ['keras', 'cell', (m) => ((m.settings as Meta).cell = 'gru'), /settings\.cell: 'gru', but .* lstm$/],
      ['keras', 'optimizer', (m) => ((m.settings as Meta).optimizer = 'rmspropx'), /settings\.optimizer: /],
      [
        'keras',
        'vocabulary',
        (m) => (m.vocabulary as Json[]).push('q'),
        /vocabulary: \d+ characters, but the model/,
      ],
      [
        'keras',
        'prime',
        (m) => (m.defaultPrime = 'q\u00e9'),
        /defaultPrime: characters outside the vocabulary/,
      ],
      ['keras', 'empty prime', (m) => (m.defaultPrime = ''), /defaultPrime: expected at least one character/],
      [
        'char-rnn',
        'seqLength',
        (m) => ((m.settings as Meta).seqLength = 10),
        /settings\.seqLength: 10, but .* 20/,
      ],
      ['char-rnn', 'recipe', (m) => ((m.settings as Meta).recipe = 'keras'), /settings\.recipe: 'keras'/],
      [
        'char-rnn',
        'batchSize',
        (m) => ((m.settings as Meta).batchSize = 8),
        /settings\.batchSize: 8, but .* 4 streams/,
      ],
    ];
    for (const [recipe, name, change, message] of cases) {
      const copy = editedMetadataCopy(
        models[recipe],
        join(root, `${recipe}-${name.replace(' ', '-')}`),
        change,
      );
      const { model, metadata } = loadModel(copy);
      assert.throws(
        () => parseTextModelMetadata(model, metadata, copy),
        (e: Error) =>
          e instanceof InvalidInputError &&
          e.message.startsWith(`${copy}: model.json: `) &&
          message.test(e.message),
        `${recipe} ${name}`,
      );
      // recur serve loads through the same check: refused at start, not a 500 on every request.
      assert.throws(() => loadServedModels([copy]), InvalidInputError, `serve ${recipe} ${name}`);
    }
  });

  it('generate, evaluate and train --resume exit 2 naming model.json and the field, with no stack trace', () => {
    const keras = models.keras;
    const run = join(root, 'resume-run');
    rmSync(run, { recursive: true, force: true });
    cpSync(keras, run, { recursive: true });
    const ckpt = join(run, 'checkpoint', 'model.json');
    const json = JSON.parse(readFileSync(ckpt, 'utf8')) as { userDefinedMetadata: Meta };
    (json.userDefinedMetadata.settings as Meta).maxlen = 3;
    writeFileSync(ckpt, JSON.stringify(json));
    const before = readFileSync(ckpt);
    const resume = runCli(['train', book, '--out', run, '--resume', '--epochs', '2', '--threads', '1', '-q']);
    const prime = editedMetadataCopy(keras, join(root, 'cli-prime'), (m) => (m.defaultPrime = 'xyz'));
    const recipe = editedMetadataCopy(
      keras,
      join(root, 'cli-recipe'),
      (m) => ((m.settings as Meta).recipe = 'char-rnn'),
    );
    for (const [r, field] of [
      [resume, 'settings.maxlen'],
      [runCli(['generate', prime, '--length', '5']), 'defaultPrime'],
      [runCli(['evaluate', recipe, book, '--json']), 'settings.recipe'],
    ] as const) {
      assert.equal(r.code, 2, r.stderr);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
      assert.match(
        r.stderr,
        new RegExp(`^recur: \\S+: model\\.json: userDefinedMetadata\\.${field}: .+\\n$`),
      );
    }
    assert.deepEqual(readFileSync(ckpt), before, 'the refused resume changed the checkpoint');
  });

  it('--chars with as many characters as the model carries, but other ones, names the first that differs', () => {
    const own = (
      JSON.parse(readFileSync(join(models.keras, 'model.json'), 'utf8')) as { userDefinedMetadata: Meta }
    ).userDefinedMetadata.vocabulary as string[];
    const other = [...own.slice(0, -1), '~'].join(''); // '~' sorts last, as the model's last character did
    const r = runCli(['generate', models.keras, '--chars', other, '--prime', 'the', '--length', '5']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^recur: --chars: it gives other characters than the ${own.length} \\S+ carries \\("~" where it has "${own.at(-1)}"\\); leave out`,
      ),
    );
  });
});
