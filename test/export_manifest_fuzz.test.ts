/**
 * Seeded fuzzing of the export manifest (recur-export.json, src/node/export_files.ts), which decides which files of a
 * project directory `recur export --overwrite` may replace or delete. Damaged bytes (truncations, flips, BOM, CRLF,
 * random bytes) and damaged structure (wrong format, files of other types, other hashes, paths out of the directory)
 * must never throw, never call a file recur's unless the manifest lists it with the hash it has, and never delete a
 * file outside the directory, in start/, one the new export writes, or one whose hash the manifest does not list.
 * The command's own refusal (exit 2 naming recur-export.json) is checked in export_overwrite.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import {
  EXPORT_MANIFEST,
  foreignExportFile,
  removeStaleExportFiles,
  writeExportManifest,
} from '../src/node/export_files.js';
import { mutateBytes } from './fuzz_helpers.js';

const SEED = 20261206;
const MUTATIONS = 300;
const root = mkdtempSync(join(tmpdir(), 'recur-export-manifest-fuzz-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** The new export's files; classify_data.json is an older export's, which the manifest lists and a new one drops. */
const NAMES = ['train.py', 'README.md'];
const CONTENT: Record<string, string> = {
  'train.py': 'print("train")\n',
  'README.md': '# project\n',
  'classify_data.json': '{}\n',
  'start/model.json': '{"format": "layers-model"}\n',
  'start/weights-0123abcd.bin': 'weights',
};
const OUTSIDE = 'outside.txt';
const sha256 = (text: string | Uint8Array): string => createHash('sha256').update(text).digest('hex');

/** A fresh project whose manifest recur wrote; returns its directory and the manifest's text. */
function project(): { dir: string; manifest: string } {
  const dir = join(root, 'project');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'start'), { recursive: true });
  for (const [rel, text] of Object.entries(CONTENT)) writeFileSync(join(dir, ...rel.split('/')), text);
  writeExportManifest(dir, [...NAMES, 'classify_data.json']);
  writeFileSync(join(root, OUTSIDE), 'the user’s');
  return { dir, manifest: readFileSync(join(dir, EXPORT_MANIFEST), 'utf8') };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A structural damage of the manifest: its format, its files' type, one entry's path or hash. */
function damageStructure(manifest: string, rng: Random): { name: string; text: string } {
  const m = JSON.parse(manifest) as { format: Json; files: Record<string, Json> };
  const rels = Object.keys(m.files);
  const rel = rels[rng.int(rels.length)];
  const odd: Json[] = [null, 0, 1e308, 'NaN', '', true, [], {}, ['train.py'], sha256('x'), m.files[rel]];
  switch (rng.int(7)) {
    case 0:
      m.format = odd[rng.int(odd.length)];
      return { name: `format = ${JSON.stringify(m.format)}`, text: JSON.stringify(m) };
    case 1:
      m.files = odd[rng.int(odd.length)] as Record<string, Json>;
      return { name: `files = ${JSON.stringify(m.files)}`, text: JSON.stringify(m) };
    case 2:
      m.files[rel] = odd[rng.int(odd.length)];
      return { name: `files[${rel}] = ${JSON.stringify(m.files[rel])}`, text: JSON.stringify(m) };
    case 3: {
      // The hash of a file outside the project, under a path that reaches it, or under __proto__.
      const path = ['../outside.txt', '..', '/etc/hostname', '__proto__', 'start', 'start/../train.py'][
        rng.int(6)
      ];
      m.files[path] = sha256('the user’s');
      return { name: `files[${path}] added`, text: JSON.stringify(m) };
    }
    case 4:
      delete m.files[rel];
      return { name: `files[${rel}] deleted`, text: JSON.stringify(m) };
    case 5:
      return { name: 'BOM', text: '\ufeff' + manifest };
    default:
      return { name: 'CRLF', text: manifest.replace(/\n/g, '\r\n') };
  }
}

/** What a parsed manifest lists, as the loader must read it (null: not recur's). */
function listed(bytes: Uint8Array): Record<string, unknown> | null {
  try {
    const m = JSON.parse(new TextDecoder().decode(bytes)) as { format?: unknown; files?: unknown } | null;
    if (m?.format !== 'recur-export-manifest-1' || m.files === null || typeof m.files !== 'object')
      return null;
    return m.files as Record<string, unknown>;
  } catch {
    return null;
  }
}

describe('recur-export.json (seeded fuzz)', () => {
  it(`${MUTATIONS} damaged manifests: files are recur's only when listed with their hash; nothing else is deleted`, () => {
    const rng = new Random(SEED);
    for (let c = 0; c < MUTATIONS; c++) {
      const { dir, manifest } = project();
      const damage =
        rng.next() < 0.5
          ? mutateBytes(new TextEncoder().encode(manifest), rng)
          : ((d) => ({ name: d.name, bytes: new TextEncoder().encode(d.text) }))(
              damageStructure(manifest, rng),
            );
      const where = `seed ${SEED} case ${c} (${damage.name})`;
      writeFileSync(join(dir, EXPORT_MANIFEST), damage.bytes);
      const files = listed(damage.bytes);
      const ours = (rel: string): boolean =>
        files !== null && Object.hasOwn(files, rel) && files[rel] === sha256(readFileSync(join(dir, rel)));

      const foreign = foreignExportFile(dir, NAMES);
      if (files === null) assert.equal(foreign, EXPORT_MANIFEST, `${where}: a manifest recur did not write`);
      else if (foreign === null)
        for (const rel of [...NAMES, 'start/model.json', 'start/weights-0123abcd.bin'])
          assert.ok(ours(rel), `${where}: ${rel} taken for recur's`);
      else assert.ok(!ours(foreign), `${where}: ${foreign} refused, though recur's`);

      const before = new Map(Object.keys(CONTENT).map((rel) => [rel, readFileSync(join(dir, rel), 'utf8')]));
      const removed = removeStaleExportFiles(dir, NAMES);
      assert.ok(existsSync(join(root, OUTSIDE)), `${where}: deleted a file outside the project`);
      for (const rel of Object.keys(CONTENT)) {
        if (existsSync(join(dir, rel))) continue;
        assert.ok(rel === 'classify_data.json' && files !== null, `${where}: deleted ${rel}`);
        assert.equal(files[rel], sha256(before.get(rel)!), `${where}: deleted ${rel}, its hash not listed`);
      }
      assert.deepEqual(
        removed,
        existsSync(join(dir, 'classify_data.json')) ? [] : [join(dir, 'classify_data.json')],
        where,
      );
      assert.deepEqual(readdirSync(join(dir, 'start')).sort(), ['model.json', 'weights-0123abcd.bin'], where);
    }
  });

  it("an undamaged manifest: the project is recur's and the older export's file goes", () => {
    const { dir } = project();
    assert.equal(foreignExportFile(dir, NAMES), null);
    assert.deepEqual(removeStaleExportFiles(dir, NAMES), [join(dir, 'classify_data.json')]);
  });
});
