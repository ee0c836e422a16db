/**
 * How the CLI talks: human text on stderr/stdout, or one JSON object per line with --json; --quiet silences all but
 * notes, errors and results. Errors end in one line on stderr and an exit code (reportError).
 */
import { InvalidInputError, noSuchPath } from '../core/errors.js';
import { writeAboveBars } from '../node/terminal_bar.js';
import { TextFileError } from '../node/text_file.js';
import { ChunkedText } from '../text/chunked_text.js';

/** Bad usage or bad input: exit code 2. */
export class UsageError extends Error {}

/** What a file-system error code means for the user; these are bad input (exit 2), not failures while running. */
const FS_INPUT_ERRORS: Record<string, (path: string) => string> = {
  ENOENT: (path) => noSuchPath(path),
  EISDIR: (path) => `${path}: is a directory, where a file was expected`,
  ENOTDIR: (path) => `${path}: is not a directory (or a part of the path is a file)`,
  EEXIST: (path) => `${path}: already exists and is not a directory`,
  EACCES: (path) => `${path}: permission denied`,
  EPERM: (path) => `${path}: operation not permitted`,
  ENAMETOOLONG: (path) => `${path}: name too long`,
};

/**
 * Prints an error as one line `recur: message` on stderr (the stack only with --debug) and returns the exit code:
 * 2 for bad usage or input (UsageError, the library's InvalidInputError, an unreadable text file, a path that is missing or of the wrong kind), 1 for
 * a failure while running.
 */
export function reportError(e: unknown, debug: boolean): number {
  const err = e instanceof Error ? e : new Error(String(e));
  const fs = err as NodeJS.ErrnoException;
  const fsMeaning = typeof fs.code === 'string' ? FS_INPUT_ERRORS[fs.code] : undefined;
  let message = err.message;
  if (fsMeaning !== undefined && typeof fs.path === 'string') message = fsMeaning(fs.path);
  // A worker's error arrives with its stack in the message: keep only the text.
  else
    message = message
      .split('\n')
      .filter((l) => !/^\s+at /.test(l))
      .join('\n')
      .trim();
  // Above a progress bar still drawn (the error ended the work under it), not into its line.
  writeAboveBars(process.stderr, `recur: ${message || err.name}\n`);
  if (debug && err.stack) writeAboveBars(process.stderr, `${err.stack}\n`);
  return err instanceof UsageError ||
    err instanceof InvalidInputError ||
    err instanceof TextFileError ||
    fsMeaning !== undefined
    ? 2
    : 1;
}

export interface Output {
  /** Whether to draw a progress bar. */
  readonly progress: boolean;
  /** What the run is doing (a banner, a saved checkpoint): on stderr; none with --json or --quiet. */
  info(line: string): void;
  /**
   * A note: the run goes on other than asked or expected (another --threads than the run's, a loader's fallback, an
   * older flag name). One rule for every command: `note: TEXT` on stderr, or with --json the line `{"note": TEXT}` on
   * stderr (not a result, so not on stdout, which holds only results); --quiet keeps it, as a warning to be seen.
   * TEXT is without the `note: ` prefix.
   */
  note(text: string): void;
  /** A failure the run goes on past (a series that cannot be forecast): --quiet keeps it, --json has it in its records. */
  error(line: string): void;
  /** A text sample; with --json one line `{sample: title, ...fields, text}` (fields: what made it, e.g. its temperature). */
  sample(title: string, text: string, fields?: Record<string, unknown>): void;
  json(obj: Record<string, unknown>): void;
}

export function makeOutput(opts: { quiet?: boolean; json?: boolean }): Output {
  const json = opts.json === true;
  const quiet = opts.quiet === true;
  return {
    progress: !json && !quiet,
    // Notes and errors go above a progress bar being drawn, not into its line.
    info: (line) => {
      if (!json && !quiet) writeAboveBars(process.stderr, line + '\n');
    },
    note: (text) =>
      writeAboveBars(process.stderr, (json ? JSON.stringify({ note: text }) : `note: ${text}`) + '\n'),
    error: (line) => {
      if (!json) writeAboveBars(process.stderr, line + '\n');
    },
    sample: (title, text, fields = {}) => {
      if (json)
        process.stdout.write(JSON.stringify({ sample: title.replace(/^-+ /, ''), ...fields, text }) + '\n');
      else if (!quiet) process.stdout.write(`${title}\n${text}\n\n`);
    },
    json: (obj) => {
      if (json) process.stdout.write(JSON.stringify(obj) + '\n');
    },
  };
}

/** The chunk size for a command's result lines, written when they are all known (64 K characters). */
export const OUTPUT_CHUNK_CHARS = 1 << 16;

/** Text for stdout in chunks (ChunkedText): by default 256 characters or 20 ms, for text streamed as it is made. */
export function stdoutChunks(maxChars = 256, maxMs = 20): ChunkedText {
  return new ChunkedText((chunk) => process.stdout.write(chunk), maxChars, maxMs);
}
