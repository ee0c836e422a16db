/**
 * Reloading a model on the inference pool while it serves (InferencePool.load's `oneWorkerAtATime`, recur serve's
 * SIGUSR2): new jobs go to the workers not rebuilding, and a running stream never pauses: a worker running streams
 * rebuilds only once they have ended, or after `streamWaitMs`, every model of a reload in one turn (loadEach: one
 * wait per worker however many models reload). Fake workers the test steps, no threads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InferencePool, type InferencePort, type PooledModel } from '../src/inference/pool.js';
import type { InferenceReply, InferenceRequest, ModelPayload } from '../src/inference/protocol.js';

/**
 * Fake workers that run their messages in order, as a worker thread does: while a load the test holds is "rebuilding",
 * the worker answers nothing and its streams step no further (their characters wait), as a real rebuild blocks its
 * thread. A generation job starts and then steps only when the test says (`step`), until `finish`. A model whose file
 * is under bad/ does not build (an error reply, as a worker's for a damaged model).
 */
function workersWithHeldLoads(threads: number): {
  pool: InferencePool;
  sent: InferenceRequest[][];
  held: (() => void)[];
  holdLoads: (hold: boolean) => void;
  step: (worker: number, id: number, text: string) => void;
  finish: (worker: number, id: number) => void;
  /** The worker (by spawn order; a replacement is a new one) dies: it takes no message after. */
  crash: (worker: number) => void;
} {
  const sent: InferenceRequest[][] = [];
  const held: (() => void)[] = [];
  /** Per worker: runs an action on it (see `run`), and sends its replies. */
  const runs: ((action: () => void) => void)[] = [];
  const replies: ((r: InferenceReply) => void)[] = [];
  const crashes: (() => void)[] = [];
  let holding = false;
  const pool = new InferencePool((): InferencePort => {
    const box: InferenceRequest[] = [];
    let reply: (r: InferenceReply) => void = () => {};
    let queue: (() => void)[] | null = null;
    let dead = false;
    let exit: (e: Error) => void = () => {};
    crashes.push(() => {
      dead = true;
      exit(new Error('crashed'));
    });
    /** Runs `action` on this worker: now, or after the load it is rebuilding. */
    const run = (action: () => void): void => void (queue ? queue.push(action) : queueMicrotask(action));
    sent.push(box);
    runs.push(run);
    replies.push((r) => reply(r));
    return {
      postMessage: (m) => {
        if (dead) return;
        box.push(m);
        if (m.type === 'abort') return;
        if (m.type === 'generate') return run(() => reply({ type: 'started', id: m.id }));
        const answer = (): void =>
          reply(
            m.type === 'load' && m.model.file.startsWith('bad/')
              ? { type: 'error', id: m.id, message: `${m.model.file}: damaged`, invalid: true }
              : { type: 'done', id: m.id, result: null },
          );
        if (m.type !== 'load' || !holding || queue) return run(answer);
        queue = [];
        held.push(() => {
          answer();
          for (const next of queue!.splice(0)) next();
          queue = null;
        });
      },
      onMessage: (fn) => (reply = fn),
      onExit: (fn) => (exit = fn),
      hold: () => {},
      terminate: async () => {},
    };
  }, threads);
  return {
    pool,
    sent,
    held,
    holdLoads: (hold) => (holding = hold),
    step: (worker, id, text) => runs[worker](() => replies[worker]({ type: 'text', id, text })),
    finish: (worker, id) => runs[worker](() => replies[worker]({ type: 'done', id, result: 'text' })),
    crash: (worker) => crashes[worker](),
  };
}

