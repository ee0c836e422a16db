/**
 * Loading a text model directory for `recur generate`, `evaluate` and `train --resume`. The recipes, the model
 * builder and the metadata schema are library code (src/text/recipes.ts, src/text/metadata.ts); what stays here is
 * the CLI's reading of a model directory, where a directory that holds no usable model is bad input (exit 2).
 */
import type { Sequential } from '../models/sequential.js';
import { loadModel } from '../node/model_io.js';
import { parseTextMetadata, type TextMetadata } from '../text/metadata.js';
import { UsageError } from './output.js';

/** A text model and its metadata from a model directory; a directory that does not hold one is bad input (exit 2). */
/** loadModel for a command's input: a damaged or foreign model directory is bad input (exit 2), not a failure. */
export function loadModelInput(dir: string): ReturnType<typeof loadModel> {
  try {
    return loadModel(dir);
  } catch (e) {
    if (e instanceof Error && !(e instanceof UsageError) && !(e as NodeJS.ErrnoException).code)
      throw new UsageError(e.message);
    throw e;
  }
}

export function loadTextModel(dir: string): { model: Sequential; meta: TextMetadata; notes: string[] } {
  const loaded = loadModelInput(dir);
  return { model: loaded.model, meta: parseTextMetadata(loaded.metadata, dir), notes: loaded.notes };
}
