/**
 * Saving and loading model directories (model.json + one weights file) on Node.
 *
 * Saves are crash-safe: the weights go to a new, uniquely named file first, then model.json — which names that file —
 * is replaced atomically, and only then are older weight files removed. At every instant the directory holds a
 * complete model, so an interrupted save (Ctrl-C, kill, power loss) leaves the previous one intact.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import {
  deserializeModel,
  parseModelJson,
  serializeModel,
  type LoadedModel,
  type ModelJson,
  type SaveOptions,
} from '../models/serialization.js';
import type { Sequential } from '../models/sequential.js';
import { Functional } from '../models/functional.js';
import {
  deserializeFunctional,
  parseFunctionalModelJson,
  serializeFunctional,
  type LoadedFunctional,
} from '../models/functional_serialization.js';

const WEIGHTS_RE = /^weights(-[0-9a-f]+)?\.bin$/;

/** Writes `dir/model.json` and its weights file. */
export function saveModel(model: Sequential | Functional, dir: string, opts: SaveOptions = {}): void {
  mkdirSync(dir, { recursive: true });
  const art = model instanceof Functional ? serializeFunctional(model, opts) : serializeModel(model, opts);
  const weightsFile = `weights-${randomBytes(4).toString('hex')}.bin`;
  writeFileAtomic(join(dir, weightsFile), art.weightData);
  const json: ModelJson = {
    ...art.json,
    weightsManifest: [{ paths: [weightsFile], weights: art.weightSpecs }],
  };
  writeFileAtomic(join(dir, 'model.json'), JSON.stringify(json, null, 1) + '\n');
  for (const f of readdirSync(dir)) {
    if (WEIGHTS_RE.test(f) && f !== weightsFile) {
      try {
        unlinkSync(join(dir, f));
      } catch {
        // a concurrent reader may still hold it; harmless
      }
    }
  }
}

/** Path of model.json for a directory or a model.json path; throws a clear error when absent. */
export function modelJsonPath(pathOrDir: string): string {
  const p = resolve(pathOrDir);
  if (!existsSync(p)) throw new Error(`${pathOrDir}: no such model directory`);
  const file = statSync(p).isDirectory() ? join(p, 'model.json') : p;
  if (!existsSync(file)) throw new Error(`${pathOrDir}: no model.json here; not a model directory`);
  return file;
}

/** Reads model.json and the files its manifest names, checking sizes. */
export function readModelFiles(
  pathOrDir: string,
  parse: (text: string, where: string) => ModelJson = parseModelJson,
): { json: ModelJson; weightData: Uint8Array; file: string } {
  const file = modelJsonPath(pathOrDir);
  const json = parse(readFileSync(file, 'utf8'), file);
  const base = resolve(file, '..');
  const parts: Buffer[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const wp = join(base, p);
      if (!existsSync(wp))
        throw new Error(`${file}: the weights manifest names '${p}', which does not exist`);
      parts.push(readFileSync(wp));
    }
  }
  return { json, weightData: new Uint8Array(Buffer.concat(parts)), file };
}

/** Loads a model saved by recur or by TensorFlow.js (`model.save('file://…')`). */
export function loadModel(pathOrDir: string): LoadedModel {
  const { json, weightData, file } = readModelFiles(pathOrDir);
  return deserializeModel(json, weightData, file);
}

/** Loads a functional model saved by recur or by TensorFlow.js (class "Functional" or "Model"). */
export function loadFunctionalModel(pathOrDir: string): LoadedFunctional {
  const { json, weightData, file } = readModelFiles(pathOrDir, parseFunctionalModelJson);
  return deserializeFunctional(json, weightData, file);
}

/** True when dir holds a model. */
export function isModelDir(dir: string): boolean {
  return existsSync(join(dir, 'model.json'));
}
