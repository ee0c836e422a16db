/**
 * What counts as a blank text — one with nothing to classify or decode — wherever recur refuses or skips one (the
 * CLI's arguments and stdin lines, the server's request fields), so that every path draws the line in one place.
 */

/**
 * Whitespace, control characters and the default-ignorable ones that no font draws: zero-width spaces and joiners
 * (U+200B–U+200D, U+2060), byte order marks (U+FEFF), soft hyphens, direction marks, variation selectors, tags.
 */
const INVISIBLE_ONLY = /^[\s\p{Cc}\p{Default_Ignorable_Code_Point}]*$/u;

/** Whether `text` has no visible character: empty, or only whitespace and invisible characters. */
export function isBlankText(text: string): boolean {
  return INVISIBLE_ONLY.test(text);
}
