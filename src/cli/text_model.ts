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
export function loadTextModel(dir: string): { model: Sequential; meta: TextMetadata; notes: string[] } {
  let loaded: ReturnType<typeof loadModel>;
  try {
    loaded = loadModel(dir);
  } catch (e) {
    if (e instanceof Error && !(e instanceof UsageError) && !(e as NodeJS.ErrnoException).code)
      throw new UsageError(e.message);
    throw e;
  }
  return { model: loaded.model, meta: parseTextMetadata(loaded.metadata, dir), notes: loaded.notes };
}
