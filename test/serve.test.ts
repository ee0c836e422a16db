/**
 * `recur serve`'s HTTP API on 127.0.0.1: the same text as `recur generate` for the same model, prime and seed (whole
 * and streamed), 32 concurrent streams all completing with each stream's own text, bad requests answered with a 4xx
 * and a JSON error while the server stays up, forecasts over /v1/predict, and a graceful SIGTERM that lets an
 * in-flight stream finish. Also the batcher itself against TextGenerator, and Stepper.copyRow.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { makeOutput } from '../src/cli/output.js';
import { reloadModels } from '../src/cli/serve.js';
import { InvalidInputError } from '../src/core/errors.js';
import { baselineLoaders, setBaselineLoaders } from '../src/forecast/baselines.js';
import { Random } from '../src/core/random.js';
import { RNNForecaster } from '../src/forecast/network.js';
import { Stepper } from '../src/models/stepper.js';
import { saveForecaster } from '../src/node/forecaster_io.js';
import { loadModel } from '../src/node/model_io.js';
import {
  createServeApp,
  loadServedModels,
  SERVE_LIMITS,
  type ForecasterServed,
  type ServeApp,
  type TextServed,
} from '../src/node/server.js';
import { GenerationBatcher } from '../src/text/batch_generation.js';
import { TextGenerator } from '../src/text/generator.js';
import { parseTextMetadata, vocabularyOf } from '../src/text/metadata.js';
import { buildTextModel, textSettings } from '../src/text/recipes.js';
import { Vocabulary } from '../src/text/vocabulary.js';
import { expectSnakeKeys, pseudoText, runCli, WHALE_WORDS, type CliResult } from './cli_helpers.js';
import {
  captureRequestLog,
  listen,
  loggedStatuses,
  saidOnStderr,
  sseEvents,
  startServe,
  until,
} from './serve_helpers.js';

const cli = (args: string[]): CliResult => runCli(args);

const makeText = (chars: number, seed: number): string => pseudoText(chars, seed, WHALE_WORDS);

/** The calibrated intervals the test's forecaster is saved with (level, half-width per step). */
const WAVE_INTERVALS = [
  { level: 0.8, halfWidths: [1, 1, 1, 2, 2, 2] },
  { level: 0.95, halfWidths: [3, 3, 3, 4, 4, 4] },
];

describe('GenerationBatcher', () => {
  const vocab = new Vocabulary('abcdefgh ');
  const model = buildTextModel(textSettings('keras', { units: 24, seed: 4 }), vocab.size);
  model.build();
  it('gives each stream the text TextGenerator gives alone, whatever joins or leaves', async () => {
    const gen = new TextGenerator(model, vocab, true);
    const reqs = Array.from({ length: 11 }, (_, i) => ({
      prime: 'abc'.repeat(1 + (i % 3)),
      length: 20 + 7 * i,
      temperature: [0, 0.5, 1, 1.5][i % 4],
      topK: i % 2 ? 4 : undefined,
      topP: i % 3 === 2 ? 0.9 : undefined,
      seed: 100 + i,
    }));
    const alone = reqs.map((r) => gen.generate(r));
    // maxBatch 4: streams wait, join as others finish, and move between steppers of sizes 1, 2 and 4.
    const batcher = new GenerationBatcher(model, vocab, true, { maxBatch: 4, sliceMs: 0 });
    const chunks = reqs.map(() => [] as string[]);
    const together = await Promise.all(
      reqs.map((r, i) => batcher.generate({ ...r, onText: (t) => chunks[i].push(t) })),
    );
    assert.deepEqual(together, alone);
    chunks.forEach((c, i) => assert.equal(c.join(''), alone[i]));
    assert.equal(batcher.stats.maxRows, 4);
    assert.equal(batcher.active, 0);
  });
  it('refuses bad requests before queueing them, and ends an aborted stream', async () => {
    const batcher = new GenerationBatcher(model, vocab, true);
    assert.throws(() => batcher.generate({ prime: 'xyz', length: 5 }), /never saw: "x", "y", "z"/);
    assert.throws(() => batcher.generate({ prime: '', length: 5 }), /prime text is empty/);
    assert.throws(() => batcher.generate({ prime: 'a', length: -1 }), /length must be/);
    assert.throws(() => batcher.generate({ prime: 'a', length: 5, temperature: -1 }), /temperature/);
    // A 32-bit Random would wrap -1 to 4294967295 and truncate 1.5 to 1: refused, as --seed refuses them.
    for (const seed of [-1, 1.5, 2 ** 32])
      assert.throws(
        () => batcher.generate({ prime: 'a', length: 5, seed }),
        /seed must be an integer from 0/,
      );
    assert.equal(await batcher.generate({ prime: 'a', length: 0 }), '');
    const abort = new AbortController();
    const long = batcher.generate({ prime: 'a', length: 100_000, signal: abort.signal });
    const short = batcher.generate({ prime: 'b', length: 30, seed: 1 });
    abort.abort(new Error('stop'));
    await assert.rejects(long, /stop/);
    assert.equal((await short).length, 30);
  });
  it('Stepper.copyRow moves a stream between steppers of different sizes', () => {
    const a = new Stepper(model, 1);
    const b = new Stepper(model, 3);
    for (const id of [1, 2, 3]) a.step(Int32Array.of(id));
    a.copyRow(0, b, 2);
    const la = a.step(Int32Array.of(4)).slice();
    const lb = b.step(Int32Array.of(0, 0, 4));
    assert.deepEqual(Array.from(lb.subarray(2 * vocab.size, 3 * vocab.size)), Array.from(la));
    assert.throws(() => a.copyRow(1, b, 0), /row 1 is outside/);
    assert.throws(() => a.copyRow(0, b, 3), /target row 3/);
  });
});

