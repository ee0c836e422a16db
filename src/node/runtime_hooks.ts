/**
 * What every Node entry of recur installs into the browser-safe library (the CLI and recur/node through install.ts,
 * and each worker thread's entry), after wasm_flags.ts:
 * - node:crypto's SHA-256 for the model-file hashes, ≈ 12× the portable one (every model load and save hashes its
 *   weights);
 * - V8's full garbage collection, which the kernel memory asks for as it grows (src/core/wasm/memory.ts), so models a
 *   program drops give their kernel memory back: V8 exposes it to a new context once --expose-gc is set.
 */
import './wasm_flags.js';
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { installSha256Hex } from '../core/sha256.js';
import { installGarbageCollector } from '../core/wasm/memory.js';

export function nodeSha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** V8's full collection of this thread's heap. */
export const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

installSha256Hex(nodeSha256Hex);
installGarbageCollector(collectGarbage);