/** Lets queued microtasks and immediates run. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

const payload: ModelPayload = { kind: 'text', file: 'old/model.json', json: '{}', weights: [] };

describe('InferencePool loading a model one worker at a time (a reload while serving)', () => {
  it('sends new jobs to the workers not loading it, so the models already loaded answer without waiting', async () => {
    const { pool, sent, held, holdLoads, finish } = workersWithHeldLoads(2);
    const sentTo = (worker: number, type: InferenceRequest['type']): number =>
      sent[worker].filter((m) => m.type === type).length;
    /** Ends the last stream sent to `worker`. */
    const finishLast = (worker: number): void =>
      finish(worker, sent[worker].filter((m) => m.type === 'generate').at(-1)!.id);
    try {
      const old = await pool.load(payload);
      holdLoads(true);
      const reload = pool.load({ ...payload, file: 'new/model.json' }, { oneWorkerAtATime: true });
      const fresh = old.id + 1;
      assert.equal(held.length, 1, 'one worker loads the new model');
      assert.deepEqual([sentTo(0, 'load'), sentTo(1, 'load')], [2, 1], 'worker 1 serves on meanwhile');
      const during = pool.generate(old, { prime: 'the', length: 5 });
      assert.deepEqual(
        [sentTo(0, 'generate'), sentTo(1, 'generate')],
        [0, 1],
        'the request went to worker 1',
      );
      finishLast(1);
      assert.equal(await during, 'text');
      held.shift()!();
      // Worker 0's load answered, the round goes on to worker 1.
      while (!sent[1].some((m) => m.type === 'load' && m.modelId === fresh))
        await new Promise((r) => setImmediate(r));
      assert.deepEqual([sentTo(0, 'load'), sentTo(1, 'load')], [2, 2], 'then worker 1 loads it');
      const next = pool.generate(old, { prime: 'the', length: 5 });
      assert.deepEqual([sentTo(0, 'generate'), sentTo(1, 'generate')], [1, 1], 'and worker 0 serves');
      finishLast(0);
      assert.equal(await next, 'text');
      held.shift()!();
      assert.equal((await reload).id, fresh);
    } finally {
      for (const release of held.splice(0)) release();
      await pool.terminate();
    }
  });
});

