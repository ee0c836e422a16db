/**
 * The worker side of the data-parallel pool, for any worker API: it instantiates the kernels over the shared memory
 * (from the first, 'init', message), keeps a replica of each model whose weights are views of the main model's
 * weights, and computes the gradients of its shard of each batch into its own gradient buffers, which the main thread
 * sums. The entry files (src/node/worker.ts, src/web/worker.ts) only connect it to their message port.
 */
import { setKernels } from '../core/backend.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import { layerFromKeras } from '../models/serialization.js';
import { Sequential } from '../models/sequential.js';
import { floatFromWire, fromWire, toWire, type PoolReply, type PoolRequest } from './protocol.js';

/** Handles the pool's requests; `send` posts a reply to the main thread. Returns the message handler. */
export function replicaServer(send: (reply: PoolReply) => void): (msg: PoolRequest) => void {
  let k: WasmKernels | null = null;
  let memory: WebAssembly.Memory | null = null;
  const replicas = new Map<number, Sequential>();

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
        const model = new Sequential({ seed: 0 });
        for (const lj of msg.layers) model.add(layerFromKeras(lj, 'replica'));
        model.build(msg.inputShape);
        model.compile({ optimizer: 'sgd', loss: msg.loss, metrics: msg.metrics, fromLogits: msg.fromLogits });
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
      case 'getStates': {
        const model = replicas.get(msg.modelId);
        if (!model) throw new Error(`worker: no replica for model ${msg.modelId}`);
        return { type: 'states', layers: model.layers.map((l) => l.getStates()?.map(toWire) ?? null) };
      }
      case 'setStates': {
        const model = replicas.get(msg.modelId);
        if (!model) throw new Error(`worker: no replica for model ${msg.modelId}`);
        model.layers.forEach((l, i) => l.resetStates(msg.layers[i]?.map(floatFromWire)));
        return { type: 'statesSet' };
      }
      case 'evaluate': {
        const model = replicas.get(msg.modelId);
        if (!model) throw new Error(`worker: no replica for model ${msg.modelId}`);
        const mark = k.beginScope();
        try {
          const r = model.shardLosses(fromWire(msg.x), fromWire(msg.y));
          return { type: 'done', lossSum: r.lossSum, accSum: r.accSum };
        } finally {
          k.endScope(mark);
        }
      }
      case 'step': {
        const model = replicas.get(msg.modelId);
        if (!model) throw new Error(`worker: no replica for model ${msg.modelId}`);
        const mark = k.beginScope();
        try {
          const r = model.shardGradients(
            fromWire(msg.x),
            fromWire(msg.y),
            msg.seed,
            msg.rowOffset,
            msg.totalRows,
          );
          return { type: 'done', lossSum: r.lossSum, accSum: r.accSum };
        } finally {
          k.endScope(mark);
        }
      }
    }
  }

  return (msg) => {
    try {
      const reply = handle(msg);
      if (reply) send(reply);
    } catch (e) {
      send({ type: 'error', message: (e as Error).stack ?? String(e) });
    }
  };
}
