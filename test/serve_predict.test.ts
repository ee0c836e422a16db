/**
 * `recur serve`'s POST /v1/predict for classifiers and seq2seq models: a tiny classifier and a tiny seq2seq model are
 * trained here through the CLI, served on port 0, and the HTTP answers must equal what `recur classify predict --json`
 * and `recur seq2seq predict --json` print for the same inputs (greedy and beam). GET /v1/models lists them with what
 * they expect; bad bodies (wrong fields, too many texts, too wide a beam, …) are 4xx JSON errors naming the field, a
 * seeded fuzz of bodies never gets a 5xx, and the server stays up throughout. `max_length` caps every output, the
 * joint n-gram's proposals included (a model built here with an n-gram that would spell longer). On this thread a
 * seq2seq model keeps its decoding steppers from request to request, and a reload gives the replaced one's back. A
 * client that goes away mid-request stops its labelling or decoding (on this thread and on the inference pool), and
 * `--log` records it as 499.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { kernels } from '../src/core/backend.js';
import { Random } from '../src/core/random.js';
import { WasmKernels } from '../src/core/wasm/wasm_kernels.js';
// As in the CLI's process (src/cli/main.ts): the worker pool splits big products, which orders their sums, so the
// served answers equal `recur … predict` to the last bit only with the same set-up.
import '../src/node/index.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { InferencePool, type InferencePort } from '../src/inference/pool.js';
import type { Sequential } from '../src/models/sequential.js';
import { createInferencePool, spawnInferenceThread } from '../src/node/inference_pool.js';
import {
  attachInferencePool,
  createServeApp,
  loadServedModels,
  SERVE_LIMITS,
  seq2seqOnThisThread,
  type ClassifierServed,
  type Seq2SeqServed,
  type ServeApp,
} from '../src/node/server.js';
import { fitJointNgram } from '../src/seq2seq/joint_ngram.js';
import { G2P_SETTINGS, buildSeq2SeqModel } from '../src/seq2seq/model.js';
import { Seq2Seq } from '../src/seq2seq/seq2seq.js';
import { Tokenizer } from '../src/seq2seq/tokenizer.js';
import { pairs, reviews, runCliOk } from './cli_helpers.js';
import { captureRequestLog, listen, loggedStatuses, until } from './serve_helpers.js';
import { untrainedSpeller } from './helpers.js';

const cli = (args: string[]): string => runCliOk(args);

const jsonLines = (out: string): unknown[] =>
  out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown);

const TEXTS = ['the film was great', 'a dull plot and a very bad story', 'story', 'zebra 🦓 unseen words'];
const SOURCES = ['the cat and the dog', 'the fish and the bird', 'the dog', 'unseen words here'];

describe('recur serve /v1/predict for classifiers and seq2seq models', () => {
  let dir = '';
  let labels = '';
  let phrases = '';
  let server: ServeApp | undefined;
  let base = '';
  const post = (body: unknown): Promise<Response> =>
    fetch(base + '/v1/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'recur-serve-predict-'));
    writeFileSync(join(dir, 'reviews.csv'), reviews(200, 1));
    writeFileSync(join(dir, 'pairs.tsv'), pairs(120, 2));
    labels = join(dir, 'labels');
    phrases = join(dir, 'phrases');
    const quiet = ['--seed', '3', '--quiet'];
    cli(
      [
        'classify',
        'train',
        join(dir, 'reviews.csv'),
        '--out',
        labels,
        '--epochs',
        '1',
        '--units',
        '8',
      ].concat(['--embedding-dim', '8', '--batch-size', '16', '--threads', '1'], quiet),
    );
    cli(
      ['seq2seq', 'train', join(dir, 'pairs.tsv'), '--out', phrases, '--epochs', '3', '--units', '8'].concat(
        ['--embedding-dim', '8', '--batch-size', '8', '--lr', '0.01'],
        quiet,
      ),
    );
    server = createServeApp({ served: loadServedModels([labels, phrases]) });
    await server.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await server?.close();
    await shutdownWorkerPool();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists both with their kind and what they expect', async () => {
    const r = await fetch(base + '/v1/models');
    assert.equal(r.status, 200);
    const { models } = (await r.json()) as { models: Record<string, unknown>[] };
    assert.deepEqual(
      models.map((m) => [m.name, m.kind, m.endpoint, m.expects]),
      [
        ['labels', 'classify', '/v1/predict', 'texts'],
        ['phrases', 'seq2seq', '/v1/predict', 'sources'],
      ],
    );
    assert.deepEqual(models[0].classes, ['neg', 'pos']);
    assert.equal(models[1].g2p, false);
    assert.equal(typeof models[1].default_max_length, 'number');
  });

  it('labels texts exactly as recur classify predict --json does', async () => {
    const expected = jsonLines(cli(['classify', 'predict', labels, ...TEXTS, '--json']));
    assert.equal(expected.length, TEXTS.length);
    const r = await post({ model: 'labels', texts: TEXTS });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { model: 'labels', predictions: expected });
    // One text, and the model found from the fields alone.
    const one = await post({ text: TEXTS[1] });
    assert.equal(one.status, 200);
    assert.deepEqual(await one.json(), { model: 'labels', predictions: [expected[1]] });
  });

  it('decodes sources exactly as recur seq2seq predict --json does, greedy and beam', async () => {
    for (const beam of [1, 3]) {
      const expected = jsonLines(
        cli(['seq2seq', 'predict', phrases, ...SOURCES, '--json', '--beam', String(beam)]),
      );
      assert.equal(expected.length, SOURCES.length);
      const r = await post({ model: 'phrases', sources: SOURCES, ...(beam > 1 && { beam }) });
      assert.equal(r.status, 200, `beam ${beam}`);
      assert.deepEqual(await r.json(), { model: 'phrases', beam, outputs: expected }, `beam ${beam}`);
    }
    // The beam's length penalty, as --length-penalty.
    const penalised = jsonLines(
      cli(['seq2seq', 'predict', phrases, ...SOURCES, '--json', '--beam', '3', '--length-penalty', '2.5']),
    );
    const lp = await post({ sources: SOURCES, beam: 3, length_penalty: 2.5 });
    assert.equal(lp.status, 200);
    assert.deepEqual(await lp.json(), { model: 'phrases', beam: 3, outputs: penalised });
    const short = await post({ sources: SOURCES, max_length: 2 });
    assert.equal(short.status, 200);
    const { outputs } = (await short.json()) as { outputs: { output: string }[] };
    for (const o of outputs) assert.ok(o.output.split(' ').filter(Boolean).length <= 2, o.output);
  });

  it('answers the same through the inference pool (recur serve --threads 2)', async () => {
    const pool = createInferencePool(2);
    const served = loadServedModels([labels, phrases]);
    await attachInferencePool(served, pool);
    const pooled = createServeApp({ served, pool });
    await pooled.app.listen({ port: 0, host: '127.0.0.1' });
    const at = `http://127.0.0.1:${(pooled.app.server.address() as AddressInfo).port}/v1/predict`;
    try {
      // Enough texts and sources for several batches per worker (128 per classify batch, 64 per decode batch).
      const rng = new Random(11);
      const texts = Array.from(
        { length: 256 },
        (_, i) => TEXTS[i % TEXTS.length] + ' film'.repeat(rng.int(9)),
      );
      const sources = Array.from(
        { length: 200 },
        (_, i) => SOURCES[i % SOURCES.length] + ' and the cat'.repeat(rng.int(3)),
      );
      for (const body of [
        { model: 'labels', texts },
        { model: 'phrases', sources },
        { model: 'phrases', sources: sources.slice(0, 70), beam: 3 },
        { model: 'labels', texts: ['a', ''] },
      ]) {
        const options = {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        };
        const [one, many] = await Promise.all([fetch(base + '/v1/predict', options), fetch(at, options)]);
        assert.equal(many.status, one.status);
        assert.deepEqual(await many.json(), await one.json());
      }
      for (const s of served) assert.ok((s as { pooled?: unknown }).pooled, s.name);
    } finally {
      await pooled.close();
      await pool.terminate();
    }
  });

  /** Inputs for many batches (128 texts, 64 sources a batch), in a request whose client leaves once work begins. */
  const MANY = 2000;
  const manyTexts = Array.from({ length: MANY }, (_, i) => TEXTS[i % TEXTS.length] + ' film'.repeat(i % 5));
  const manySources = Array.from(
    { length: MANY },
    (_, i) => SOURCES[i % SOURCES.length] + ' and the cat'.repeat(i % 3),
  );

  /**
   * Posts each body to `app` (--log on), its client leaving when `leave` is aborted (the test's counters abort it as
   * the work begins); resolves once the server has logged every request, with the statuses logged. A request after
   * them is answered: the server is free.
   */
  async function leaveMidway(
    app: ServeApp,
    bodies: readonly object[],
    leave: { now: AbortController | null },
  ): Promise<number[]> {
    const log = captureRequestLog();
    try {
      const address = await listen(app);
      for (const [i, body] of bodies.entries()) {
        leave.now = new AbortController();
        await fetch(address + '/v1/predict', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: leave.now.signal,
        }).then(
          () => assert.fail('answered a client that had gone'),
          () => undefined,
        );
        leave.now = null;
        await until(
          () => loggedStatuses(log.lines()).length === i + 1,
          `the request of ${JSON.stringify(body).slice(0, 40)}… was never logged: its work ran on`,
        );
      }
      const after = await fetch(address + '/v1/predict', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'phrases', sources: SOURCES }),
      });
      assert.equal(after.status, 200);
      return loggedStatuses(log.lines()).slice(0, bodies.length);
    } finally {
      log.restore();
      await app.close();
    }
  }

  it('stops labelling and decoding on this thread (--threads 1) when the client goes away: 499 in --log', async () => {
    const served = loadServedModels([labels, phrases]);
    const classifier = (served[0] as ClassifierServed).model as Sequential;
    const app = (served[1] as Seq2SeqServed).app!;
    const leave: { now: AbortController | null } = { now: null };
    // What the models were asked to compute; the client leaves as soon as they begin.
    let textBatches = 0;
    let sourcesDecoded = 0;
    const label = classifier.predict.bind(classifier);
    mock.method(classifier, 'predict', (...args: Parameters<Sequential['predict']>) => {
      textBatches++;
      leave.now?.abort();
      return label(...args);
    });
    const decode = app.predict.bind(app);
    mock.method(app, 'predict', (...args: Parameters<Seq2Seq['predict']>) => {
      sourcesDecoded += args[0].length;
      leave.now?.abort();
      return decode(...args);
    });
    const statuses = await leaveMidway(
      createServeApp({ served, limits: { ...SERVE_LIMITS, texts: MANY }, log: true }),
      [
        { model: 'labels', texts: manyTexts },
        { model: 'phrases', sources: manySources, beam: 2 },
      ],
      leave,
    );
    assert.deepEqual(statuses, [499, 499]);
    // Of 16 batches of texts and 32 of sources: the batch running when the client left, and a next one or two while
    // its leaving reaches the server (the test's client closes its socket a turn later); then the request after.
    assert.ok(
      textBatches <= 3,
      `labelled ${textBatches} batches of ${Math.ceil(MANY / 128)} for a client gone`,
    );
    assert.ok(
      sourcesDecoded <= 3 * 64 + SOURCES.length,
      `decoded ${sourcesDecoded} sources of ${MANY} for a client gone`,
    );
  });

  it('stops labelling and decoding on the inference pool when the client goes away: 499 in --log', async () => {
    // Workers over the real worker script that count the texts and sources sent to them; the client leaves as soon
    // as the first job is sent.
    const leave: { now: AbortController | null } = { now: null };
    const sent = { texts: 0, sources: 0 };
    const pool = new InferencePool((): InferencePort => {
      const port = spawnInferenceThread();
      return {
        ...port,
        postMessage: (m) => {
          if (m.type === 'classify') sent.texts += m.sequences.length;
          if (m.type === 'decode') sent.sources += m.sources.length;
          if (m.type === 'classify' || m.type === 'decode') leave.now?.abort();
          port.postMessage(m);
        },
      };
    }, 2);
    try {
      const served = loadServedModels([labels, phrases], SERVE_LIMITS, { onPool: true });
      await attachInferencePool(served, pool);
      const statuses = await leaveMidway(
        createServeApp({ served, pool, limits: { ...SERVE_LIMITS, texts: MANY }, log: true }),
        [
          { model: 'labels', texts: manyTexts },
          { model: 'phrases', sources: manySources, beam: 2 },
        ],
        leave,
      );
      assert.deepEqual(statuses, [499, 499]);
      // Eight jobs each, dealt a job per worker at a time: the ones running when the client left, perhaps the next.
      assert.ok(sent.texts <= MANY / 2, `sent ${sent.texts} texts of ${MANY} for a client gone`);
      assert.ok(sent.sources <= MANY / 2, `sent ${sent.sources} sources of ${MANY} for a client gone`);
    } finally {
      await pool.terminate();
    }
  });

  it('answers bad bodies with a 4xx naming the field, and stays up', async () => {
    const cases: [string, unknown, number, RegExp][] = [
      [
        'unknown model',
        { model: 'nope', texts: ['a'] },
        404,
        /unknown model 'nope'; served: labels, phrases/,
      ],
      ['no texts', { model: 'labels' }, 400, /^texts: required for classify model 'labels'/],
      ['empty texts', { texts: [] }, 400, /^texts: /],
      ['empty text', { texts: ['fine', ''] }, 400, /^texts\.1: a text must not be empty or only whitespace/],
      ['blank text', { text: ' \t ' }, 400, /^text: a text must not be empty or only whitespace/],
      [
        'invisible text',
        { texts: ['fine', '\u200B\u200C \u200D\u2060\uFEFF'] },
        400,
        /^texts\.1: a text must not be empty or only whitespace or invisible characters/,
      ],
      ['not a string', { texts: ['a', 7] }, 400, /^texts\.1: /],
      ['too many texts', { texts: Array(SERVE_LIMITS.texts + 1).fill('a') }, 413, /^texts: /],
      ['too long a text', { text: 'a'.repeat(SERVE_LIMITS.textChars + 1) }, 413, /^text: /],
      ['text and texts', { text: 'a', texts: ['b'] }, 400, /^text: give text .* or texts .*, not both/],
      [
        'sources to a classifier',
        { model: 'labels', sources: ['a'] },
        400,
        /^sources: not taken by classify/,
      ],
      [
        'beam to a classifier',
        { model: 'labels', texts: ['a'], beam: 2 },
        400,
        /^beam: not taken by classify/,
      ],
      ['values to seq2seq', { model: 'phrases', values: [1, 2] }, 400, /^values: not taken by seq2seq/],
      ['texts to seq2seq', { model: 'phrases', texts: ['a'] }, 400, /^texts: not taken by seq2seq/],
      ['no sources', { model: 'phrases' }, 400, /^sources: required for seq2seq model 'phrases'/],
      ['too wide a beam', { sources: ['the cat'], beam: SERVE_LIMITS.beam + 1 }, 413, /^beam: /],
      ['zero beam', { sources: ['the cat'], beam: 0 }, 400, /^beam: /],
      ['fractional beam', { sources: ['the cat'], beam: 1.5 }, 400, /^beam: /],
      ['huge max_length', { sources: ['the cat'], max_length: 1e9 }, 413, /^max_length: /],
      ['negative length_penalty', { sources: ['the cat'], length_penalty: -1 }, 400, /^length_penalty: /],
      // As `recur seq2seq predict` refuses --length-penalty without --beam: greedily it changes nothing.
      [
        'length_penalty greedily',
        { sources: ['the cat'], length_penalty: 1 },
        400,
        /^length_penalty: ranks beam search's outputs, and beam 1 decodes greedily/,
      ],
      [
        'length_penalty to a classifier',
        { model: 'labels', texts: ['a'], length_penalty: 1 },
        400,
        /^length_penalty: not taken by classify/,
      ],
      ['unknown field', { sources: ['the cat'], beams: 2 }, 400, /beams/],
      // As `recur seq2seq predict` refuses a blank argument.
      [
        'empty source',
        { sources: ['the cat', ''] },
        400,
        /^sources\.1: a source must not be empty or only whitespace or invisible characters$/,
      ],
      [
        'blank source',
        { sources: [' \t '] },
        400,
        /^sources\.0: a source must not be empty or only whitespace or invisible characters$/,
      ],
      [
        'invisible source',
        { sources: ['the cat', '\u200B\u200D\uFEFF'] },
        400,
        /^sources\.1: a source must not be empty or only whitespace or invisible characters$/,
      ],
      // Naming no model and sending no field of one kind, the request could be for either: ambiguous.
      [
        'no model, no kind',
        {},
        400,
        /^model: several models answer \/v1\/predict \(labels, phrases\); name one, or send the fields of its kind/,
      ],
      // A field only seq2seq models take picks the one served, as `sources` would.
      ['only beam', { beam: 2 }, 400, /^sources: required for seq2seq model 'phrases'/],
      ['values, no forecaster', { values: [1, 2] }, 400, /^no forecaster model is served$/],
    ];
    for (const [what, body, status, message] of cases) {
      const r = await post(body);
      assert.equal(r.status, status, what);
      assert.match(((await r.json()) as { error: string }).error, message, what);
    }
    const r = await post({ sources: ['the cat and the dog'] });
    assert.equal(r.status, 200);
  });

  it('answers seeded fuzzed bodies with 200 or a 4xx JSON error, never a 5xx', async () => {
    const rng = new Random(20261204);
    const odd: unknown[] = [
      null,
      -1,
      0,
      1.5,
      17,
      1e9,
      '',
      ' ',
      '\u0000',
      'x'.repeat(50),
      [],
      [''],
      [' '],
      ['\n'],
      {},
    ];
    const valid = [
      { model: 'labels', texts: ['the film was good'] },
      { model: 'phrases', sources: ['the cat'], beam: 2, max_length: 5 },
    ];
    const fields = ['model', 'text', 'texts', 'sources', 'beam', 'max_length', 'values'];
    for (let i = 0; i < 60; i++) {
      const body: Record<string, unknown> = { ...valid[rng.int(valid.length)] };
      const field = fields[rng.int(fields.length)];
      body[field] = odd[rng.int(odd.length)];
      const r = await post(body);
      assert.ok(
        r.status === 200 || (r.status >= 400 && r.status < 500),
        `${JSON.stringify(body)}: ${r.status}`,
      );
      const j = (await r.json()) as { error?: string };
      if (r.status !== 200) assert.equal(typeof j.error, 'string');
    }
    assert.equal((await post(valid[0])).status, 200);
  });
});

