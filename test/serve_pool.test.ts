/**
 * `recur serve` with its inference pool (--threads 2): generation runs on worker threads, so the event loop answers
 * GET /v1/models while 32 long streams generate; pooled /v1/generate (JSON and SSE) gives the same text as the
 * in-process path for the same model, prime and seed; bad primes are still a 400 before a stream starts; a stream
 * whose client leaves is cancelled on its worker; a crashed worker fails only its requests, with a clear error; a
 * reload rebuilds the models one worker at a time, old models answering meanwhile and no running stream pausing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { InferencePool, type InferencePort } from '../src/inference/pool.js';
import type { InferenceReply, InferenceRequest } from '../src/inference/protocol.js';
import { makeOutput } from '../src/cli/output.js';
import { reloadModels } from '../src/cli/serve.js';
import { createInferencePool, spawnInferenceThread } from '../src/node/inference_pool.js';
import {
  attachInferencePool,
  SERVE_LIMITS,
  createServeApp,
  loadServedModels,
  type ServeApp,
  type TextServed,
} from '../src/node/server.js';
import { CLI, pseudoText, WHALE_WORDS } from './cli_helpers.js';
import { sseEvents, listen } from './serve_helpers.js';

const book = (chars: number, seed: number): string => pseudoText(chars, seed, WHALE_WORDS);
/** Characters of a stream the test stops (cancels, or kills its worker): seconds of work, never finished. */
const LONG_STREAM = 5_000_000;

