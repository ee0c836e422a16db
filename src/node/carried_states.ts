/**
 * The carried states of a mid-epoch checkpoint — what a stateful model's layers (the char-rnn recipe's streams) carry
 * into the next batch — in a file of their own beside the checkpoint's model.json: `states-<hex>.bin`, float32
 * little-endian, layer after layer, state after state, row-major. model.json's training state names the file and
 * records its shapes and sha256; loading checks all three against the model before anything is used.
 *
 * Crash safety follows the weights': a save writes a new, uniquely named states file first, then the checkpoint's
 * model.json (which names it) atomically, and only then removes older states files (removeOtherStatesFiles). At
 * every instant the checkpoint on disk names a states file that exists and matches it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { InvalidInputError, noSuchPath } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { checkCarriedStateShapes, type CarriedStates, type Sequential } from '../models/sequential.js';
import { makeDirectories, prepareAtomicWrite, type PreparedWrite } from './atomic.js';
import { CARRIED_STATES_FILE_RE } from './run_files.js';

const dim = z.number().int().positive();

/** How model.json names and describes a states file (under the checkpoint's state.epochProgress.carriedStates). */
export const CarriedStatesRefSchema = z.object({
  file: z.string().regex(CARRIED_STATES_FILE_RE, 'expected a name states-<hex>.bin'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 hex digits'),
  /** Per model layer: null, or the shape [rows, size] of each of its states. */
  layers: z.array(z.object({ shapes: z.array(z.tuple([dim, dim])) }).nullable()),
});
export type CarriedStatesRef = z.infer<typeof CarriedStatesRefSchema>;

/**
 * The states file's write, prepared (its temp file written) but not committed, and what model.json records of it: a
 * checkpoint's save commits it just before its weights (saveModel's `commitFirst`), when their temp files and
 * model.json's exist, which mark it as a killed save's until model.json is in place.
 */
export function prepareCarriedStates(
  dir: string,
  states: CarriedStates,
): { ref: CarriedStatesRef; write: PreparedWrite } {
  const floats = states.reduce((n, l) => n + (l ?? []).reduce((m, t) => m + t.size, 0), 0);
  const data = new Float32Array(floats);
  let off = 0;
  for (const l of states)
    for (const t of l ?? []) {
      data.set(t.data, off);
      off += t.size;
    }
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw new Error(
      `the carried states hold ${data[bad]} (value ${bad}); recur does not save non-finite states`,
    );
  const bytes = new Uint8Array(data.buffer);
  const file = `states-${randomBytes(4).toString('hex')}.bin`;
  makeDirectories(dir);
  const write = prepareAtomicWrite(join(dir, file), bytes);
  const ref = {
    file,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    layers: states.map((l) =>
      l ? { shapes: l.map((t) => [t.shape[0], t.shape[1]] as [number, number]) } : null,
    ),
  };
  return { ref, write };
}

/** Removes the states files in `dir` other than `keep` (older saves'; none when the checkpoint has no states). */
export function removeOtherStatesFiles(dir: string, keep: string | null): void {
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) {
    if (!CARRIED_STATES_FILE_RE.test(f) || f === keep) continue;
    try {
      unlinkSync(join(dir, f));
    } catch {
      // already gone
    }
  }
}

/**
 * The carried states a checkpoint's model.json records (`raw`: its state.epochProgress.carriedStates, unchecked),
 * read and checked — the reference against its schema, then everything readCarriedStates checks. `modelJson` is that
 * model.json's path; every problem is an InvalidInputError naming the file and the field.
 */
export function loadCarriedStates(
  dir: string,
  raw: unknown,
  model: Sequential,
  modelJson: string,
): CarriedStates {
  const r = CarriedStatesRefSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const at = issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
    throw new InvalidInputError(`${modelJson}: state.epochProgress.carriedStates${at}: ${issue.message}`);
  }
  return readCarriedStates(dir, r.data, model, modelJson);
}

/**
 * Reads the states file a checkpoint names and checks it: its shapes against the model's layers, its size against
 * its shapes, its bytes against the recorded sha256. `modelJson` is the checkpoint's model.json path (named in
 * errors); every mismatch is an InvalidInputError naming the file and what was expected.
 */
export function readCarriedStates(
  dir: string,
  ref: CarriedStatesRef,
  model: Sequential,
  modelJson: string,
): CarriedStates {
  const field = `${modelJson}: state.epochProgress.carriedStates`;
  checkCarriedStateShapes(
    model.layers,
    ref.layers.map((l) => l?.shapes ?? null),
    `${field}.layers`,
    'the file lists',
  );
  const path = join(dir, ref.file);
  if (!existsSync(path) || !statSync(path).isFile())
    throw new InvalidInputError(`${noSuchPath(path)}; ${field}.file names it`);
  const bytes = readFileSync(path);
  const floats = ref.layers.reduce((n, l) => n + (l?.shapes ?? []).reduce((m, [r, c]) => m + r * c, 0), 0);
  if (bytes.length !== floats * 4)
    throw new InvalidInputError(
      `${path}: holds ${bytes.length} bytes; the carried states listed in ${field}.layers need ${floats * 4}`,
    );
  if (createHash('sha256').update(bytes).digest('hex') !== ref.sha256)
    throw new InvalidInputError(`${path}: its sha256 does not match ${field}.sha256; the file is damaged`);
  const data = new Float32Array(floats);
  new Uint8Array(data.buffer).set(bytes);
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw new InvalidInputError(
      `${path}: value ${bad} is ${data[bad]}; recur refuses non-finite carried states`,
    );
  let off = 0;
  return ref.layers.map(
    (l) =>
      l?.shapes.map(([r, c]) => {
        const t = new Tensor(data.slice(off, off + r * c), [r, c]);
        off += r * c;
        return t;
      }) ?? null,
  );
}
