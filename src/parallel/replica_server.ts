/**
 * The worker side of the data-parallel pool, for any worker API: it instantiates the kernels over the shared memory
 * (from the first, 'init', message), keeps a replica of each model whose weights are views of the main model's
 * weights, and computes the gradients of its shard of each batch into its own gradient buffers, which the main thread
 * sums. The entry files (src/node/worker.ts, src/web/worker.ts) only connect it to their message port.
 */
import { setKernels } from '../core/backend.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import type { PoolModel } from '../models/pool_model.js';
import { replicaFromDescription } from '../models/replica.js';
import { floatFromWire, fromWire, toWire, type PoolReply, type PoolRequest } from './protocol.js';

/** Handles the pool's requests; `send` posts a reply to the main thread. Returns the message handler. */
export function replicaServer(send: (reply: PoolReply) => void): (msg: PoolRequest) => void {
  let k: WasmKernels | null = null;
  let memory: WebAssembly.Memory | null = null;
  const replicas = new Map<number, PoolModel>();
  /** The allocation scope of a shard between its 'forward' and its 'finish' (at most one at a time). */
  let openScope: number | null = null;

  const closeScope = (): void => {
    if (openScope !== null) k?.endScope(openScope);
    openScope = null;
  };

  const replica = (modelId: number): PoolModel => {
    const model = replicas.get(modelId);
    if (!model) throw new Error(`worker: no replica for model ${modelId}`);
    return model;
  };

  function handle(msg: PoolRequest): PoolReply | null {
    if (msg.type === 'init') {
      k = new WasmKernels(msg.module, msg.memory, msg.variant, false);
      memory = msg.memory;
      setKernels(k);
      return null;
    }
    if (!k || !memory) throw new Error('worker: a request arrived before the kernels were initialised');
    switch (msg.type) {
      case 'model': {
        closeScope();
        const model = replicaFromDescription(msg.replica);
        const named = model.namedWeights();
        const buffer = memory.buffer;
        named.forEach(({ weight }, i) =>
          weight.bindValue(new Float32Array(buffer, msg.weights[i], weight.value.length)),
        );
        replicas.clear();
        replicas.set(msg.modelId, model);
        return { type: 'ready', grads: named.map(({ weight }) => weight.grad.byteOffset) };
      }
      case 'reset': {
        replicas.get(msg.modelId)?.resetStates();
        return { type: 'reset' };
      }
      // Carried states go through the layers' own state API, whatever the layers are.
      case 'getStates':
        return {
          type: 'states',
          layers: replica(msg.modelId).layers.map((l) => l.getStates()?.map(toWire) ?? null),
        };
      case 'setStates': {
        replica(msg.modelId).layers.forEach((l, i) => l.resetStates(msg.layers[i]?.map(floatFromWire)));
        return { type: 'statesSet' };
      }
      case 'forward': {
        const model = replica(msg.modelId);
        // A pass left open by a failed batch is dropped.
        closeScope();
        openScope = k.beginScope();
        try {
          const counts = model.shardForward(
            { xs: msg.xs.map(fromWire), ys: msg.ys.map(fromWire) },
            { training: msg.training, seed: msg.seed, rowOffset: msg.rowOffset },
          );
          return { type: 'counts', counts, busyMs: 0 };
        } catch (e) {
          closeScope();
          throw e;
        }
      }
      case 'step': {
        const model = replica(msg.modelId);
        closeScope();
        const mark = k.beginScope();
        try {
          model.shardForward(
            { xs: msg.xs.map(fromWire), ys: msg.ys.map(fromWire) },
            { training: msg.training, seed: msg.seed, rowOffset: msg.rowOffset },
          );
          return { type: 'done', logs: model.shardFinish(msg.totals, msg.training), busyMs: 0 };
        } finally {
          k.endScope(mark);
        }
      }
      case 'finish': {
        const model = replica(msg.modelId);
        try {
          return { type: 'done', logs: model.shardFinish(msg.totals, msg.backward), busyMs: 0 };
        } finally {
          closeScope();
        }
      }
    }
  }
  return (msg) => {
    try {
      const t0 = performance.now();
      const reply = handle(msg);
      if (reply?.type === 'done' || reply?.type === 'counts') reply.busyMs = performance.now() - t0;
      if (reply) send(reply);
    } catch (e) {
      send({ type: 'error', message: (e as Error).stack ?? String(e) });
    }
  };
}