describe('recur serve on the inference pool', () => {
  let dir = '';
  let textModel = '';
  let pool: InferencePool;
  let pooled: ServeApp;
  let local: ServeApp;
  let pooledBase = '';
  let localBase = '';
  let pooledText: TextServed;
  const post = (base: string, body: unknown, signal?: AbortSignal): Promise<Response> =>
    fetch(base + '/v1/generate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });

  /** Trains a small text model on book.txt into `out`. */
  const train = (out: string, seed: number): void => {
    const r = spawnSync(
      process.execPath,
      [CLI, 'train', join(dir, 'book.txt'), '--out', out, '--epochs', '1', '--units', '16']
        .concat(['--maxlen', '12', '--batch-size', '32', '--steps-per-epoch', '20', '--seed', String(seed)])
        .concat(['--threads', '1', '--no-samples', '-q']),
      { encoding: 'utf8', timeout: 300_000 },
    );
    assert.equal(r.status, 0, r.stderr);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'recur-serve-pool-'));
    writeFileSync(join(dir, 'book.txt'), book(6000, 1));
    textModel = join(dir, 'book');
    train(textModel, 3);
    pool = createInferencePool(2);
    const served = loadServedModels([textModel]);
    await attachInferencePool(served, pool);
    pooledText = served[0] as TextServed;
    assert.ok(pooledText.pooled);
    // Streams long enough that none can finish while the test looks at them (20,000 characters of this small model
    // took under 0.7 s on two fast cores, so a stream could end before all 32 had started).
    pooled = createServeApp({ served, pool, limits: { ...SERVE_LIMITS, length: LONG_STREAM } });
    local = createServeApp({ served: loadServedModels([textModel]) });
    pooledBase = await listen(pooled);
    localBase = await listen(local);
  });
  after(async () => {
    await pooled?.close();
    await local?.close();
    await pool?.terminate();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the in-process text for the same model, prime and seed (whole and streamed)', async () => {
    for (const body of [
      { prime: 'The whale', length: 150, seed: 7, temperature: 0.8, top_k: 5 },
      { prime: 'sea', length: 90, seed: 8, temperature: 1.2, top_p: 0.9 },
      { prime: 'a ship', length: 60, seed: 9, temperature: 0 },
    ]) {
      const expected = ((await (await post(localBase, body)).json()) as { text: string }).text;
      const whole = await post(pooledBase, body);
      assert.equal(whole.status, 200);
      assert.equal(((await whole.json()) as { text: string }).text, expected);
      const s = await post(pooledBase, { ...body, stream: true });
      assert.equal(s.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const events = sseEvents(await s.text());
      assert.equal(events[0].event, 'start');
      assert.equal(events.at(-1)!.event, 'done');
      assert.equal(events.at(-1)!.data.text, expected);
      const chunks = events.filter((e) => e.event === 'message').map((e) => e.data.text as string);
      assert.equal(chunks.join(''), expected);
    }
    // Nothing was generated on this thread by the pooled app.
    assert.equal(pooledText.batcher!.stats.steps, 0);
  });

  it('answers GET /v1/models while 32 long generations run on the workers', async () => {
    const N = 32;
    const aborts = Array.from({ length: N }, () => new AbortController());
    let finished = 0;
    const responses = await Promise.all(
      aborts.map((a, i) =>
        post(pooledBase, { prime: 'the sea', length: LONG_STREAM, seed: i, stream: true }, a.signal),
      ),
    );
    const bodies = responses.map((r) => {
      assert.equal(r.status, 200);
      return r.text().then(
        () => finished++,
        () => undefined,
      );
    });
    // Every stream has started (its headers came), and they are generating on the workers.
    assert.equal(pool.activeStreams, N);
    const models = await fetch(pooledBase + '/v1/models');
    assert.equal(models.status, 200);
    assert.equal(((await models.json()) as { models: unknown[] }).models.length, 1);
    assert.equal(finished, 0, 'GET /v1/models answered only after generations finished');
    assert.equal(pool.activeStreams, N);
    assert.equal(pooledText.batcher!.stats.steps, 0);
    // The clients leave: their streams are cancelled on the workers.
    for (const a of aborts) a.abort();
    await Promise.all(bodies);
    await pool.idle();
    assert.equal(pool.activeStreams, 0);
  });

  it('answers a request whose worker crashed with a clear error, and keeps serving', async () => {
    // A pool whose threads the test can kill from outside, as a crash would.
    const threads: Worker[] = [];
    const crashy = new InferencePool((): InferencePort => {
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
    const served = loadServedModels([textModel]);
    await attachInferencePool(served, crashy);
    const reported: string[] = [];
    const app = createServeApp({
      served,
      pool: crashy,
      limits: { ...SERVE_LIMITS, length: LONG_STREAM },
      reportInternalError: (line) => reported.push(line),
    });
    const base = await listen(app);
    try {
      // Both still running when the worker is killed, however fast the machine.
      const whole = post(base, { prime: 'the', length: LONG_STREAM, seed: 1 });
      const streamed = await post(base, { prime: 'the', length: LONG_STREAM, seed: 2, stream: true });
      while (crashy.activeStreams < 2) await new Promise((r) => setTimeout(r, 10));
      await threads[0].terminate();
      const r = await whole;
      assert.equal(r.status, 500);
      assert.match(
        ((await r.json()) as { error: string }).error,
        /inference worker 1 stopped .*not completed/,
      );
      const events = sseEvents(await streamed.text());
      assert.equal(events.at(-1)!.event, 'error');
      assert.match(events.at(-1)!.data.error as string, /inference worker 1 stopped/);
      // Without --log the operator still learns of both: one line for the 500, one for the failed stream.
      assert.equal(reported.length, 2, reported.join('\n'));
      for (const line of reported)
        assert.match(line, /^recur serve: POST \/v1\/generate: internal error: inference worker 1 stopped/);
      const again = await post(base, { prime: 'the', length: 10, seed: 3 });
      assert.equal(again.status, 200);
      assert.equal(((await again.json()) as { text: string }).text.length, 10);
    } finally {
      await app.close();
      await crashy.terminate();
    }
  });

  it('stops a stream whose client went away while the worker was accepting it', async () => {
    // The request and the client's leaving arrive together: the server sees the close before the worker has said
    // the stream started, so a close listener added only then would miss it and the stream would run to its end.
    const body = JSON.stringify({ length: LONG_STREAM, seed: 4, stream: true });
    const port = Number(new URL(pooledBase).port);
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `POST /v1/generate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      socket.destroy();
    });
    const until = async (done: () => boolean, ms: number, what: string): Promise<void> => {
      const end = Date.now() + ms;
      while (!done()) {
        assert.ok(Date.now() < end, what);
        await new Promise((r) => setImmediate(r));
      }
    };
    await until(() => pooled.inFlight() > 0, 10_000, 'the request never reached the server');
    await until(
      () => pooled.inFlight() === 0,
      10_000,
      'the stream kept generating for a client that had gone',
    );
  });

  it('refuses a bad prime with a 400 before the stream starts, and stays up', async () => {
    for (const stream of [false, true]) {
      const r = await post(pooledBase, { prime: 'Q#', length: 5, stream });
      assert.equal(r.status, 400);
      assert.match(((await r.json()) as { error: string }).error, /never saw/);
    }
    const ok = await post(pooledBase, { prime: 'the', length: 10, seed: 1 });
    assert.equal(ok.status, 200);
  });

  it('swaps in reloaded models (SIGHUP) while a stream runs: it finishes on the old model, which is then unloaded', async () => {
    const served = loadServedModels([textModel]);
    await attachInferencePool(served, pool);
    const old = served[0] as TextServed;
    const app = createServeApp({ served, pool, limits: { ...SERVE_LIMITS, length: LONG_STREAM } });
    try {
      const base = await listen(app);
      const body = { prime: 'the sea', length: 60_000, seed: 4, temperature: 1, stream: true };
      const expected = sseEvents(await (await post(base, body)).text()).at(-1)!.data.text;
      const running = await post(base, body);
      const reader = running.body!.getReader();
      const first = await reader.read();
      assert.ok(!first.done);
      assert.equal(app.inFlight(), 1, 'the stream runs while the models are swapped');
      const next = loadServedModels([textModel]);
      await attachInferencePool(next, pool);
      app.swap(next);
      assert.equal(app.models()[0], next[0]);
      // A new request runs on the new model while the old stream goes on.
      const fresh = await post(base, { prime: 'the', length: 20, seed: 2 });
      assert.equal(fresh.status, 200);
      const decoder = new TextDecoder();
      let rest = decoder.decode(first.value, { stream: true });
      for (let r = await reader.read(); !r.done; r = await reader.read())
        rest += decoder.decode(r.value, { stream: true });
      assert.equal(sseEvents(rest).at(-1)!.data.text, expected);
      // Its last request done, the old model is gone from the workers.
      await assert.rejects(
        pool.generate(old.pooled!, { prime: 'the', length: 5 }),
        /is not loaded in this inference pool/,
      );
    } finally {
      await app.close();
    }
  });

  it('keeps sending a running stream’s chunks during a reload (SIGUSR2) of two models: its worker rebuilds both once the stream has ended', async () => {
    // Workers over the real worker script whose loads the test holds; a worker holding a load also sends nothing (its
    // replies wait), as a worker whose thread rebuilds a model: a stream on it stops between two steps.
    let holdLoads = false;
    let gaveUp = false;
    const held: (() => void)[] = [];
    /** Characters the workers' streams have handed to the server. */
    let generated = 0;
    /** Loads sent to each worker (by spawn order: none dies here, so by its place in the pool). */
    const loads: number[] = [];
    const holding = new InferencePool((): InferencePort => {
      const port = spawnInferenceThread();
      const worker = loads.push(0) - 1;
      let queue: InferenceRequest[] | null = null;
      let waiting: InferenceReply[] | null = null;
      let receive: (r: InferenceReply) => void = () => {};
      port.onMessage((r) => (waiting ? waiting.push(r) : receive(r)));
      return {
        ...port,
        onMessage: (fn) =>
          (receive = (r) => {
            if (r.type === 'text') generated += r.text.length;
            fn(r);
          }),
        postMessage: (m) => {
          if (m.type === 'load') loads[worker]++;
          if (queue) return void queue.push(m);
          if (m.type !== 'load' || !holdLoads) return port.postMessage(m);
          queue = [m];
          waiting = [];
          held.push(() => {
            for (const r of waiting!.splice(0)) receive(r);
            waiting = null;
            for (const q of queue!.splice(0)) port.postMessage(q);
            queue = null;
          });
        },
      };
    }, 2);
    const second = join(dir, 'second');
    cpSync(textModel, second, { recursive: true });
    const models = loadServedModels([textModel, second], SERVE_LIMITS, { onPool: true });
    await attachInferencePool(models, holding);
    const app = createServeApp({
      served: models,
      pool: holding,
      limits: { ...SERVE_LIMITS, length: LONG_STREAM },
    });
    const out = { ...makeOutput({ quiet: true }), json: () => {} };
    const leave = new AbortController();
    // A chunk that waited for a held load would wait for ever: the loads are let go after a while, and the chunks
    // below must come before that.
    const giveUp = setTimeout(() => {
      gaveUp = true;
      for (const release of held.splice(0)) release();
    }, 60_000);
    try {
      const base = await listen(app);
      const running = await post(
        base,
        { model: models[0].name, prime: 'the sea', length: LONG_STREAM, seed: 4, stream: true },
        leave.signal,
      );
      const reader = running.body!.getReader();
      const decoder = new TextDecoder();
      let body = '';
      /** Reads the stream until the client has more characters than the workers had generated when called. */
      const readOn = async (): Promise<void> => {
        const past = generated;
        const received = (): number =>
          sseEvents(body.slice(0, body.lastIndexOf('\n\n') + 2))
            .filter((e) => e.event === 'message')
            .reduce((n, e) => n + (e.data.text as string).length, 0);
        while (received() <= past) {
          const r = await reader.read();
          assert.ok(!r.done, 'the stream ended');
          body += decoder.decode(r.value, { stream: true });
        }
      };
      await readOn();
      const streamWorker = holding.streamsPerWorker().indexOf(1);
      const otherWorker = 1 - streamWorker;
      const loadsBefore = [...loads];
      holdLoads = true;
      const reload = reloadModels(app, holding, out);
      while (held.length === 0) await new Promise((r) => setImmediate(r));
      // The other worker rebuilds: the stream's chunks keep coming.
      await readOn();
      assert.ok(!gaveUp, 'the stream paused for the reload');
      held.shift()!();
      // The stream's worker has its turn, and waits for the stream, which goes on; the old model is still served.
      await readOn();
      assert.ok(!gaveUp, 'the stream paused for the reload');
      assert.equal(held.length, 0, 'a worker rebuilt under a running stream');
      // In its one turn the other worker rebuilt both models: the stream's worker waits once, not once per model.
      assert.equal(loads[otherWorker] - loadsBefore[otherWorker], 2, 'the other worker rebuilt both models');
      assert.equal(loads[streamWorker], loadsBefore[streamWorker], 'the stream’s worker waits for it');
      assert.equal(app.models()[0], models[0], 'the new model is not served before every worker has it');
      leave.abort();
      while (held.length === 0) await new Promise((r) => setImmediate(r));
      held.shift()!();
      await reload;
      assert.equal(loads[streamWorker] - loadsBefore[streamWorker], 2, 'its stream ended, it rebuilt both');
      assert.notEqual(app.models()[0], models[0]);
      assert.notEqual(app.models()[1], models[1]);
    } finally {
      clearTimeout(giveUp);
      leave.abort();
      for (const release of held.splice(0)) release();
      await app.close();
      await holding.terminate();
    }
  });

  it('answers a request during a reload (SIGUSR2) from the old model without waiting, then swaps all workers at once', async () => {
    const served = join(dir, 'reloaded');
    const other = join(dir, 'other');
    cpSync(textModel, served, { recursive: true });
    train(other, 9);
    // Workers over the real worker script whose loads the test holds: a worker runs its messages in order, so a held
    // load holds all that is sent to it after, as a slow rebuild does (a large joint n-gram takes seconds).
    let holdLoads = false;
    let gaveUp = false;
    const held: (() => void)[] = [];
    const holding = new InferencePool((): InferencePort => {
      const port = spawnInferenceThread();
      let queue: InferenceRequest[] | null = null;
      return {
        ...port,
        postMessage: (m) => {
          if (queue) return void queue.push(m);
          if (m.type !== 'load' || !holdLoads) return port.postMessage(m);
          queue = [m];
          held.push(() => {
            for (const q of queue!.splice(0)) port.postMessage(q);
            queue = null;
          });
        },
      };
    }, 2);
    const models = loadServedModels([served], SERVE_LIMITS, { onPool: true });
    assert.equal((models[0] as TextServed).batcher, undefined, 'this thread holds no copy of the network');
    await attachInferencePool(models, holding);
    const app = createServeApp({ served: models, pool: holding });
    const logged: string[] = [];
    const out = {
      ...makeOutput({ quiet: true }),
      json: (e: Record<string, unknown>) => logged.push(JSON.stringify(e)),
    };
    const ask = { prime: 'the', length: 40, temperature: 1, seed: 5 };
    const generate = async (base: string): Promise<string> => {
      const r = await post(base, ask);
      assert.equal(r.status, 200);
      return ((await r.json()) as { text: string }).text;
    };
    try {
      const base = await listen(app);
      const before = await generate(base);
      for (const f of readdirSync(other)) cpSync(join(other, f), join(served, f), { recursive: true });
      holdLoads = true;
      // A request that waited for a held load would wait for ever: the loads are let go after a while, and each
      // answer below must come before that.
      const giveUp = setTimeout(() => {
        gaveUp = true;
        for (const release of held.splice(0)) release();
      }, 60_000);
      const reload = reloadModels(app, holding, out).finally(() => clearTimeout(giveUp));
      while (held.length === 0) await new Promise((r) => setImmediate(r));
      // One worker rebuilds the model; the other answers, from the old model.
      assert.equal(await generate(base), before);
      assert.ok(!gaveUp, 'the request waited for the reload');
      assert.equal(app.models()[0], models[0], 'the new model is not served before every worker has it');
      held.shift()!();
      while (held.length === 0) await new Promise((r) => setImmediate(r));
      assert.equal(await generate(base), before, 'the other worker answers while the second rebuilds');
      assert.ok(!gaveUp, 'the request waited for the reload');
      held.shift()!();
      await reload;
      const after = await generate(base);
      assert.notEqual(after, before);
      assert.match(logged.join('\n'), /"event":"reloaded".*"kept":\[\]/);
      // A model one worker cannot build (its metadata disagrees with its network): the old one goes on, everywhere.
      const file = join(served, 'model.json');
      const json = JSON.parse(readFileSync(file, 'utf8')) as {
        userDefinedMetadata: { vocabulary: string[] };
      };
      json.userDefinedMetadata.vocabulary.pop();
      writeFileSync(file, JSON.stringify(json));
      holdLoads = false;
      await reloadModels(app, holding, out);
      assert.match(logged.at(-1)!, /"kept":\[\{"name":"reloaded".*but the model predicts/);
      for (let i = 0; i < 4; i++) assert.equal(await generate(base), after);
    } finally {
      for (const release of held.splice(0)) release();
      await app.close();
      await holding.terminate();
    }
  });
});