describe('recur serve /v1/predict: max_length caps every decoding path, the joint n-gram included', () => {
  // An untrained model beside a joint n-gram that spells a → X, b → Y Y, weighted to win: 'bbbbbb' gets 12 tokens.
  const src = new Tokenizer('chars', ['<pad>', '<start>', '<end>', '<unk>', 'a', 'b']);
  const tgt = new Tokenizer('symbols', ['<pad>', '<start>', '<end>', '<unk>', 'X', 'Y']);
  const sound: Record<string, string[]> = { a: ['X'], b: ['Y', 'Y'] };
  const rng = new Random(5);
  const words = Array.from({ length: 300 }, () =>
    Array.from({ length: 1 + rng.int(6) }, () => 'ab'[rng.int(2)]).join(''),
  );
  const { model: ngram } = fitJointNgram(
    words.map((w) => ({
      source: src.encode(w),
      target: tgt.encode([...w].flatMap((c) => sound[c]).join(' ')),
    })),
    src.size,
    tgt.size,
    3,
  );
  const settings = { ...G2P_SETTINGS, units: 4, embeddingDim: 3, seed: 1 };
  const net = buildSeq2SeqModel(settings, src.size, tgt.size);
  const app = new Seq2Seq(net, settings, src, tgt, 12, 'spell.tsv', [], { model: ngram, weight: 50 });
  let server: ServeApp | undefined;
  let base = '';
  before(async () => {
    server = createServeApp({ served: [seq2seqOnThisThread('spell', '', app)] });
    await server.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await server?.close();
  });
  const tokens = async (body: Record<string, unknown>): Promise<number[]> => {
    const r = await fetch(base + '/v1/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(r.status, 200);
    const { outputs } = (await r.json()) as { outputs: { output: string }[] };
    return outputs.map((o) => tgt.split(o.output).length);
  };

  it('answers no output longer than max_length, greedy or beam', async () => {
    const sources = ['bbbbbb', 'abab', 'a'];
    assert.equal((await tokens({ sources }))[0], 12, "uncapped, the n-gram's spelling");
    for (const beam of [1, 3])
      for (const max_length of [1, 2, 5])
        for (const n of await tokens({ sources, beam, max_length }))
          assert.ok(n <= max_length, `beam ${beam}, max_length ${max_length}: ${n} tokens`);
  });
});

describe('recur serve /v1/predict on this thread (--threads 1): a seq2seq model keeps its decoding steppers', () => {
  // Wide enough that a replaced model's kept steppers would show in the kernel memory.
  const appOf = (seed: number): Seq2Seq => untrainedSpeller(48, 8, seed).app;
  const sources = untrainedSpeller(48, 8, 1).words(40, 6);
  let server: ServeApp | undefined;
  let base = '';
  before(async () => {
    server = createServeApp({ served: [seq2seqOnThisThread('abc', '', appOf(1))] });
    await server.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await server?.close();
  });
  const outputs = async (beam: number): Promise<unknown> => {
    const r = await fetch(base + '/v1/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sources, beam }),
    });
    assert.equal(r.status, 200);
    return ((await r.json()) as { outputs: unknown }).outputs;
  };

  it("builds its steppers once over many requests, and a reload gives the replaced model's back", async () => {
    const app = (server!.models()[0] as Seq2SeqServed).app!;
    // Every stepper decoding builds makes one step state per stepped layer.
    const built = app.members.flatMap((m) => m.layers).map((l) => mock.method(l, 'createStepState'));
    const steppersBuilt = (): number => built.reduce((n, c) => n + c.mock.callCount(), 0);
    try {
      const want = [1, 3].map(
        (beam) => JSON.parse(JSON.stringify(app.predict(sources, { beam }))) as unknown,
      );
      built.forEach((c) => c.mock.resetCalls());
      for (const [i, beam] of [1, 3].entries()) assert.deepEqual(await outputs(beam), want[i]);
      const first = steppersBuilt();
      assert.ok(first > 0);
      for (let n = 0; n < 4; n++)
        for (const [i, beam] of [1, 3].entries()) assert.deepEqual(await outputs(beam), want[i]);
      assert.equal(steppersBuilt(), first, 'requests after the first built steppers');
    } finally {
      built.forEach((c) => c.mock.restore());
    }
    // Reload after reload (SIGUSR2 swaps in the models loaded again, here two whose weights are made once): each
    // new entry keeps its own steppers, and the replaced one's go back, so the kernel memory stays flat.
    const apps = [appOf(2), appOf(3)];
    const k = kernels();
    let high = 0;
    for (let reload = 1; reload <= 12; reload++) {
      const next = seq2seqOnThisThread('abc', '', apps[reload % 2]);
      server!.swap([next]);
      const want = next.app!.predict(sources, { beam: 3 });
      assert.deepEqual(await outputs(3), JSON.parse(JSON.stringify(want)), `reload ${reload}`);
      await outputs(1);
      // The reference kernels' buffers are plain arrays, reclaimed by the garbage collector.
      if (reload === 2 && k instanceof WasmKernels) high = k.memoryBytes;
    }
    if (k instanceof WasmKernels) assert.equal(k.memoryBytes, high, 'kernel memory grew with the reloads');
  });
});
