/**
 * The inference pool (src/inference/pool.ts) on Node worker threads: generation streams give the same text as the
 * one-thread GenerationBatcher for the same model, prime and seed, and are spread over the workers by their active
 * streams; classify and decode jobs of whole batches, dealt to whichever worker is free, re-join to exactly the
 * one-thread answers (greedy and beam); a bad model, a bad request and a crashed worker each give a clear error while the pool
 * keeps working.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { parseClassifierMetadata } from '../src/classify/metadata.js';
import { classifyTexts } from '../src/classify/predict.js';
import { kernels } from '../src/core/backend.js';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import {
  DECODE_RUN_BATCHES,
  InferencePool,
  START_ATTEMPTS,
  decodingRuns,
  shardRuns,
  type InferencePort,
} from '../src/inference/pool.js';
import {
  metadataName,
  type InferenceReply,
  type InferenceRequest,
  type ModelPayload,
} from '../src/inference/protocol.js';
import { holdModel, inferenceServer } from '../src/inference/server.js';
import { loadClassifierDir } from '../src/node/classifier_dir.js';
import { createInferencePool, readModelPayload } from '../src/node/inference_pool.js';
import { loadFunctionalModel, loadModel } from '../src/node/model_io.js';
import { Seq2Seq, parseSeq2SeqMetadata } from '../src/seq2seq/seq2seq.js';
import { decodingOrder } from '../src/seq2seq/decode.js';
import { loadSeq2SeqDir } from '../src/node/seq2seq_dir.js';
import { mutateBytes } from './fuzz_helpers.js';
import { GenerationBatcher } from '../src/text/batch_generation.js';
import { parseTextMetadata, parseTextModelMetadata, vocabularyOf } from '../src/text/metadata.js';
import { CLI, pairs, pseudoText, reviews, runCliOk, WHALE_WORDS } from './cli_helpers.js';

const cli = (args: string[]): void => void runCliOk(args);

const book = (chars: number, seed: number): string => pseudoText(chars, seed, WHALE_WORDS);

/** Texts of many lengths, so the classifier's length-sorted batches mix rows from all over the input. */
function manyTexts(n: number, seed: number): string[] {
  const rng = new Random(seed);
  const words = ['the', 'film', 'was', 'great', 'dull', 'plot', 'and', 'very', 'bad', 'lovely', 'unseen'];
  return Array.from({ length: n }, () =>
    Array.from({ length: 1 + rng.int(14) }, () => words[rng.int(words.length)]).join(' '),
  );
}

describe('shardRuns', () => {
  it('cuts contiguous runs only at whole batches, as evenly as whole batches allow', () => {
    assert.deepEqual(shardRuns(10, 4, 2), [
      [0, 8],
      [8, 10],
    ]);
    assert.deepEqual(shardRuns(10, 2, 3), [
      [0, 4],
      [4, 8],
      [8, 10],
    ]);
    assert.deepEqual(shardRuns(3, 8, 4), [[0, 3]]);
    assert.deepEqual(shardRuns(0, 8, 4), []);
  });
});

describe('decodingRuns', () => {
  it("cuts decoding's length order into runs of whole batches: at least 4 a thread, at most maxBatches batches each", () => {
    const rng = new Random(3);
    for (const [n, batch, threads, maxBatches, expected] of [
      [100, 8, 2, 4, 8], // 13 batches: 4 runs a thread
      [1000, 8, 2, 4, 32], // 125 batches: ≤ 4 a run
      [1000, 8, 2, Infinity, 8], // no cap (no one watching progress): 4 runs a thread
      [5, 8, 2, 4, 1],
      [0, 8, 1, 4, 0],
    ]) {
      const ids = Array.from({ length: n }, () =>
        Int32Array.from({ length: 1 + rng.int(9) }, () => 1 + rng.int(5)),
      );
      const runs = decodingRuns(ids, batch, threads, maxBatches);
      assert.equal(runs.length, expected);
      // Together, decoding's own order, each run whole batches but the last.
      assert.deepEqual(
        runs.flatMap((r) => Array.from(r)),
        Array.from(decodingOrder(ids)),
      );
      runs.slice(0, -1).forEach((r) => assert.ok(r.length % batch === 0 && r.length <= maxBatches * batch));
    }
  });
});

