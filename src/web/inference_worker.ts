/** Entry of a browser Web Worker of the inference pool (`new Worker(url, {type: 'module'})`). */
import { inferenceServer } from '../inference/server.js';
import type { InferenceReply, InferenceRequest } from '../inference/protocol.js';

const scope = globalThis as unknown as {
  postMessage(reply: InferenceReply): void;
  addEventListener(type: 'message', fn: (e: MessageEvent<InferenceRequest>) => void): void;
};
const handle = inferenceServer((reply) => scope.postMessage(reply));
scope.addEventListener('message', (e) => handle(e.data));
