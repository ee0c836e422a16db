/**
 * Where a JSON text goes wrong, as one line: `line 3, column 7 (unexpected "x" where a value was expected)`.
 * JSON.parse's own messages cannot be shown as they are: Node 20's "Unexpected token" message has no position and
 * quotes the text around the error, newlines and all (a multi-line error of the user's bytes). So the text is
 * scanned here, with the grammar of RFC 8259, to the first character that cannot continue it.
 */
import { InvalidInputError } from './errors.js';

/** The first syntax error of a JSON text: its offset (UTF-16 units) and what went wrong; null when the text is JSON. */
export function jsonSyntaxError(text: string): { offset: number; problem: string } | null {
  const n = text.length;
  let i = 0;
  const stack: ('{' | '[')[] = [];
  const fail = (expected: string): { offset: number; problem: string } => {
    if (i >= n) return { offset: n, problem: `the text ends where ${expected} was expected` };
    const c = String.fromCodePoint(text.codePointAt(i)!);
    return { offset: i, problem: `unexpected ${JSON.stringify(c)} where ${expected} was expected` };
  };
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  // A string from its opening quote; null when it is well formed (i then after its closing quote).
  const string = (): { offset: number; problem: string } | null => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return null;
      }
      if (c < 0x20)
        return {
          offset: i,
          problem: `${JSON.stringify(text[i])} inside a string (control characters must be escaped there)`,
        };
      if (c === 0x5c) {
        i++;
        if (i < n && text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) return fail('\\u and four hex digits');
          i += 5;
        } else if (i < n && '"\\/bfnrt'.includes(text[i])) i++;
        else return fail('an escape (\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX)');
      } else i++;
    }
    return fail('a closing quote');
  };
  const key = (): { offset: number; problem: string } | null => {
    ws();
    if (text[i] !== '"') return fail('a property name in double quotes');
    const bad = string();
    if (bad) return bad;
    ws();
    if (text[i] !== ':') return fail("':'");
    i++;
    return null;
  };
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  // Iterative (an explicit stack), so deeply nested input cannot overflow the call stack.
  for (;;) {
    // A value is expected here.
    ws();
    if (i >= n) return fail('a value');
    const c = text[i];
    let scalar = true;
    if (c === '{' || c === '[') {
      i++;
      ws();
      if (text[i] === (c === '{' ? '}' : ']')) i++;
      else {
        stack.push(c);
        if (c === '{') {
          const bad = key();
          if (bad) return bad;
        }
        scalar = false;
      }
    } else if (c === '"') {
      const bad = string();
      if (bad) return bad;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      number.lastIndex = i;
      if (!number.test(text)) return fail('a number');
      i = number.lastIndex;
    } else {
      const word = ['true', 'false', 'null'].find((w) => text.startsWith(w, i));
      if (!word) return fail('a value');
      i += word.length;
    }
    if (!scalar) continue;
    // After a value: close containers, or a comma leads to the next value.
    for (;;) {
      ws();
      const top = stack[stack.length - 1];
      if (top === undefined) return i < n ? fail('the end of the text') : null;
      if (text[i] === (top === '{' ? '}' : ']')) {
        stack.pop();
        i++;
        continue;
      }
      if (text[i] !== ',') return fail(top === '{' ? "',' or '}'" : "',' or ']'");
      i++;
      if (top === '{') {
        const bad = key();
        if (bad) return bad;
      }
      break;
    }
  }
}

/** `line 3, column 7` of an offset in a text (columns count characters, from 1). */
export function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${Array.from(before[before.length - 1]).length + 1}`;
}

/**
 * Why a text that JSON.parse refused is not JSON, as one line: `line 3, column 7 (unexpected "x" where a value was
 * expected)`. `error` is JSON.parse's error, used only if the scan finds nothing (it then loses its quoted text).
 */
export function jsonSyntaxMessage(text: string, error: unknown): { where: string; message: string } {
  const found = jsonSyntaxError(text);
  if (found) return { where: lineColumn(text, found.offset), message: found.problem };
  const raw = error instanceof Error ? error.message : String(error);
  const at = /at position (\d+)/.exec(raw);
  return {
    where: lineColumn(text, at ? Number(at[1]) : text.length),
    message: JSON.stringify(raw.split('\n')[0].replace(/, ".*$/s, '')),
  };
}

/** JSON.parse, whose error names `what` (a file, or a file and a field) and the line and column, on one line. */
export function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const { where, message } = jsonSyntaxMessage(text, e);
    throw new JsonSyntaxError(what, where, message);
  }
}

/** A text that is not JSON (bad input): `where` is its line and column, `problem` what the character there broke. */
export class JsonSyntaxError extends InvalidInputError {
  constructor(
    readonly what: string,
    readonly where: string,
    readonly problem: string,
  ) {
    super(`${what}: not valid JSON at ${where} (${problem})`);
  }
}