describe('InferencePool on worker threads', () => {
  let dir = '';
  let textDir = '';
  let labels = '';
  let phrases = '';
  let pool: InferencePool;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-inference-pool-'));
    writeFileSync(join(dir, 'book.txt'), book(6000, 1));
    writeFileSync(join(dir, 'reviews.csv'), reviews(200, 1));
    writeFileSync(join(dir, 'pairs.tsv'), pairs(120, 2));
    textDir = join(dir, 'book');
    labels = join(dir, 'labels');
    phrases = join(dir, 'phrases');
    const quiet = ['--seed', '3', '--quiet', '--threads', '1'];
    cli(
      [
        'train',
        join(dir, 'book.txt'),
        '--out',
        textDir,
        '--epochs',
        '1',
        '--units',
        '16',
        '--maxlen',
        '12',
      ].concat(['--batch-size', '32', '--steps-per-epoch', '20'], quiet),
    );
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
      ].concat(['--embedding-dim', '8', '--batch-size', '16'], quiet),
    );
    cli(
      ['seq2seq', 'train', join(dir, 'pairs.tsv'), '--out', phrases, '--epochs', '2', '--units', '8'].concat([
        '--embedding-dim',
        '8',
        '--batch-size',
        '8',
        '--lr',
        '0.01',
        '--seed',
        '3',
        '--quiet',
      ]),
    );
    pool = createInferencePool(2);
  });
  after(async () => {
    await pool?.terminate();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams the text the one-thread batcher gives, spreading streams over the workers', async () => {
    const loaded = loadModel(textDir);
    const meta = parseTextMetadata(loaded.metadata, textDir);
    const batcher = new GenerationBatcher(loaded.model, vocabularyOf(meta), meta.settings.lowercase);
    const reqs = Array.from({ length: 9 }, (_, i) => ({
      prime: ['The whale', 'sea', 'a ship and'][i % 3],
      length: 30 + 11 * i,
      temperature: [0, 0.5, 1][i % 3],
      topK: i % 2 ? 5 : undefined,
      topP: i % 4 === 3 ? 0.9 : undefined,
      seed: 40 + i,
    }));
    const alone = await Promise.all(reqs.map((r) => batcher.generate(r)));
    const model = await pool.load(readModelPayload(textDir, 'text'));
    const chunks = reqs.map(() => [] as string[]);
    const starts = await Promise.all(
      reqs.map((r, i) => pool.startGeneration(model, { ...r, onText: (t) => chunks[i].push(t) })),
    );
    // Nine streams started together on two workers: five and four (fewest active streams first).
    assert.deepEqual(
      [0, 1].map((w) => starts.filter((s) => s.worker === w).length),
      [5, 4],
    );
    const pooled = await Promise.all(starts.map((s) => s.done));
    assert.deepEqual(pooled, alone);
    chunks.forEach((c, i) => assert.equal(c.join(''), alone[i]));
    assert.equal(pool.activeStreams, 0);
  });

  it('refuses a bad prime as bad input before the stream starts, and cancels an aborted stream', async () => {
    const model = await pool.load(readModelPayload(textDir, 'text'));
    await assert.rejects(pool.startGeneration(model, { prime: 'Q#', length: 5 }), (e: Error) => {
      assert.ok(e instanceof InvalidInputError, String(e));
      assert.match(e.message, /never saw/);
      return true;
    });
    const abort = new AbortController();
    const long = await pool.startGeneration(model, { prime: 'a', length: 1_000_000, signal: abort.signal });
    abort.abort(new Error('client left'));
    await assert.rejects(long.done, /client left/);
    assert.equal((await pool.generate(model, { prime: 'sea', length: 12, seed: 1 })).length, 12);
  });

  it('labels texts exactly as classifyTexts does on one thread', async () => {
    const loaded = loadModel(labels);
    const meta = parseClassifierMetadata(loaded.metadata, labels);
    const texts = manyTexts(157, 5);
    const model = await pool.load(readModelPayload(labels, 'classify'));
    for (const batch of [16, 128]) {
      const one = classifyTexts(loaded.model, meta, texts, batch);
      assert.deepEqual(await pool.classify(model, texts, batch), one);
    }
    // Later jobs reuse the words the worker's layers projected for earlier ones (its model's scope stays open),
    // and add the new ones.
    const more = manyTexts(60, 9);
    assert.deepEqual(await pool.classify(model, more, 16), classifyTexts(loaded.model, meta, more, 16));
    assert.deepEqual(await pool.classify(model, [], 16), []);
  });

  it('decodes sources exactly as Seq2Seq.predict does on one thread, greedy and beam', async () => {
    const loaded = loadFunctionalModel(phrases);
    const app = Seq2Seq.fromMetadata(loaded.model, parseSeq2SeqMetadata(loaded.metadata, phrases));
    const en = ['cat', 'dog', 'bird', 'fish', 'zebra'];
    const rng = new Random(9);
    const sources = Array.from({ length: 45 }, () => `the ${en[rng.int(5)]} and the ${en[rng.int(5)]}`);
    const model = await pool.load(readModelPayload(phrases, 'seq2seq'));
    for (const beam of [1, 3]) {
      const opts = { beam, batchSize: 8 };
      const one = app.predict(sources, opts);
      assert.deepEqual(await pool.decode(model, sources, opts), one);
      const reported: number[] = [];
      assert.deepEqual(await pool.decode(model, sources, opts, (n) => reported.push(n)), one);
      // Progress: one report a job, every source once.
      const runs = decodingRuns(app.encodeSources(sources), 8, 2, DECODE_RUN_BATCHES);
      assert.equal(reported.length, runs.length);
      assert.equal(
        reported.reduce((a, b) => a + b, 0),
        sources.length,
      );
      // Each run decoded alone on this thread (the CLI's one-thread path) gives the same outputs.
      const byRuns = new Array<unknown>(sources.length);
      for (const run of decodingRuns(app.encodeSources(sources), 8, 1, DECODE_RUN_BATCHES))
        app
          .predict(
            Array.from(run, (i) => sources[i]),
            opts,
          )
          .forEach((p, k) => (byRuns[run[k]] = p));
      assert.deepEqual(byRuns, one);
    }
  });

  it("a request's job goes to a free worker, not behind another request's long job", async () => {
    // Workers that only record what they are sent (loads answered at once), to see where each job goes.
    const sent: InferenceRequest[][] = [];
    const replies: ((r: InferenceReply) => void)[] = [];
    const fake = new InferencePool(() => {
      const box: InferenceRequest[] = [];
      sent.push(box);
      let reply: (r: InferenceReply) => void = () => {};
      replies.push((r) => reply(r));
      return {
        postMessage: (m) => {
          box.push(m);
          if (m.type === 'load') queueMicrotask(() => reply({ type: 'done', id: m.id, result: null }));
        },
        onMessage: (fn) => (reply = fn),
        onExit: () => {},
        hold: () => {},
        terminate: async () => undefined,
      };
    }, 2);
    const model = await fake.load(readModelPayload(phrases, 'seq2seq'));
    const jobsOf = (w: number): number[] => sent[w].filter((m) => m.type === 'decode').map((m) => m.id);
    const first = fake.decode(model, ['the cat and the dog']).catch(() => null);
    const second = fake.decode(model, ['the dog and the cat']).catch(() => null);
    assert.equal(jobsOf(0).length, 1, 'the first request on worker 0');
    assert.equal(jobsOf(1).length, 1, 'the second on worker 1, while worker 0 is busy');
    await fake.terminate();
    await Promise.all([first, second]);
  });

  it('recur classify predict, seq2seq predict and seq2seq eval print with --threads 2 what they print with --threads 1', () => {
    const run = (args: string[], input?: string): string => {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, timeout: 300_000 });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const texts = manyTexts(90, 8).join('\n') + '\n';
    const en = ['cat', 'dog', 'bird', 'fish', 'zebra'];
    const rng = new Random(10);
    // The last has a word the model never saw: pooled answers name it as one thread's do.
    const sources = Array.from({ length: 40 }, (_, i) =>
      i === 39 ? 'the quokka and the cat' : `the ${en[rng.int(5)]} and the ${en[rng.int(5)]}`,
    );
    // --threads allows at most this machine's cores, which may be two.
    for (const threads of ['2']) {
      const one = run(['classify', 'predict', labels, '-b', '8', '--json', '--threads', '1'], texts);
      assert.equal(one.trim().split('\n').length, 90);
      assert.equal(
        run(['classify', 'predict', labels, '-b', '8', '--json', '--threads', threads], texts),
        one,
      );
      for (const beam of ['1', '2']) {
        const args = ['seq2seq', 'predict', phrases, '-b', '8', '--beam', beam, '--json'];
        const single = run([...args, '--threads', '1'], sources.join('\n'));
        assert.equal(single.trim().split('\n').length, 40);
        assert.match(single.trim().split('\n')[39], /"unknown":\["quokka"\]/);
        assert.equal(run([...args, '--threads', threads], sources.join('\n')), single);
      }
      const evalArgs = ['seq2seq', 'eval', phrases, join(dir, 'pairs.tsv'), '-b', '4', '--json', '--bleu'];
      const scores = (t: string): Record<string, number> => {
        const j = JSON.parse(run([...evalArgs, '--threads', t])) as Record<string, number>;
        delete j.seconds;
        return j;
      };
      const single = scores('1');
      // The 120 pairs have 16 distinct sources (each with its accepted targets): four batches of 4.
      assert.equal(single.n, 16);
      assert.deepEqual(scores(threads), single);
    }
  });

  it("refuses metadata that does not fit its network with the calling thread's message, naming the file once", async () => {
    // Each copy's metadata passes its own checks but names one more character, class or token than the network has:
    // only the rebuilt network shows it, on the workers, whose message was '…/model.json: model.json: …'.
    const cases = [
      ['text', textDir, (m: Record<string, string[]>) => m.vocabulary.push('\u00e6')],
      ['classify', labels, (m: Record<string, string[]>) => m.classes.push('extra')],
      ['seq2seq', phrases, (m: Record<string, string[]>) => m.targetTokens.push('\u00e6')],
    ] as const;
    const onThisThread = {
      text: (d: string) => {
        const loaded = loadModel(d);
        parseTextModelMetadata(loaded.model, loaded.metadata, d);
      },
      classify: (d: string) => void loadClassifierDir(d),
      seq2seq: (d: string) => void loadSeq2SeqDir(d),
    };
    for (const [kind, from, damage] of cases) {
      const bad = join(dir, `misfit-${kind}`);
      cpSync(from, bad, { recursive: true });
      const file = join(bad, 'model.json');
      const json = JSON.parse(readFileSync(file, 'utf8')) as {
        userDefinedMetadata: Record<string, string[]>;
      };
      damage(json.userDefinedMetadata);
      writeFileSync(file, JSON.stringify(json));
      let expected = '';
      assert.throws(
        () => onThisThread[kind](bad),
        (e: Error) => ((expected = e.message), e instanceof InvalidInputError),
      );
      assert.ok(expected.startsWith(`${bad}: model.json: userDefinedMetadata.`), expected);
      await assert.rejects(pool.load(readModelPayload(bad, kind)), (e: Error) => {
        assert.equal(e.message, expected, kind);
        return true;
      });
    }
  });

  it("names a seq2seq ensemble member's bad metadata once, as the calling thread does, without member 1's file", () => {
    const head = readModelPayload(phrases, 'seq2seq');
    const member = join(dir, 'member-2');
    const json = JSON.parse(head.json) as { userDefinedMetadata: Record<string, unknown> };
    json.userDefinedMetadata.targetTokens = 5;
    let expected = '';
    assert.throws(
      () => parseSeq2SeqMetadata(json.userDefinedMetadata, member),
      (e: Error) => ((expected = e.message), true),
    );
    const other = { ...head, dir: member, file: join(member, 'model.json'), json: JSON.stringify(json) };
    assert.throws(
      () => holdModel({ ...head, ensemble: [other] }),
      (e: Error) => e instanceof InvalidInputError && e.message === expected,
    );
  });

  it('a worker decodes a reloaded model with its new weights, job after job of any size: no kept stepper survives the old one', () => {
    const before = readModelPayload(phrases, 'seq2seq');
    // The same network with other weights (every float scaled): a stepper kept from the old model would show.
    const scaled = (data: Uint8Array): Uint8Array => {
      const f = new Float32Array(data.slice().buffer);
      return new Uint8Array(f.map((x) => x * 1.5).buffer);
    };
    const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
    const weights = before.weights.map((w) => ({ ...w, data: scaled(w.data) }));
    const json = weights.reduce(
      (j, w, i) => j.replace(sha(before.weights[i].data), sha(w.data)),
      before.json,
    );
    const after = { ...before, json, weights };
    const en = ['cat', 'dog', 'bird', 'fish', 'zebra'];
    const rng = new Random(11);
    const sources = Array.from({ length: 30 }, () => `the ${en[rng.int(5)]} and the ${en[rng.int(5)]}`);
    const replies: InferenceReply[] = [];
    const handle = inferenceServer((r) => replies.push(r));
    let id = 0;
    const run = (msg: InferenceRequest): unknown => {
      handle(msg);
      const r = replies.pop()!;
      assert.equal(r.type, 'done', r.type === 'error' ? r.message : r.type);
      return (r as { result: unknown }).result;
    };
    const k = kernels().name;
    const decode = (modelId: number, texts: string[], beam: number): unknown =>
      run({ type: 'decode', id: ++id, modelId, sources: texts, opts: { beam, batchSize: 4 }, raw: false });
    // What a fresh worker answers (the model rebuilt, its steppers new for the call).
    const fresh = (p: ModelPayload, texts: string[], beam: number): unknown => {
      const h = holdModel(p);
      return h.kind === 'seq2seq' ? h.app.predict(texts, { beam, batchSize: 4 }) : null;
    };
    run({ type: 'load', id: ++id, modelId: 1, model: before, kernels: k });
    for (const beam of [1, 3]) assert.deepEqual(decode(1, sources, beam), fresh(before, sources, beam));
    // serve's reload: the new model loads, then the old one goes.
    run({ type: 'load', id: ++id, modelId: 2, model: after, kernels: k });
    run({ type: 'unload', id: ++id, modelId: 1 });
    for (const texts of [sources, sources.slice(3, 5), sources.slice(1, 20)])
      for (const beam of [1, 3]) {
        const want = fresh(after, texts, beam);
        assert.notDeepEqual(want, fresh(before, texts, beam), 'the new weights change the outputs');
        assert.deepEqual(decode(2, texts, beam), want);
      }
    handle({ type: 'decode', id: ++id, modelId: 1, sources, opts: {}, raw: false });
    assert.match((replies.pop() as { message: string }).message, /no model 1 was loaded/);
  });

  it('rejects a damaged model naming its file, and a job for the wrong kind of model', async () => {
    const payload = readModelPayload(labels, 'classify');
    const bad = { ...payload, weights: payload.weights.map((w) => ({ ...w, data: w.data.subarray(0, 8) })) };
    await assert.rejects(pool.load(bad), (e: Error) => e.message.includes(payload.file));
    const model = await pool.load(payload);
    await assert.rejects(pool.decode(model, ['x']), /is a classify model, not a seq2seq model/);
  });
});

