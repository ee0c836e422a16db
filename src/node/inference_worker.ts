/** Entry of a Node worker thread of the inference pool: connects the inference server to this thread's port. */
import './runtime_hooks.js';
import { parentPort } from 'node:worker_threads';
import { inferenceServer } from '../inference/server.js';
import type { InferenceRequest } from '../inference/protocol.js';

const handle = inferenceServer((reply) => parentPort!.postMessage(reply));
parentPort!.on('message', (msg: InferenceRequest) => handle(msg));
