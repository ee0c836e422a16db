/**
 * A text file read into a TextCorpus on a short-lived worker thread (src/node/corpus_worker.ts). Reading makes
 * about ten times the file's size in short-lived strings (decoded blocks, joined and lowercased pieces, both passes);
 * on the calling thread that churn grows V8's young generation to its maximum (32 MB here), and a training run keeps
 * it through its first, largest-memory batches. On a worker the churn goes away with the worker's heap: only the
 * encoded text comes back (transferred, not copied), one byte per character.
 */
import { Worker } from 'node:worker_threads';
import { TextCorpus, type CorpusOptions } from '../text/corpus.js';
import { Vocabulary } from '../text/vocabulary.js';
import { TextFileError, textFileChunks } from './text_file.js';

/** What the worker is asked: the file, the corpus options (a vocabulary as its characters) and the block size. */
export interface CorpusFileRequest {
  path: string;
  lowercase: boolean;
  vocabulary: string[] | null;
  unknown: 'error' | 'skip';
  blockBytes: number | null;
}

/** The worker's answer: the vocabulary's characters and the encoded text, or the error it met. */
export type CorpusFileReply =
  | { chars: string[]; data: Uint8Array | Uint16Array | Int32Array }
  | { error: string; textFileError: boolean };

/** The worker's side of readTextCorpus: textFileChunks into TextCorpus.fromChunks, on this thread. */
export function encodeTextFile(r: CorpusFileRequest): CorpusFileReply {
  try {
    const corpus = TextCorpus.fromChunks(textFileChunks(r.path, r.blockBytes ?? undefined), {
      lowercase: r.lowercase,
      unknown: r.unknown,
      ...(r.vocabulary ? { vocabulary: Vocabulary.fromJSON(r.vocabulary) } : {}),
    });
    return { chars: corpus.vocabulary.toJSON(), data: corpus.data };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e), textFileError: e instanceof TextFileError };
  }
}

/**
 * `TextCorpus.fromChunks(textFileChunks(path, blockBytes), opts)`, computed on a worker thread: the same corpus and
 * the same errors (a TextFileError stays one). With `opts.vocabulary` the corpus uses that very object. Resolves
 * once the worker has exited, so its heap is gone before the caller allocates anything else.
 */
export function readTextCorpus(
  path: string,
  opts: CorpusOptions = {},
  blockBytes?: number,
): Promise<TextCorpus> {
  const request: CorpusFileRequest = {
    path,
    lowercase: opts.lowercase ?? true,
    vocabulary: opts.vocabulary ? opts.vocabulary.toJSON() : null,
    unknown: opts.unknown ?? 'error',
    blockBytes: blockBytes ?? null,
  };
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./corpus_worker.js', import.meta.url), { workerData: request });
    let reply: CorpusFileReply | null = null;
    worker.once('message', (m: CorpusFileReply) => (reply = m));
    // The worker itself failed (e.g. out of memory): no reply will come.
    worker.once('error', (e) => reject(new Error(`${path}: reading it failed: ${e.message}`)));
    // Messages the worker posted are delivered before 'exit'.
    worker.once('exit', (code) => {
      const r = reply as CorpusFileReply | null;
      if (!r)
        reject(new Error(`${path}: the thread reading it stopped with exit code ${code} before answering`));
      else if ('error' in r) reject(r.textFileError ? new TextFileError(r.error) : new Error(r.error));
      else {
        try {
          resolve(TextCorpus.fromEncoded(opts.vocabulary ?? Vocabulary.fromJSON(r.chars), r.data));
        } catch (e) {
          reject(e as Error);
        }
      }
    });
  });
}