describe('recur serve (HTTP API)', () => {
  let dir = '';
  let textModel = '';
  let server: ServeApp;
  let textBatcher: GenerationBatcher;
  let base = '';
  /** What the server reported as internal errors (stderr, without --log). */
  const reported: string[] = [];
  const post = (path: string, body: unknown, raw = false): Promise<Response> =>
    fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: raw ? (body as string) : JSON.stringify(body),
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'recur-serve-'));
    writeFileSync(join(dir, 'book.txt'), makeText(6000, 1));
    textModel = join(dir, 'book');
    const t = cli([
      'train',
      join(dir, 'book.txt'),
      '--out',
      textModel,
      '--epochs',
      '1',
      '--units',
      '16',
      '--maxlen',
      '12',
      '--batch-size',
      '32',
      '--steps-per-epoch',
      '20',
      '--seed',
      '3',
      '--threads',
      '1',
      '--no-samples',
      '-q',
    ]);
    assert.equal(t.code, 0, t.stderr);
    // A forecaster on a seasonal wave, and a model of a kind serve does not serve yet.
    const values = Array.from(
      { length: 72 },
      (_, i) => 100 + 10 * Math.sin((2 * Math.PI * i) / 12) + i * 0.3,
    );
    const f = new RNNForecaster({
      method: 'network',
      cell: 'gru',
      units: 8,
      layers: 1,
      dropout: 0,
      lookback: 12,
      horizon: 6,
      strategy: 'direct',
      epochs: 5,
      batchSize: 16,
      learningRate: 0.01,
      seeds: [1, 2],
      log: false,
      differencing: 'seasonal',
      season: 12,
      scaling: 'standard',
    });
    await f.fit(values);
    const dates = Array.from(
      { length: 72 },
      (_, i) => `${2000 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`,
    );
    saveForecaster(f, { dates, values, name: 'wave' }, join(dir, 'wave'), WAVE_INTERVALS);
    mkdirSync(join(dir, 'labels'));
    writeFileSync(
      join(dir, 'labels', 'model.json'),
      JSON.stringify({ userDefinedMetadata: { task: 'tagger' } }),
    );
    const served = loadServedModels([textModel, join(dir, 'wave'), join(dir, 'labels')]);
    textBatcher = served.flatMap((m) => ('batcher' in m ? [m.batcher!] : []))[0];
    mkdirSync(join(dir, 'web'));
    writeFileSync(join(dir, 'web', 'index.html'), '<!doctype html><title>page</title>');
    writeFileSync(join(dir, 'web', 'app.js'), 'export {};');
    server = createServeApp({
      served,
      staticDir: join(dir, 'web'),
      reportInternalError: (line) => reported.push(line),
    });
    await server.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the models with their kind', async () => {
    const r = await fetch(base + '/v1/models');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp');
    const { models } = (await r.json()) as { models: { name: string; kind: string }[] };
    assert.deepEqual(
      models.map((m) => [m.name, m.kind]),
      [
        ['book', 'text'],
        ['wave', 'forecaster'],
        ['labels', 'tagger'],
      ],
    );
    // A trailing slash names the same resource (not the page's directory /v1/models/).
    const slash = await fetch(base + '/v1/models/?x=1');
    assert.equal(slash.status, 200);
    assert.deepEqual(await slash.json(), { models });
  });

  it('serves the page’s files, cross-origin isolated, and nothing else', async () => {
    const page = await fetch(base + '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.match(await page.text(), /<title>page<\/title>/);
    assert.equal(
      (await fetch(base + '/app.js')).headers.get('content-type'),
      'text/javascript; charset=utf-8',
    );
    for (const [path, status] of [
      ['/../package.json', 404],
      ['/%2e%2e/%2e%2e/package.json', 404],
      ['/nothing.js', 404],
      ['/%E0%A4%A', 400],
    ] as const) {
      const r = await fetch(base + path);
      assert.equal(r.status, status, path);
      assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin', path);
      assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp', path);
      assert.deepEqual(Object.keys((await r.json()) as object), ['error'], path);
    }
    // A directory-like path is looked up as its index.html, but the 404 names the path the client asked for.
    const slash = await fetch(base + '/docs/?x=1');
    assert.equal(slash.status, 404);
    assert.deepEqual(await slash.json(), { error: 'no such resource: GET /docs/' });
  });

  it('answers a known path asked with the wrong method 405 with Allow, and OPTIONS 204 with Allow (no CORS)', async () => {
    for (const [method, path, allow, headers] of [
      ['GET', '/v1/generate', 'POST, OPTIONS', {}],
      ['HEAD', '/v1/predict', 'POST, OPTIONS', {}],
      // Refused before its (here empty) body is read: a 405, not a 400 about the body.
      ['POST', '/v1/models', 'GET, HEAD, OPTIONS', { 'content-type': 'application/json' }],
      ['POST', '/v1/models/', 'GET, HEAD, OPTIONS', { 'content-type': 'application/json' }],
      ['GET', '/v1/generate/', 'POST, OPTIONS', {}],
      ['PUT', '/v1/predict', 'POST, OPTIONS', {}],
      ['DELETE', '/', 'GET, HEAD, OPTIONS', {}],
      ['POST', '/app.js', 'GET, HEAD, OPTIONS', {}],
    ] as const) {
      const r = await fetch(base + path, { method, headers });
      const what = `${method} ${path}`;
      assert.equal(r.status, 405, what);
      assert.equal(r.headers.get('allow'), allow, what);
      assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp', what);
      if (method !== 'HEAD')
        assert.equal(
          ((await r.json()) as { error: string }).error,
          `method ${method} is not allowed on ${path}; it answers ${allow}`,
          what,
        );
    }
    for (const [path, allow] of [
      ['/v1/generate', 'POST, OPTIONS'],
      ['/v1/models', 'GET, HEAD, OPTIONS'],
      ['/v1/predict/', 'POST, OPTIONS'],
      ['/', 'GET, HEAD, OPTIONS'],
    ] as const) {
      // A cross-origin preflight gets no Access-Control-* header: the API is same-origin, as the page is.
      const r = await fetch(base + path, {
        method: 'OPTIONS',
        headers: { origin: 'http://elsewhere.example', 'access-control-request-method': 'POST' },
      });
      assert.equal(r.status, 204, path);
      assert.equal(r.headers.get('allow'), allow, path);
      assert.equal(r.headers.get('access-control-allow-origin'), null, path);
      assert.equal(await r.text(), '', path);
    }
    // An unknown path is still 404, whatever the method.
    for (const method of ['GET', 'OPTIONS', 'POST']) {
      const r = await fetch(base + '/v1/nothing', { method });
      assert.equal(r.status, 404, method);
      assert.equal(r.headers.get('allow'), null, method);
    }
  });

  it('generates the text recur generate prints for the same model, prime and seed (whole and streamed)', async () => {
    for (const [seed, temperature, extra] of [
      [7, 0.8, ['--top-k', '5']],
      [8, 1.2, ['--top-p', '0.9']],
      [9, 0, []],
    ] as const) {
      const c = cli([
        'generate',
        textModel,
        '--prime',
        'The whale',
        '--length',
        '150',
        '--seed',
        String(seed),
        '--temperature',
        String(temperature),
        ...extra,
        '--json',
      ]);
      assert.equal(c.code, 0, c.stderr);
      const expected = (JSON.parse(c.stdout) as { text: string }).text;
      const body = {
        model: 'book',
        prime: 'The whale',
        length: 150,
        seed,
        temperature,
        ...(extra[0] === '--top-k' ? { top_k: 5 } : extra[0] === '--top-p' ? { top_p: 0.9 } : {}),
      };
      const r = await post('/v1/generate', body);
      assert.equal(r.status, 200);
      const j = (await r.json()) as { text: string; prime: string };
      assert.equal(j.text, expected);
      assert.equal(j.prime, 'the whale');
      const s = await post('/v1/generate', { ...body, stream: true });
      assert.equal(s.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const events = sseEvents(await s.text());
      assert.equal(events[0].event, 'start');
      assert.equal(events.at(-1)!.event, 'done');
      assert.equal(events.at(-1)!.data.text, expected);
      const chunks = events.filter((e) => e.event === 'message').map((e) => e.data.text as string);
      assert.equal(chunks.join(''), expected);
    }
  });

  it('completes 32 concurrent streams, each with its own seed’s text', async (t) => {
    const loaded = loadModel(textModel);
    const meta = parseTextMetadata(loaded.metadata, textModel);
    const gen = new TextGenerator(loaded.model, vocabularyOf(meta), true);
    const N = 32;
    const L = 300;
    const expected = Array.from({ length: N }, (_, i) =>
      gen.generate({ prime: 'the sea', length: L, temperature: 1, seed: 1000 + i }),
    );
    const one = async (i: number): Promise<string> => {
      const r = await post('/v1/generate', {
        prime: 'the sea',
        length: L,
        temperature: 1,
        seed: 1000 + i,
        stream: true,
      });
      assert.equal(r.status, 200);
      const events = sseEvents(await r.text());
      assert.equal(events.at(-1)!.event, 'done', `stream ${i} ended with ${JSON.stringify(events.at(-1))}`);
      return events
        .filter((e) => e.event === 'message')
        .map((e) => e.data.text)
        .join('');
    };
    let t0 = performance.now();
    for (let i = 0; i < 4; i++) assert.equal(await one(i), expected[i]);
    const sequential = (4 * L) / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    const texts = await Promise.all(Array.from({ length: N }, (_, i) => one(i)));
    const concurrent = (N * L) / ((performance.now() - t0) / 1000);
    texts.forEach((text, i) => assert.equal(text, expected[i], `stream ${i}`));
    t.diagnostic(
      `throughput: ${sequential.toFixed(0)} chars/s one at a time, ${concurrent.toFixed(0)} chars/s with ${N} concurrent streams`,
    );
  });

  it('answers bad requests with a 4xx and a JSON error, and stays up', async () => {
    const cases: [string, () => Promise<Response>, number, RegExp][] = [
      [
        'malformed JSON: where, as recur says of a JSON file',
        () => post('/v1/generate', '{"prime": "the', true),
        400,
        /^the request body: not valid JSON at line 1, column 15 \(the text ends where/,
      ],
      [
        'a byte order mark is no JSON error: the body after it is read (and is refused here for its field)',
        () => post('/v1/generate', '\uFEFF{"length": -1}', true),
        400,
        /^length: /,
      ],
      [
        'an empty body',
        () => post('/v1/generate', '', true),
        400,
        /^the request body is empty; send a JSON object$/,
      ],
      [
        'a __proto__ key: valid JSON, an unknown field',
        () => post('/v1/generate', '{"__proto__": {"length": 5}}', true),
        400,
        /^\(body\): unknown field "__proto__"$/,
      ],
      ['not an object', () => post('/v1/generate', [1, 2]), 400, /must be a JSON object/],
      [
        'not sent as JSON (curl -d without a content-type)',
        () =>
          fetch(base + '/v1/generate', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: '{"length":5}',
          }),
        415,
        /content-type: application\/json/,
      ],
      [
        'a JSON string sent as text/plain (fetch without a content-type)',
        () => fetch(base + '/v1/generate', { method: 'POST', body: '{"length":5}' }),
        415,
        /content-type: application\/json \(got text\/plain/,
      ],
      [
        'unknown model',
        () => post('/v1/generate', { model: 'nope' }),
        404,
        /unknown model 'nope'; served: book, wave, labels/,
      ],
      ['huge length', () => post('/v1/generate', { length: 10_000_000 }), 413, /^length: /],
      ['negative length', () => post('/v1/generate', { length: -1 }), 400, /^length: /],
      ['string temperature', () => post('/v1/generate', { temperature: 'hot' }), 400, /^temperature: /],
      ['unknown field', () => post('/v1/generate', { lenght: 5 }), 400, /^\(body\): unknown field "lenght"$/],
      [
        '50,000 unknown fields: the first five named, not all',
        () =>
          post('/v1/generate', Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`x${i}`, 1]))),
        400,
        /^\(body\): unknown fields "x0", "x1", "x2", "x3", "x4" … \(50000 in all\)$/,
      ],
      ['top_p out of range', () => post('/v1/generate', { top_p: 1.5 }), 400, /^top_p: /],
      ['temperature out of range', () => post('/v1/generate', { temperature: 101 }), 400, /^temperature: /],
      [
        'prime outside the vocabulary',
        () => post('/v1/generate', { prime: 'Zebra#' }),
        400,
        /never saw: "z"/,
      ],
      [
        'huge prime',
        () => post('/v1/generate', { prime: 'a'.repeat(SERVE_LIMITS.primeChars + 1) }),
        413,
        /^prime: /,
      ],
      [
        'body too large',
        () => post('/v1/generate', { prime: 'a'.repeat(SERVE_LIMITS.bodyBytes) }),
        413,
        /larger than/,
      ],
      ['forecaster on generate', () => post('/v1/generate', { model: 'wave' }), 422, /use \/v1\/predict/],
      [
        'unknown task on predict',
        () => post('/v1/predict', { model: 'labels' }),
        422,
        /tagger model; \/v1\/predict serves forecasters, classifiers and seq2seq models$/,
      ],
      ['text on predict', () => post('/v1/predict', { model: 'book' }), 422, /use \/v1\/generate/],
      [
        'too short history',
        () => post('/v1/predict', { values: Array(23).fill(100) }),
        422,
        /^values: 23 points are too few for this forecaster: it needs at least 24$/,
      ],
      [
        // A bad value of the request, named by its 0-based path as other fields are, and before its length is judged.
        'a value beyond ±1e30, as recur forecast refuses it',
        () => post('/v1/predict', { values: [100, 1e308, ...Array(40).fill(100)] }),
        400,
        /^values\.1: 1e\+308 is beyond ±1e30, the range of values recur forecasts/,
      ],
      [
        'a value beyond ±1e30 in too short a history',
        () => post('/v1/predict', { values: [-1e31] }),
        400,
        /^values\.0: -1e\+31 is beyond ±1e30/,
      ],
      // A forecast request that is not well formed: a 400 naming the JSON path and what it expected.
      [
        'a null among the values',
        () => post('/v1/predict', { values: [100, 101, null, 103] }),
        400,
        /^values\.2: Invalid input: expected number, received null$/,
      ],
      [
        'a number sent as a string',
        () => post('/v1/predict', { values: [100, '101'] }),
        400,
        /^values\.1: Invalid input: expected number, received string$/,
      ],
      [
        'values not an array',
        () => post('/v1/predict', { values: '100,101' }),
        400,
        /^values: Invalid input: expected array, received string$/,
      ],
      ['no values', () => post('/v1/predict', { values: [] }), 400, /^values: Too small: /],
      [
        'a horizon: forecasters forecast the horizon they were saved with',
        () => post('/v1/predict', { model: 'wave', horizon: 3 }),
        400,
        /^\(body\): unknown field "horizon"$/,
      ],
      ['no such route', () => fetch(base + '/v1/nothing'), 404, /no such resource/],
    ];
    for (const [what, request, status, message] of cases) {
      const r = await request();
      assert.equal(r.status, status, what);
      const j = (await r.json()) as { error: string };
      assert.match(j.error, message, what);
    }
    const r = await post('/v1/generate', { length: 5, seed: 1 });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { text: string }).text.length, 5);
  });

  it('answers seeded fuzzed request bodies with 200 or a 4xx JSON error, never a 5xx', async () => {
    const rng = new Random(20261203);
    const valid = { model: 'book', prime: 'the sea', length: 30, temperature: 0.7, top_k: 5, seed: 3 };
    const odd: unknown[] = [
      null,
      -1,
      0,
      1e9,
      2 ** 53,
      0.5,
      'x',
      '',
      [],
      {},
      [1],
      true,
      'the whale',
      '\u0000',
      1e-300,
    ];
    for (let i = 0; i < 60; i++) {
      let body: string;
      const kind = i % 4;
      if (kind === 0) {
        // A field with a value of the wrong type or range.
        const keys = Object.keys(valid);
        const b: Record<string, unknown> = { ...valid };
        b[keys[rng.int(keys.length)]] = odd[rng.int(odd.length)];
        body = JSON.stringify(b);
      } else if (kind === 1) {
        // Truncated JSON.
        const text = JSON.stringify(valid);
        body = text.slice(0, rng.int(text.length));
      } else if (kind === 2) {
        // One character replaced by a random byte.
        const text = JSON.stringify(valid);
        const at = rng.int(text.length);
        body = text.slice(0, at) + String.fromCharCode(rng.int(256)) + text.slice(at + 1);
      } else {
        // An unexpected field, or a predict body sent to generate.
        body = JSON.stringify({ ...valid, [`k${rng.int(100)}`]: odd[rng.int(odd.length)] });
      }
      const r = await post(rng.next() < 0.8 ? '/v1/generate' : '/v1/predict', body, true);
      assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `${body} → ${r.status}`);
      const j = (await r.json()) as { error?: string };
      if (r.status !== 200) assert.ok(typeof j.error === 'string' && j.error.length > 0, body);
    }
    assert.equal((await fetch(base + '/v1/models')).status, 200);
  });

  it('loads seeded damaged model directories cleanly: a model, or an InvalidInputError naming the problem', () => {
    const rng = new Random(7);
    const json = readFileSync(join(textModel, 'model.json'), 'utf8');
    for (let i = 0; i < 12; i++) {
      const copy = join(dir, `damaged-${i}`);
      cpSync(textModel, copy, { recursive: true });
      const at = rng.int(json.length);
      const damaged =
        i % 3 === 0
          ? json.slice(0, at)
          : i % 3 === 1
            ? json.slice(0, at) + String.fromCharCode(32 + rng.int(95)) + json.slice(at + 1)
            : json.replace(/"units": \d+/, `"units": ${rng.int(1000)}`);
      writeFileSync(join(copy, 'model.json'), damaged);
      try {
        const [m] = loadServedModels([copy]);
        assert.ok(m.kind === 'text' || typeof m.kind === 'string');
      } catch (e) {
        assert.ok(e instanceof InvalidInputError, `damaged-${i}: ${(e as Error).stack}`);
        assert.ok((e as Error).message.length > 0);
      }
    }
  });

  it('forecasts with a saved forecaster', async () => {
    // The one model /v1/predict answers (beside a text model and a tagger): `{}` needs no name.
    const unnamed = await post('/v1/predict', {});
    assert.equal(unnamed.status, 200);
    assert.equal(((await unnamed.json()) as { model: string }).model, 'wave');
    const r = await post('/v1/predict', { model: 'wave' });
    assert.equal(r.status, 200);
    const j = (await r.json()) as {
      forecast: number[];
      dates: string[];
      lower: number[];
      upper: number[];
      intervals: { level: number; lower: number[]; upper: number[] }[];
    };
    assert.equal(j.forecast.length, 6);
    assert.deepEqual(j.dates, ['2006-01', '2006-02', '2006-03', '2006-04', '2006-05', '2006-06']);
    // The saved intervals around the forecast, as `recur forecast predict` gives them; lower/upper the widest.
    assert.deepEqual(
      j.intervals.map((iv) => iv.level),
      WAVE_INTERVALS.map((w) => w.level * 100),
    );
    j.forecast.forEach((v, h) => {
      assert.ok(Number.isFinite(v));
      WAVE_INTERVALS.forEach((w, k) => {
        assert.ok(Math.abs(j.intervals[k].upper[h] - v - w.halfWidths[h]) < 1e-9);
        assert.ok(Math.abs(v - j.intervals[k].lower[h] - w.halfWidths[h]) < 1e-9);
      });
      assert.deepEqual([j.lower[h], j.upper[h]], [j.intervals[1].lower[h], j.intervals[1].upper[h]]);
    });
    const given = await post('/v1/predict', { values: Array.from({ length: 40 }, (_, i) => 100 + (i % 12)) });
    assert.equal(given.status, 200);
    assert.equal(((await given.json()) as { forecast: number[] }).forecast.length, 6);
  });

  it('serves any saved single-series forecaster as recur forecast predict forecasts with it (theta here)', async () => {
    const csv = join(dir, 'wave.csv');
    const values = Array.from({ length: 48 }, (_, i) => 100 + 10 * Math.sin((2 * Math.PI * i) / 12) + i);
    const dates = values.map(
      (_, i) => `${2000 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`,
    );
    writeFileSync(csv, ['month,value', ...values.map((v, i) => `${dates[i]},${v}`)].join('\n') + '\n');
    const theta = join(dir, 'theta');
    const fit = runCli(['forecast', csv, '--method', 'theta', '--holdout', '0', '--out', theta, '--quiet']);
    assert.equal(fit.code, 0, fit.stderr);
    const cli = runCli(['forecast', 'predict', theta, '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const want = JSON.parse(cli.stdout) as { forecast: number[]; intervals: unknown[]; dates: string[] };
    const app = createServeApp({ served: loadServedModels([theta]) });
    try {
      const r = await app.app.inject({ method: 'POST', url: '/v1/predict', payload: {} });
      assert.equal(r.statusCode, 200, r.body);
      const got = r.json<{ method: string; forecast: number[]; intervals: unknown[]; dates: string[] }>();
      assert.equal(got.method, 'theta');
      assert.deepEqual([got.forecast, got.intervals, got.dates], [want.forecast, want.intervals, want.dates]);
    } finally {
      await app.close();
    }
  });

  it('answers values a forecaster cannot forecast from 422, naming the value at fault by its path, and why', async () => {
    // A value ≤ 0 for a forecaster on a log transform: well formed, but it cannot take its log.
    const csv = join(dir, 'positive.csv');
    writeFileSync(
      csv,
      [
        'month,value',
        ...Array.from(
          { length: 48 },
          (_, i) =>
            `${2000 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')},${100 + (i % 12) + i}`,
        ),
      ].join('\n') + '\n',
    );
    const logTheta = join(dir, 'log-theta');
    const fit = runCli([
      'forecast',
      csv,
      '--method',
      'theta',
      '--transform',
      'log',
      '--holdout',
      '0',
      '--out',
      logTheta,
      '--quiet',
    ]);
    assert.equal(fit.code, 0, fit.stderr);
    // A network member that forecasts NaN from whatever it is given: as a method whose forecast of some values
    // overflows.
    const [wave] = loadServedModels([join(dir, 'wave')]) as ForecasterServed[];
    const nan = { predict: async () => ({ mean: Array<number>(6).fill(NaN) }) } as unknown as RNNForecaster;
    const broken: ForecasterServed = {
      ...wave,
      name: 'broken',
      networks: new Map([...wave.networks.keys()].map((k) => [k, nan])),
    };
    const errors: string[] = [];
    const app = createServeApp({
      served: [...loadServedModels([logTheta]), broken],
      reportInternalError: (l) => errors.push(l),
    });
    const predict = async (body: unknown): Promise<{ status: number; error: string }> => {
      const r = await app.app.inject({ method: 'POST', url: '/v1/predict', payload: body as object });
      return { status: r.statusCode, error: r.json<{ error: string }>().error };
    };
    try {
      const values = Array.from({ length: 30 }, (_, i) => 100 + i);
      assert.deepEqual(
        await predict({ model: 'log-theta', values: values.map((v, i) => (i === 3 ? 0 : v)) }),
        {
          status: 422,
          error:
            'values.3: 0, but this forecaster forecasts through a log transform (its theta (log) member), which needs every value > 0',
        },
      );
      const negative = await predict({
        model: 'log-theta',
        values: values.map((v, i) => (i === 29 ? -2.5 : v)),
      });
      assert.equal(negative.status, 422);
      assert.match(negative.error, /^values\.29: -2\.5, but /);
      assert.equal((await predict({ model: 'log-theta', values })).status, 200);
      // Values the model made no finite forecast of: the values' 422, saying so.
      assert.deepEqual(
        await predict({ model: 'broken', values: Array.from({ length: 40 }, (_, i) => 100 + i) }),
        {
          status: 422,
          error:
            'values: this forecaster cannot forecast from these values: network made a non-finite or short forecast',
        },
      );
      // Its own history (no values sent) is no fault of the request: the server's failure, reported.
      const own = await predict({ model: 'broken' });
      assert.equal(own.status, 500);
      assert.match(own.error, /^internal error: network made a non-finite or short forecast$/);
      assert.equal(errors.length, 1, errors.join('\n'));
    } finally {
      await app.close();
    }
  });

  it('stops a SARIMA re-fit for /v1/predict when its client goes away (its worker terminated)', async () => {
    // A weekly series: SARIMA with season 52, whose fit on the longer values below takes many seconds.
    let seed = 7;
    const noise = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const weekly = (n: number): number[] =>
      Array.from(
        { length: n },
        (_, i) =>
          100 +
          10 * Math.sin((2 * Math.PI * i) / 52) +
          0.1 * i +
          5 * noise() +
          (i % 7 === 0 ? 8 * noise() : 0),
      );
    const history = weekly(150);
    const csv = join(dir, 'weekly.csv');
    const day = (i: number): string => new Date(Date.UTC(2015, 0, 5 + 7 * i)).toISOString().slice(0, 10);
    writeFileSync(csv, ['week,value', ...history.map((v, i) => `${day(i)},${v}`)].join('\n') + '\n');
    const sarima = join(dir, 'sarima');
    const fit = runCli([
      'forecast',
      csv,
      '--method',
      'sarima',
      '--horizon',
      '8',
      '--holdout',
      '0',
      '--out',
      sarima,
      '--quiet',
    ]);
    assert.equal(fit.code, 0, fit.stderr);
    const predicted = runCli(['forecast', 'predict', sarima, '--json']);
    assert.equal(predicted.code, 0, predicted.stderr);
    const want = JSON.parse(predicted.stdout) as { forecast: number[]; season: number };
    assert.equal(want.season, 52);
    // Each SARIMA fit's signal, and how its worker's promise settled (the real worker runs it).
    const real = baselineLoaders();
    const fits: { signal?: AbortSignal; settled: Promise<unknown> }[] = [];
    setBaselineLoaders({
      ...real,
      sarima: (train, h, season, signal) => {
        const run = real.sarima!(train, h, season, signal);
        fits.push({
          signal,
          settled: run.then(
            () => 'finished',
            (e: Error) => e.message,
          ),
        });
        return run;
      },
    });
    const errors: string[] = [];
    const app = createServeApp({
      served: loadServedModels([sarima]),
      reportInternalError: (l) => errors.push(l),
    });
    try {
      const address = await listen(app);
      const predict = (body: unknown, signal?: AbortSignal): Promise<Response> =>
        fetch(address + '/v1/predict', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal,
        });
      // Not aborted: the forecast recur forecast predict gives.
      const r = await predict({});
      assert.equal(r.status, 200);
      assert.deepEqual(((await r.json()) as { forecast: number[] }).forecast, want.forecast);
      assert.equal(await fits[0].settled, 'finished');
      const abort = new AbortController();
      const answered = predict({ values: weekly(400) }, abort.signal).catch(() => undefined);
      while (fits.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      abort.abort();
      await answered;
      // Its worker terminated: the fit's promise rejects with the signal's reason (without one it runs to its end).
      assert.equal(await fits[1].settled, 'the client went away');
      assert.equal(fits[1].signal?.aborted, true);
      assert.deepEqual(errors, []);
    } finally {
      setBaselineLoaders(real);
      await app.close();
    }
  });

  it('reports a stream that fails after its 200 on stderr, as a 500 is (one line; the log with --log)', async () => {
    const served = loadServedModels([textModel]);
    const text = served[0] as TextServed;
    // A generation that sends some characters, then fails, as a failing step or worker would.
    text.batcher!.generate = (request) => {
      request.onText?.('ab');
      return new Promise((_, reject) => setImmediate(() => reject(new Error('the step failed'))));
    };
    const streamed = async (app: ServeApp): Promise<void> => {
      const address = await listen(app);
      const r = await fetch(address + '/v1/generate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ length: 50, stream: true }),
      });
      assert.equal(r.status, 200);
      const events = sseEvents(await r.text());
      assert.deepEqual(events.at(-1), { event: 'error', data: { error: 'the step failed' } });
      await app.close();
    };
    const reported: string[] = [];
    await streamed(createServeApp({ served, reportInternalError: (line) => reported.push(line) }));
    assert.deepEqual(reported, ['recur serve: POST /v1/generate: internal error: the step failed']);
    // With --log, in the request log on stderr, with the request's id.
    const logged: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => (
      logged.push(String(chunk)),
      true
    )) as typeof write;
    try {
      await streamed(createServeApp({ served, log: true }));
    } finally {
      process.stderr.write = write;
    }
    const errors = logged
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { level: number; reqId?: string; err?: { message: string } })
      .filter((l) => l.level >= 50);
    assert.equal(errors.length, 1, logged.join(''));
    assert.equal(errors[0].err?.message, 'the step failed');
    assert.ok(errors[0].reqId);
  });

  it('answers a request Node cannot parse (headers over 16 KB, a bad request line) in {error}, cross-origin isolated', async () => {
    const raw = (request: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(Number(new URL(base).port), '127.0.0.1', () => socket.write(request));
        let answer = '';
        socket.on('data', (d: Buffer) => (answer += d.toString()));
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
      });
    for (const [request, status, error] of [
      [
        `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
        '431 Request Header Fields Too Large',
        'the request headers are larger than the server takes (16 KB)',
      ],
      ['NOT HTTP AT ALL\r\n\r\n', '400 Bad Request', /^not a valid HTTP request \(HPE_/],
    ] as const) {
      const [head, body] = (await raw(request)).split('\r\n\r\n');
      assert.match(head, new RegExp(`^HTTP/1\\.1 ${status}\r\n`));
      assert.match(head, /cross-origin-embedder-policy: require-corp/);
      const got = (JSON.parse(body) as { error: string }).error;
      if (typeof error === 'string') assert.equal(got, error);
      else assert.match(got, error);
    }
    assert.equal((await fetch(base + '/v1/models')).status, 200);
  });

  it('reads JSON bodies as UTF-8 only: another charset is a 415, bytes that are not UTF-8 a 400', async () => {
    const send = (contentType: string, body: Uint8Array): Promise<Response> =>
      fetch(base + '/v1/generate', {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: new Uint8Array(body),
      });
    const request = Buffer.from(JSON.stringify({ length: 5, seed: 3, prime: 'the' }));
    for (const ok of [
      'application/json; charset=utf-8',
      'application/json; charset="UTF-8"',
      'application/json',
    ])
      assert.equal((await send(ok, request)).status, 200, ok);
    const latin1 = await send(
      'application/json; charset=latin1',
      Buffer.from('{"length": 5, "prime": "caf\u00e9"}', 'latin1'),
    );
    assert.equal(latin1.status, 415);
    assert.match(
      ((await latin1.json()) as { error: string }).error,
      /^charset=latin1: JSON bodies are UTF-8/,
    );
    // The same bytes declared as UTF-8 (or not declared): a lone 0xe9 is no UTF-8, and no silent U+FFFD.
    const bad = await send('application/json', Buffer.from('{"length": 5, "prime": "caf\u00e9"}', 'latin1'));
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /^the request body is not valid UTF-8/);
  });

  it('decodes a gzip, deflate or br body, within the body limit once decoded; another coding is a 415', async () => {
    const request = { length: 30, seed: 3 };
    const plain = (await (await post('/v1/generate', request)).json()) as { text: string };
    const encoded = (coding: string, body: Buffer): Promise<Response> =>
      fetch(base + '/v1/generate', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': coding },
        body: new Uint8Array(body),
      });
    const json = Buffer.from(JSON.stringify(request));
    for (const [coding, body] of [
      ['gzip', gzipSync(json)],
      ['deflate', deflateSync(json)],
      ['br', brotliCompressSync(json)],
    ] as const) {
      const r = await encoded(coding, body);
      assert.equal(r.status, 200, coding);
      assert.equal(((await r.json()) as { text: string }).text, plain.text, coding);
    }
    const refused = async (r: Response, status: number, error: RegExp): Promise<Response> => {
      assert.equal(r.status, status);
      assert.match(((await r.json()) as { error: string }).error, error);
      return r;
    };
    await refused(
      await encoded('gzip', json),
      400,
      /^the request body is not valid gzip data \(incorrect header check\)$/,
    );
    // 1 KB of gzip that inflates past the 1 MiB limit: refused without inflating the rest.
    const bomb = gzipSync(Buffer.concat([json, Buffer.alloc(SERVE_LIMITS.bodyBytes)]));
    assert.ok(bomb.length < SERVE_LIMITS.bodyBytes / 100);
    await refused(
      await encoded('gzip', bomb),
      413,
      /^the request body is larger than 1048576 bytes once decoded \(content-encoding gzip\)$/,
    );
    const other = await refused(
      await encoded('compress', json),
      415,
      /^content-encoding compress: not a coding the API decodes; send the body as is, or as gzip, deflate or br$/,
    );
    assert.equal(other.headers.get('accept-encoding'), 'gzip, deflate, br');
    assert.equal((await fetch(base + '/v1/models')).status, 200);
  });

  it('answers a generation past the streams in flight 429 with Retry-After, and serves again once one ends', async () => {
    const app = createServeApp({
      served: loadServedModels([textModel]),
      limits: { ...SERVE_LIMITS, streams: 1, length: 5_000_000 },
    });
    const address = await listen(app);
    const generate = (body: object, signal?: AbortSignal): Promise<Response> =>
      fetch(address + '/v1/generate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
    const abort = new AbortController();
    try {
      await generate({ length: 5_000_000, stream: true }, abort.signal);
      for (const stream of [false, true]) {
        const r = await generate({ length: 5, stream });
        assert.equal(r.status, 429);
        assert.equal(r.headers.get('retry-after'), '1');
        assert.match(
          ((await r.json()) as { error: string }).error,
          /too many generation requests in flight \(1\)/,
        );
      }
      abort.abort();
      while (app.inFlight() > 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal((await generate({ length: 5 })).status, 200);
    } finally {
      abort.abort();
      await app.close();
    }
  });

  it('reloads (SIGUSR2, --threads 1) a model at a time, a running stream stepping on between two models’ builds', async () => {
    // Three directories: the models are built on this thread, as the stream is stepped.
    const dirs = [textModel, join(dir, 'again'), join(dir, 'and-again')];
    for (const d of dirs.slice(1)) cpSync(textModel, d, { recursive: true });
    const served = loadServedModels(dirs);
    const app = createServeApp({ served, limits: { ...SERVE_LIMITS, length: 5_000_000 } });
    const address = await listen(app);
    const abort = new AbortController();
    const stepped = (): number => (served[0] as TextServed).batcher!.stats.steps;
    try {
      const running = await fetch(address + '/v1/generate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: served[0].name, length: 5_000_000, stream: true }),
        signal: abort.signal,
      });
      assert.equal(running.status, 200);
      const before = stepped();
      await reloadModels(app, null, { ...makeOutput({ quiet: true }), json: () => {} });
      // The event loop turned before each build: the stream took a step each time (its batcher steps once a turn).
      assert.ok(
        stepped() - before >= dirs.length,
        `the stream took ${stepped() - before} step(s) while ${dirs.length} models were rebuilt`,
      );
      assert.notEqual(app.models()[0], served[0], 'the reloaded models are served');
      assert.equal(app.inFlight(), 1, 'the stream runs on, on the model it started on');
    } finally {
      abort.abort();
      await app.close();
    }
  });

  it(
    'answers a request whose body stops arriving 408 with {error}, closing its connection',
    { timeout: 30_000 },
    async () => {
      const app = createServeApp({
        served: loadServedModels([textModel]),
        limits: { ...SERVE_LIMITS, requestMs: 300 },
      });
      const address = await listen(app);
      const socket = connect(Number(new URL(address).port), '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      const ended = new Promise((resolve) => socket.once('close', resolve));
      // Four bytes of the hundred it announces, then nothing.
      socket.write(
        'POST /v1/generate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"le',
      );
      await ended;
      await app.close();
      const [head, body] = answer.split('\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 408 /);
      assert.match(head, /cross-origin-embedder-policy: require-corp/i);
      assert.deepEqual(JSON.parse(body), { error: 'the request took too long to arrive' });
    },
  );

  it('answers a request that arrives while it shuts down 503 with {error}, cross-origin isolated', async () => {
    const app = createServeApp({
      served: loadServedModels([textModel]),
      limits: { ...SERVE_LIMITS, length: 5_000_000 },
    });
    const address = await listen(app);
    const port = Number(new URL(address).port);
    // A long stream keeps close() waiting; a second connection has begun a request, so it is not idle and stays open.
    const abort = new AbortController();
    await fetch(address + '/v1/generate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ length: 5_000_000, stream: true }),
      signal: abort.signal,
    });
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    socket.write('GET /v1/models HTTP/1.1\r\nhost: x\r\n');
    while (app.inFlight() === 0) await new Promise((r) => setTimeout(r, 5));
    const closed = app.close();
    await new Promise((r) => setTimeout(r, 50));
    socket.write('\r\n');
    await ended;
    abort.abort();
    await closed;
    const [head, body] = answer.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 503 /);
    assert.match(head, /cross-origin-embedder-policy: require-corp/i);
    assert.match(head, /connection: close/i);
    assert.deepEqual(JSON.parse(body), { error: 'the server is shutting down' });
  });

  it('stops generating a whole (unstreamed) text when its client goes away', async () => {
    const before = textBatcher.stats.chars;
    const abort = new AbortController();
    const answered = fetch(base + '/v1/generate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ length: 20_000, seed: 2 }),
      signal: abort.signal,
    }).catch(() => undefined);
    while (server.inFlight() === 0) await new Promise((r) => setTimeout(r, 1));
    abort.abort();
    await answered;
    for (let i = 0; i < 2000 && server.inFlight() > 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(server.inFlight(), 0);
    const made = textBatcher.stats.chars - before;
    assert.ok(made < 20_000, `generated all ${made} characters for a client that had gone`);
    // A client that leaves is no failure of the server's: nothing is reported as an internal error.
    assert.deepEqual(reported, []);
  });

  it('logs a generation whose client went away (whole or streamed) with status 499 (--log)', async () => {
    const app = createServeApp({
      served: loadServedModels([textModel]),
      limits: { ...SERVE_LIMITS, length: 5_000_000 },
      log: true,
    });
    const log = captureRequestLog();
    try {
      const address = await listen(app);
      for (const stream of [false, true]) {
        const leave = new AbortController();
        const answered = fetch(address + '/v1/generate', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ length: 5_000_000, stream }),
          signal: leave.signal,
        });
        // A stream leaves once its first characters came; a whole text while it is being generated.
        if (stream) await (await answered).body!.getReader().read();
        else await until(() => app.inFlight() > 0, 'the generation never started');
        leave.abort();
        await answered.catch(() => undefined);
        await until(() => app.inFlight() === 0, 'the generation ran on for a client that had gone');
      }
      await until(
        () => loggedStatuses(log.lines()).length === 2,
        `logged ${JSON.stringify(loggedStatuses(log.lines()))}, not both requests`,
      );
      assert.deepEqual(loggedStatuses(log.lines()), [499, 499]);
    } finally {
      log.restore();
      await app.close();
    }
  });

  it('says why it does not serve a model whose model.json names no recur task (a converted Keras file), at start-up and in its answers', async () => {
    const converted = join(dir, 'converted');
    mkdirSync(converted);
    writeFileSync(
      join(converted, 'model.json'),
      JSON.stringify({ format: 'layers-model', modelTopology: {} }),
    );
    const serve = startServe([converted, '--port', '0', '--threads', '1']);
    try {
      await saidOnStderr(serve, /listening on http:\/\/\S+/);
      const address = /listening on (http:\/\/[\d.:]+)/.exec(serve.out.stderr)![1];
      const why =
        /its model\.json names no recur task \(a model converted from Keras, or saved by the library\)/;
      assert.match(serve.out.stderr, new RegExp(`not serving 'converted' from \\S+: ${why.source}`));
      assert.doesNotMatch(serve.out.stderr, /serving unknown model/);
      const listed = (await (await fetch(address + '/v1/models')).json()) as { models: { note: string }[] };
      assert.match(listed.models[0].note, why);
      assert.match(listed.models[0].note, /`recur train TEXT --from \S+converted`/);
      const r = await fetch(address + '/v1/generate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'converted', length: 5 }),
      });
      assert.equal(r.status, 422);
      assert.deepEqual(await r.json(), {
        error: "model 'converted' is a model with no recur task; /v1/generate serves text models",
      });
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0, serve.out.stderr);
    } finally {
      // A failed assertion must not leave the server running (the test process would never end).
      if (serve.child.exitCode === null) serve.child.kill('SIGKILL');
    }
  });

  it('finishes an in-flight stream on SIGTERM, then exits 0', async () => {
    const serve = startServe([textModel, '--port', '0', '--json']);
    const { child, exited, out } = serve;
    const address = await serve.address;
    const r = await fetch(address + '/v1/generate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ length: 20_000, seed: 5, stream: true }),
    });
    const reader = r.body!.getReader();
    let body = '';
    const first = await reader.read();
    body += new TextDecoder().decode(first.value);
    child.kill('SIGTERM');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      body += new TextDecoder().decode(value);
    }
    const events = sseEvents(body);
    assert.equal(events.at(-1)!.event, 'done');
    assert.equal((events.at(-1)!.data.text as string).length, 20_000);
    assert.equal(await exited, 0, out.stderr);
    assert.match(out.stdout, /"event":"stopped"/);
    assert.match(out.stdout, /"event":"stopping","signal":"SIGTERM","in_flight":1/);
    expectSnakeKeys(out.stdout);
  });
});
