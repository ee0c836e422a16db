/** Entry of a browser Web Worker of the pool (`new Worker(url, {type: 'module'})`): connects the replica server. */
import { replicaServer } from '../parallel/replica_server.js';
import type { PoolReply, PoolRequest } from '../parallel/protocol.js';

const scope = globalThis as unknown as {
  postMessage(reply: PoolReply): void;
  addEventListener(type: 'message', fn: (e: MessageEvent<PoolRequest>) => void): void;
};
const handle = replicaServer((reply) => scope.postMessage(reply));
scope.addEventListener('message', (e) => handle(e.data));
