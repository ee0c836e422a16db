/** What the JSON fuzz tests walk and mutate: a parsed JSON value, the path of every node in it, damaged copies. */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Random } from '../src/core/random.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The path (keys and indices from the root) of every node of `v`, the root's (empty) first, depth first. */
export function jsonPaths(
  v: Json,
  path: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(path);
  if (Array.isArray(v)) v.forEach((x, i) => jsonPaths(x, [...path, i], out));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) jsonPaths(x, [...path, k], out);
  return out;
}

/** Another value for a field: other types, numbers out of range or off by one, strings and lists changed. */
export function oddValue(rng: Random, old: Json): Json | undefined {
  const choices: (Json | undefined)[] = [
    undefined,
    null,
    true,
    '',
    'NaN',
    'x',
    -1,
    0,
    0.5,
    1e9,
    1e308,
    [],
    {},
  ];
  if (typeof old === 'number') choices.push(old + 1, old - 1, old * 2, old * 1000, old + 0.5);
  if (typeof old === 'string') choices.push(old + 'x', old.slice(1), old.toUpperCase(), 'é');
  if (typeof old === 'boolean') choices.push(!old);
  if (Array.isArray(old)) choices.push(old.slice(1), old.slice(0, -1), [...old, 'zzz'], [...old, ...old]);
  return choices[rng.int(choices.length)];
}

type Meta = Record<string, Json>;

/** A copy of model directory `dir` at `copy` whose model.json is `json`. */
function copyWithModelJson(dir: string, copy: string, json: unknown): string {
  rmSync(copy, { recursive: true, force: true });
  cpSync(dir, copy, { recursive: true });
  writeFileSync(join(copy, 'model.json'), JSON.stringify(json));
  return copy;
}

/**
 * A copy of model directory `dir` at `copy` whose userDefinedMetadata has 1–2 fields damaged (by oddValue), never
 * those under a top-level key in `spared`; returns what was done, for the assertion messages.
 */
export function damagedMetadataCopy(
  dir: string,
  copy: string,
  rng: Random,
  spared: readonly string[] = [],
): string {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { userDefinedMetadata: Meta };
  const meta = json.userDefinedMetadata;
  const what: string[] = [];
  for (let m = 0; m < 1 + rng.int(2); m++) {
    const paths = jsonPaths(meta).filter((p) => p.length > 0 && !spared.includes(String(p[0])));
    const path = paths[rng.int(paths.length)];
    const parent = path.slice(0, -1).reduce<Json>((v, k) => (v as Meta)[k], meta) as Meta | Json[];
    const key = path[path.length - 1];
    const value = oddValue(rng, (parent as Record<string | number, Json>)[key]);
    what.push(`${path.join('.')} = ${JSON.stringify(value)?.slice(0, 60)}`);
    if (value === undefined && !Array.isArray(parent)) delete (parent as Meta)[key];
    else (parent as Record<string | number, Json>)[key] = value ?? null;
  }
  copyWithModelJson(dir, copy, json);
  return what.join('; ');
}

/** A copy of model directory `dir` at `copy` with `change` made to its userDefinedMetadata. */
export function editedMetadataCopy(dir: string, copy: string, change: (m: Meta) => void): string {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { userDefinedMetadata: Meta };
  change(json.userDefinedMetadata);
  return copyWithModelJson(dir, copy, json);
}