describe('InferencePool reloading a model while a stream runs', () => {
  it('rebuilds the worker running no stream first, and the stream’s own worker once it has ended: the stream never pauses', async () => {
    const { pool, sent, held, holdLoads, step, finish } = workersWithHeldLoads(2);
    const loadsOn = (worker: number): number => sent[worker].filter((m) => m.type === 'load').length;
    try {
      const old = await pool.load(payload);
      const chunks: string[] = [];
      const running = await pool.startGeneration(old, {
        prime: 'the',
        length: 100,
        onText: (t) => chunks.push(t),
      });
      const w = running.worker;
      const other = 1 - w;
      const id = sent[w].find((m) => m.type === 'generate')!.id;
      holdLoads(true);
      let reloaded = false;
      const reload = pool.load({ ...payload, file: 'new/model.json' }, { oneWorkerAtATime: true });
      void reload.then(() => (reloaded = true));
      await settle();
      assert.equal(held.length, 1, 'one worker rebuilds the model');
      assert.deepEqual([loadsOn(w), loadsOn(other)], [1, 2], 'the worker without a stream rebuilds first');
      step(w, id, 'a');
      await settle();
      assert.deepEqual(chunks, ['a'], 'the stream goes on while the other worker rebuilds');
      held.shift()!();
      await settle();
      // The stream's worker has its turn, but waits for the stream to end; new streams go to the other meanwhile.
      assert.equal(loadsOn(w), 1, 'no rebuild under a running stream');
      step(w, id, 'b');
      await settle();
      assert.deepEqual(chunks, ['a', 'b'], 'the stream goes on while its worker waits to rebuild');
      const second = await pool.startGeneration(old, { prime: 'the', length: 5 });
      assert.equal(second.worker, other, 'a new stream goes to the rebuilt worker');
      assert.equal(reloaded, false, 'the reload is done only once every worker has the model');
      finish(w, id);
      assert.equal(await running.done, 'text');
      await settle();
      assert.equal(loadsOn(w), 2, 'its stream ended, the worker rebuilds');
      held.shift()!();
      await reload;
      finish(other, sent[other].find((m) => m.type === 'generate')!.id);
      assert.equal(await second.done, 'text');
    } finally {
      for (const release of held.splice(0)) release();
      await pool.terminate();
    }
  });

  it(
    'rebuilds a worker under streams that outlast streamWaitMs, and they go on after',
    { timeout: 60_000 },
    async () => {
      const { pool, sent, step, finish } = workersWithHeldLoads(2);
      try {
        const old = await pool.load(payload);
        const chunks: string[] = [];
        const streams = [];
        for (let i = 0; i < 2; i++)
          streams.push(
            await pool.startGeneration(old, { prime: 'the', length: 9, onText: (t) => chunks.push(t) }),
          );
        assert.deepEqual(pool.streamsPerWorker(), [1, 1]);
        const fresh = await pool.load(
          { ...payload, file: 'new/model.json' },
          { oneWorkerAtATime: true, streamWaitMs: 0 },
        );
        assert.deepEqual(pool.streamsPerWorker(), [1, 1], 'the streams still run');
        for (const [w, s] of streams.entries()) {
          const id = sent[w].find((m) => m.type === 'generate')!.id;
          assert.equal(s.worker, w);
          step(w, id, String(w));
          finish(w, id);
          assert.equal(await s.done, 'text');
        }
        assert.deepEqual(chunks.sort(), ['0', '1']);
        assert.ok(fresh.id > old.id);
      } finally {
        await pool.terminate();
      }
    },
  );

  it(
    'gives the turn of a worker that died waiting for its streams to its replacement',
    { timeout: 60_000 },
    async () => {
      const { pool, sent, crash } = workersWithHeldLoads(2);
      try {
        const old = await pool.load(payload);
        const running = await pool.startGeneration(old, { prime: 'the', length: 9 });
        const reload = pool.load({ ...payload, file: 'new/model.json' }, { oneWorkerAtATime: true });
        await settle();
        assert.equal(
          sent[running.worker].filter((m) => m.type === 'load').length,
          1,
          'it waits for its stream',
        );
        crash(running.worker);
        await assert.rejects(running.done, /stopped/);
        const fresh = await reload;
        // The replacement (spawned third) loaded the old model, as every replacement does, then the new one.
        assert.deepEqual(
          sent[2].filter((m) => m.type === 'load').map((m) => (m as { modelId: number }).modelId),
          [old.id, fresh.id],
        );
      } finally {
        await pool.terminate();
      }
    },
  );

  it(
    'rebuilds all of a reload’s models on a worker in one turn: one wait for its streams, however many models',
    { timeout: 60_000 },
    async () => {
      const { pool, sent, step, finish } = workersWithHeldLoads(2);
      const newLoadsOn = (worker: number, from: number): number[] =>
        sent[worker].flatMap((m) => (m.type === 'load' && m.modelId >= from ? [m.modelId] : []));
      try {
        const old = await pool.load(payload);
        const chunks: string[] = [];
        const running = await pool.startGeneration(old, {
          prime: 'the',
          length: 9,
          onText: (t) => chunks.push(t),
        });
        const w = running.worker;
        const other = 1 - w;
        const id = sent[w].find((m) => m.type === 'generate')!.id;
        let reloaded = false;
        const reload = pool.loadEach(
          [1, 2, 3].map((i) => ({ ...payload, file: `new${i}/model.json` })),
          { oneWorkerAtATime: true },
        );
        void reload.then(() => (reloaded = true));
        await settle();
        const first = old.id + 1;
        assert.deepEqual(
          newLoadsOn(other, first),
          [first, first + 1, first + 2],
          'the free worker rebuilds all three',
        );
        assert.deepEqual(newLoadsOn(w, first), [], 'the stream’s worker waits for its stream');
        step(w, id, 'a');
        await settle();
        assert.deepEqual(chunks, ['a'], 'the stream goes on meanwhile');
        assert.equal(reloaded, false);
        finish(w, id);
        assert.equal(await running.done, 'text');
        const models = await reload;
        assert.deepEqual(
          newLoadsOn(w, first),
          [first, first + 1, first + 2],
          'its stream ended, it rebuilds all three',
        );
        assert.deepEqual(
          models.map((r) => (r.status === 'fulfilled' ? r.value.file : r.reason)),
          ['new1/model.json', 'new2/model.json', 'new3/model.json'],
        );
      } finally {
        await pool.terminate();
      }
    },
  );

  it('loads each model of a reload all or nothing: one that fails on a worker is dropped, the others load everywhere', async () => {
    const { pool, sent } = workersWithHeldLoads(2);
    try {
      const old = await pool.load(payload);
      const [good, bad] = await pool.loadEach(
        [
          { ...payload, file: 'new/model.json' },
          { ...payload, file: 'bad/model.json' },
        ],
        { oneWorkerAtATime: true },
      );
      assert.equal(good.status, 'fulfilled');
      assert.equal(bad.status, 'rejected');
      assert.match(String((bad as PromiseRejectedResult).reason), /bad\/model\.json: damaged/);
      const badId = old.id + 2;
      const loads = (worker: number, modelId: number): number =>
        sent[worker].filter((m) => m.type === 'load' && m.modelId === modelId).length;
      assert.equal(loads(0, badId) + loads(1, badId), 1, 'the failed model was sent to no other worker');
      assert.deepEqual(
        [loads(0, old.id + 1), loads(1, old.id + 1)],
        [1, 1],
        'the other model loaded on both',
      );
      const unloads = sent
        .flat()
        .filter((m) => m.type === 'unload')
        .map((m) => m.modelId);
      assert.deepEqual(unloads, [badId, badId], 'every worker let go of the failed model');
      const fresh = (good as PromiseFulfilledResult<PooledModel>).value;
      // The other model serves (a stream on a model the pool does not hold is refused).
      const serving = await pool.startGeneration(fresh, { prime: 'the', length: 1 });
      serving.done.catch(() => {});
    } finally {
      await pool.terminate();
    }
  });
});
