/**
 * A worker thread of src/node/global_pool.ts: trains the global network's members it is sent, one at a time, and
 * answers with each epoch's loss and then the member's weights (or why it failed).
 */
import { parentPort } from 'node:worker_threads';
import './index.js'; // the wasm flags, as in the CLI process: the same kernels, so the same weights
import { trainGlobalMember, type GlobalMemberJob } from '../forecast/global.js';

/** What the worker answers: each epoch, then the member's weights or its error. */
export type GlobalWorkerMessage =
  | { kind: 'epoch'; epoch: number; loss: number }
  | { kind: 'done'; weights: Float32Array[] }
  | { kind: 'error'; message: string };

const send = (m: GlobalWorkerMessage, transfer: ArrayBuffer[] = []): void =>
  parentPort!.postMessage(m, transfer);

parentPort!.on('message', (job: GlobalMemberJob) => {
  trainGlobalMember(job, (epoch, loss) => send({ kind: 'epoch', epoch, loss })).then(
    (model) => {
      // getWeights copies the values out of the kernels' memory, so their buffers can be transferred.
      const weights = model.getWeights().map((w) => w.data);
      send(
        { kind: 'done', weights },
        weights.map((w) => w.buffer as ArrayBuffer),
      );
    },
    (e: unknown) => send({ kind: 'error', message: e instanceof Error ? e.message : String(e) }),
  );
});
