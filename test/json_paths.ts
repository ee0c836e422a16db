/** What the JSON fuzz tests walk and mutate: a parsed JSON value, and the path of every node in it. */
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
