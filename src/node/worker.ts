/** Entry of a Node worker thread of the pool: connects the replica server to this thread's message port. */
import './runtime_hooks.js';
import { parentPort } from 'node:worker_threads';
import { replicaServer } from '../parallel/replica_server.js';
import type { PoolRequest } from '../parallel/protocol.js';

const handle = replicaServer((reply) => parentPort!.postMessage(reply));
parentPort!.on('message', (msg: PoolRequest) => handle(msg));