describe('holdModel (the worker-side loader) on seeded damaged payloads', () => {
  it('rebuilds a model or throws an InvalidInputError naming the file, for every kind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-inference-fuzz-'));
    try {
      writeFileSync(join(dir, 'book.txt'), book(2000, 3));
      writeFileSync(join(dir, 'reviews.csv'), reviews(60, 3));
      writeFileSync(join(dir, 'pairs.tsv'), pairs(30, 3));
      const q = ['--seed', '1', '--quiet'];
      cli(
        ['train', join(dir, 'book.txt'), '--out', join(dir, 't'), '--epochs', '1', '--units', '4'].concat(
          ['--maxlen', '6', '--steps-per-epoch', '2', '--threads', '1'],
          q,
        ),
      );
      cli(
        ['classify', 'train', join(dir, 'reviews.csv'), '--out', join(dir, 'c'), '--epochs', '1'].concat(
          ['--units', '4', '--embedding-dim', '4', '--threads', '1'],
          q,
        ),
      );
      cli(
        ['seq2seq', 'train', join(dir, 'pairs.tsv'), '--out', join(dir, 's'), '--epochs', '1'].concat(
          ['--units', '4', '--embedding-dim', '4'],
          q,
        ),
      );
      const rng = new Random(20261203);
      const kinds = [
        ['t', 'text'],
        ['c', 'classify'],
        ['s', 'seq2seq'],
      ] as const;
      let failed = 0;
      for (let i = 0; i < 150; i++) {
        const [sub, kind] = kinds[i % 3];
        const good = readModelPayload(join(dir, sub), kind);
        const inJson = rng.next() < 0.5;
        const damaged = inJson
          ? {
              ...good,
              json: new TextDecoder().decode(mutateBytes(new TextEncoder().encode(good.json), rng).bytes),
            }
          : { ...good, weights: good.weights.map((w) => ({ ...w, data: mutateBytes(w.data, rng).bytes })) };
        try {
          holdModel(damaged);
        } catch (e) {
          failed++;
          assert.ok(e instanceof InvalidInputError, `${kind} #${i}: ${String(e)}`);
          // A damaged file names its model.json; metadata that does not fit the network names the directory and
          // 'model.json', as the calling thread's loaders do.
          const message = (e as Error).message;
          const named = message.includes(good.file) || message.includes(`${metadataName(good)}: model.json`);
          assert.ok(named, `${kind} #${i}: ${message}`);
        }
      }
      assert.ok(failed > 50, `only ${failed} of 150 damaged payloads were refused`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('InferencePool when a worker dies', () => {
  it('fails the jobs that worker ran with a clear error, replaces it, and keeps serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-inference-crash-'));
    writeFileSync(join(dir, 'book.txt'), book(3000, 2));
    const textDir = join(dir, 'book');
    cli(
      [
        'train',
        join(dir, 'book.txt'),
        '--out',
        textDir,
        '--epochs',
        '1',
        '--units',
        '8',
        '--maxlen',
        '8',
      ].concat(['--batch-size', '32', '--steps-per-epoch', '5', '--seed', '1', '--quiet', '--threads', '1']),
    );
    // A port over the real worker script whose thread the test can kill from outside, as a crash would.
    const threads: Worker[] = [];
    const pool = new InferencePool((): InferencePort => {
      const w = new Worker(new URL('../src/node/inference_worker.js', import.meta.url));
      threads.push(w);
      let stopping = false;
      let exit: (e: Error) => void = () => {};
      w.on('exit', (code) => stopping || exit(new Error(`the thread exited with code ${code}`)));
      return {
        postMessage: (m) => w.postMessage(m),
        onMessage: (fn) => w.on('message', fn),
        onExit: (fn) => (exit = fn),
        hold: () => {},
        terminate: () => ((stopping = true), w.terminate()),
      };
    }, 1);
    try {
      const model = await pool.load(readModelPayload(textDir, 'text'));
      const long = await pool.startGeneration(model, { prime: 'the', length: 1_000_000, seed: 1 });
      await threads[0].terminate();
      await assert.rejects(long.done, /inference worker 1 stopped .*not completed/);
      const text = await pool.generate(model, { prime: 'the', length: 20, seed: 2 });
      assert.equal(text.length, 20);
      assert.equal(threads.length, 2);
    } finally {
      await pool.terminate();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('InferencePool when its workers cannot start', () => {
  const payload: ModelPayload = { kind: 'text', file: 'm/model.json', json: '{}', weights: [] };
  /**
   * Stand-in ports: `works(n)` says whether the n-th spawned worker answers (loads, and generations of 'abc');
   * the others die on the next turn before answering anything, as one whose script does not load or throws on
   * import. `kill(n)` ends the n-th from outside, as a crash would.
   */
  const fakes = (works: (n: number) => boolean) => {
    const exits: ((e: Error) => void)[] = [];
    const spawn = (): InferencePort => {
      const n = exits.length;
      let exit: (e: Error) => void = () => {};
      let reply: (r: InferenceReply) => void = () => {};
      exits.push((e) => exit(e));
      if (!works(n)) setImmediate(() => exit(new Error('the script did not load')));
      return {
        postMessage: (m) => {
          if (!works(n)) return;
          if (m.type === 'generate') reply({ type: 'started', id: m.id });
          if (m.type !== 'abort')
            queueMicrotask(() =>
              reply({ type: 'done', id: m.id, result: m.type === 'generate' ? 'abc' : null }),
            );
        },
        onMessage: (fn) => (reply = fn),
        onExit: (fn) => (exit = fn),
        hold: () => {},
        terminate: async () => {},
      };
    };
    return { spawn, spawned: () => exits.length, kill: (n: number) => exits[n](new Error('killed')) };
  };
  /** Turns of the event loop until no worker was spawned in the last few (at most `max`): the pool settled. */
  const settled = async (spawned: () => number, max = 200): Promise<void> => {
    for (let quiet = 0, last = -1, turn = 0; quiet < 5 && turn < max; turn++) {
      quiet = spawned() === last ? quiet + 1 : 0;
      last = spawned();
      await new Promise((r) => setImmediate(r));
    }
  };

  it(`starts at most ${START_ATTEMPTS} workers per place, then fails every job naming why they could not start`, async () => {
    const { spawn, spawned } = fakes(() => false);
    const pool = new InferencePool(spawn, 2);
    try {
      await assert.rejects(
        pool.load(payload),
        /^Error: inference worker 1 stopped \(the script did not load\)/,
      );
      await settled(spawned);
      assert.equal(spawned(), 2 * START_ATTEMPTS, 'no worker replaced endlessly');
      for (let i = 0; i < 2; i++)
        await assert.rejects(pool.load(payload), {
          message: 'inference worker 1 could not start: the script did not load',
        });
      assert.equal(spawned(), 2 * START_ATTEMPTS, 'a job starts no worker either');
    } finally {
      await pool.terminate();
    }
  });

  it('a place that could not start gets no more jobs: the others answer them', async () => {
    // Worker 2 works until it is killed; its replacements cannot start. Worker 1 works throughout.
    const { spawn, spawned, kill } = fakes((n) => n < 2);
    const pool = new InferencePool(spawn, 2);
    try {
      const model = await pool.load(payload);
      kill(1);
      await settled(spawned);
      assert.equal(spawned(), 2 + START_ATTEMPTS, 'no worker replaced endlessly');
      for (let i = 0; i < 3; i++) {
        const { worker, done } = await pool.startGeneration(model, { prime: 'a', length: 3, seed: i });
        assert.equal(worker, 0);
        assert.equal(await done, 'abc');
      }
      await pool.load(payload);
    } finally {
      await pool.terminate();
    }
  });
});

describe('InferencePool when one worker cannot load a model', () => {
  it('rejects the load and has the workers that loaded it let go of it', async () => {
    // Ports that answer as the worker script would: the second worker fails the load (out of memory, say).
    const held: Set<number>[] = [];
    const pool = new InferencePool((): InferencePort => {
      const worker = held.length;
      const models = new Set<number>();
      held.push(models);
      let reply: (r: InferenceReply) => void = () => {};
      return {
        postMessage: (m: InferenceRequest) => {
          if (m.type === 'load' && worker === 1)
            return queueMicrotask(() =>
              reply({ type: 'error', id: m.id, message: 'out of memory', invalid: false }),
            );
          if (m.type === 'load') models.add(m.modelId);
          if (m.type === 'unload') models.delete(m.modelId);
          queueMicrotask(() => reply({ type: 'done', id: m.id, result: null }));
        },
        onMessage: (fn) => (reply = fn),
        onExit: () => {},
        hold: () => {},
        terminate: async () => {},
      };
    }, 2);
    try {
      await assert.rejects(
        pool.load({ kind: 'text', file: 'm/model.json', json: '{}', weights: [] }),
        /out of memory/,
      );
      assert.deepEqual(
        held.map((m) => [...m]),
        [[], []],
        'no worker keeps a copy of a model the pool refused',
      );
    } finally {
      await pool.terminate();
    }
  });
});
