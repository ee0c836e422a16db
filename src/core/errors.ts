/**
 * Errors the library throws for bad input (a wrong option value, a damaged file's content): the caller's mistake,
 * not a failure while running. The CLI maps them to exit code 2.
 */
export class InvalidInputError extends Error {
  override readonly name: string = 'InvalidInputError';
}

/**
 * Names for an error message, comma-separated: all of them up to `max`, else the first `max` and how many more (a
 * model of 300 classes would otherwise make a one-line error of kilobytes).
 */
/**
 * The one wording of a path that is not there, whichever command or loader looked for it: `<path>: no such file or
 * directory`, then what was expected there when that helps (`expected` reads after "expected").
 */
export function noSuchPath(path: string, expected?: string): string {
  return `${path}: no such file or directory${expected !== undefined ? `; expected ${expected}` : ''}`;
}

export function nameList(names: readonly string[], max = 20): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} … and ${names.length - max} more`;
}

/**
 * A value as an error message shows what it was given: JSON where that is faithful, else what JavaScript would print
 * (JSON.stringify shows NaN and ±Infinity as null and undefined as nothing, so "got null" hid a NaN).
 */
export function describeValue(v: unknown): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (v === undefined || typeof v === 'bigint' || typeof v === 'symbol') return String(v);
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return `[${v.map(describeValue).join(',')}]`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
