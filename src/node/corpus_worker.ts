/** Entry of the worker thread of readTextCorpus (./corpus_file.ts): reads one file, posts the corpus, exits. */
import { parentPort, workerData } from 'node:worker_threads';
import { encodeTextFile, type CorpusFileRequest } from './corpus_file.js';

const reply = encodeTextFile(workerData as CorpusFileRequest);
parentPort!.postMessage(reply, 'data' in reply ? [reply.data.buffer as ArrayBuffer] : []);
