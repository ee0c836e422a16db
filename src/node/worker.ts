/**
 * A worker thread of the data-parallel pool. It instantiates the kernels over the shared memory, keeps a replica of
 * the model whose weights are views of the main model's weights, and computes the gradients of its shard of each
 * batch into its own gradient buffers, which the main thread sums.
 */
import './wasm_flags.js';
import { parentPort, workerData } from 'node:worker_threads';
import { setKernels } from '../core/backend.js';
import { IndexTensor, Tensor, type AnyTensor } from '../core/tensor.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import { layerFromKeras } from '../models/serialization.js';
import { Sequential } from '../models/sequential.js';
import type { PoolReply, PoolRequest, WireTensor } from './pool_protocol.js';

const init = workerData as {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  variant: 'simd' | 'relaxed';
};
const k = new WasmKernels(init.module, init.memory, init.variant, false);
setKernels(k);

const replicas = new Map<number, Sequential>();

function fromWire(t: WireTensor): AnyTensor {
  return t.dtype === 'int32'
    ? new IndexTensor(t.data as Int32Array, t.shape)
    : new Tensor(t.data as Float32Array, t.shape);
}

function handle(msg: PoolRequest): PoolReply {
  switch (msg.type) {
    case 'model': {
      const model = new Sequential({ seed: 0 });
      for (const lj of msg.layers) model.add(layerFromKeras(lj, 'replica'));
      model.build(msg.inputShape);
      model.compile({ optimizer: 'sgd', loss: msg.loss, metrics: msg.metrics, fromLogits: msg.fromLogits });
      const named = model.namedWeights();
      named.forEach(({ weight }, i) =>
        weight.bindValue(new Float32Array(init.memory.buffer, msg.weights[i], weight.value.length)),
      );
      replicas.clear();
      replicas.set(msg.modelId, model);
      return { type: 'ready', grads: named.map(({ weight }) => weight.grad.byteOffset) };
    }
    case 'reset': {
      replicas.get(msg.modelId)?.resetStates();
      return { type: 'reset' };
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

parentPort!.on('message', (msg: PoolRequest) => {
  try {
    parentPort!.postMessage(handle(msg));
  } catch (e) {
    parentPort!.postMessage({ type: 'error', message: (e as Error).stack ?? String(e) } satisfies PoolReply);
  }
});
