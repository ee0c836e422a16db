/**
 * Node's SHA-256 (node:crypto, native) for recur's model-file hashes, in place of the portable TypeScript one the
 * browser uses: every model load and save hashes its weights, ≈ 12× faster here. Each Node entry imports this module
 * (the CLI, recur/node, the worker threads), as it does wasm_flags.
 */
import { createHash } from 'node:crypto';
import { installSha256Hex } from '../core/sha256.js';

export function nodeSha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

installSha256Hex(nodeSha256Hex);
