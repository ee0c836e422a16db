/**
 * What `recur export` writes into a project directory, and how `--overwrite` knows which files are recur's. The
 * project's names (train.py, README.md, start/model.json …) are also names a user gives their own files, so, as for
 * the run files of the same generic names (run_files.ts, isRecurRunFile), the content decides: every export ends by
 * writing <out>/recur-export.json, which lists each file it wrote with its SHA-256. A file is recur's when that
 * manifest lists it with the hash it has now; one the user wrote or changed since is theirs, and `--overwrite`
 * refuses to touch it (as it refuses a project exported before the manifest existed).
 *
 * An export begins by listing the names it is about to write as `pending` (beginExport): each was checked to be free
 * or recur's just before, so what an export stopped by Ctrl-C or kill -9 left there is recur's too, and the next
 * `--overwrite` replaces it — where a manifest written only at the end left those files refused for good.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic.js';
import { isModelFileName } from './run_files.js';

/** The manifest's name in a project directory. */
export const EXPORT_MANIFEST = 'recur-export.json';
/** The `format` a manifest says it is. */
export const EXPORT_MANIFEST_FORMAT = 'recur-export-manifest-1';
/** The starting model's subdirectory of a project. */
export const EXPORT_START_DIR = 'start';

interface ExportManifest {
  format: typeof EXPORT_MANIFEST_FORMAT;
  /** Path relative to the project directory ('/'-separated) → SHA-256 (hex) of what recur wrote there. */
  files: Record<string, string>;
  /** An export under way (absent once it finished): the names it writes, and `start/` for start/'s model files. */
  pending?: string[];
}

function sha256Of(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** A manifest recur can read: its format, and an object of files (checked one by one below). */
const MANIFEST_SCHEMA = z.looseObject({
  format: z.literal(EXPORT_MANIFEST_FORMAT),
  files: z.record(z.string(), z.unknown()),
  pending: z.array(z.string()).optional(),
});

/** The manifest in `outDir` (its listed files, and the names of an export under way), or null when none is recur's. */
function readManifest(outDir: string): { files: Record<string, string>; pending: string[] } | null {
  const path = join(outDir, EXPORT_MANIFEST);
  if (!isPlainFile(path)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
  const m = MANIFEST_SCHEMA.safeParse(raw);
  if (!m.success) return null;
  // An entry that is not a hash lists no file: that file is then the user's.
  const files = Object.fromEntries(
    Object.entries(m.data.files).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
  return { files, pending: m.data.pending ?? [] };
}

function isPlainFile(path: string): boolean {
  return existsSync(path) && lstatSync(path).isFile();
}

/** Whether anything (a file, a directory, a link, even a broken one) is at `path`. */
function occupied(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The project files (relative paths) already in `outDir` that a new export of `names` (plus start/ and the manifest)
 * would replace or delete, checked to be recur's: returns the first that is not, or null when every one is. start/'s
 * model files count even under other names than the new model's (saveModel replaces the weights the old model.json
 * named, and those of its own naming a killed save left).
 */
export function foreignExportFile(outDir: string, names: readonly string[]): string | null {
  const { files, pending } = readManifest(outDir) ?? { files: {}, pending: [] };
  const ours = (rel: string): boolean => {
    const path = join(outDir, ...rel.split('/'));
    if (!isPlainFile(path)) return false;
    // A stopped export's: its names were free or recur's when it began.
    if (
      pending.includes(rel) ||
      (pending.includes(`${EXPORT_START_DIR}/`) && rel.startsWith(`${EXPORT_START_DIR}/`))
    )
      return true;
    return files[rel] === sha256Of(path);
  };
  if (occupied(join(outDir, EXPORT_MANIFEST)) && readManifest(outDir) === null) return EXPORT_MANIFEST;
  for (const rel of names) if (occupied(join(outDir, rel)) && !ours(rel)) return rel;
  const start = join(outDir, EXPORT_START_DIR);
  if (occupied(start)) {
    if (!lstatSync(start).isDirectory()) return EXPORT_START_DIR;
    for (const n of readdirSync(start)) {
      const rel = `${EXPORT_START_DIR}/${n}`;
      if (isModelFileName(n) && !ours(rel)) return rel;
    }
  }
  return null;
}

/** The files an earlier export listed that the new one does not write (`names`, start/): deleted when still recur's. */
export function removeStaleExportFiles(outDir: string, names: readonly string[]): string[] {
  const removed: string[] = [];
  for (const [rel, hash] of Object.entries(readManifest(outDir)?.files ?? {})) {
    // Only the project's own bare names (start/ is saveModel's): a manifest naming ../x names nothing of ours.
    if (names.includes(rel) || !/^[\w-][\w.-]*$/.test(rel)) continue;
    const path = join(outDir, rel);
    if (isPlainFile(path) && sha256Of(path) === hash) {
      unlinkSync(path);
      removed.push(path);
    }
  }
  return removed;
}

/**
 * Marks an export of `names` (and start/) as under way, before it writes anything: the manifest keeps the files an
 * earlier export listed (removeStaleExportFiles still knows them) and lists these names as pending.
 */
export function beginExport(outDir: string, names: readonly string[]): void {
  const manifest: ExportManifest = {
    format: EXPORT_MANIFEST_FORMAT,
    files: readManifest(outDir)?.files ?? {},
    pending: [...names, `${EXPORT_START_DIR}/`],
  };
  writeFileAtomic(join(outDir, EXPORT_MANIFEST), JSON.stringify(manifest, null, 1) + '\n');
}

/** Writes the manifest of a finished export: `names` and start/'s model files, each with its hash as written. */
export function writeExportManifest(outDir: string, names: readonly string[]): void {
  const rels = [
    ...names,
    ...readdirSync(join(outDir, EXPORT_START_DIR))
      .filter(isModelFileName)
      .map((n) => `${EXPORT_START_DIR}/${n}`),
  ];
  const files = Object.fromEntries(rels.map((rel) => [rel, sha256Of(join(outDir, ...rel.split('/')))]));
  const manifest: ExportManifest = { format: EXPORT_MANIFEST_FORMAT, files };
  writeFileAtomic(join(outDir, EXPORT_MANIFEST), JSON.stringify(manifest, null, 1) + '\n');
}
