/**
 * One rule for every note (the run goes on other than asked or expected), whichever command says it: `note: TEXT` on
 * stderr; with --json the line `{"note": TEXT}` on stderr (stdout holds only results); --quiet keeps it. Notes used to
 * come in two styles: `Note: …` (a resume on other --threads), on stderr as text even with --json, none with -q; and
 * `note: …` (a loader's, forecast's), dropped with --json and -q, so a script never learnt of them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pseudoText, runCli, TINY_TEXT_MODEL } from './cli_helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'recur-cli-notes-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs `recur ARGS…` plain, with --json and with -q (`args(how)`: the flags for each run) and checks the note matching
 * `note` is said by the rule.
 */
function assertNoteRule(args: (how: 'plain' | 'json' | 'quiet') => string[], note: RegExp): void {
  const plain = runCli([...args('plain')]);
  assert.equal(plain.code, 0, plain.stderr);
  const said = plain.stderr.split('\n').filter((l) => note.test(l));
  assert.equal(said.length, 1, plain.stderr);
  assert.ok(said[0].startsWith('note: '), said[0]);
  const text = said[0].slice('note: '.length);

  const json = runCli([...args('json'), '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.ok(json.stderr.split('\n').includes(JSON.stringify({ note: text })), json.stderr);
  // stdout holds only results: JSON lines, none a note.
  for (const line of json.stdout.trim().split('\n')) {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.equal(parsed.note, undefined, line);
  }

  const quiet = runCli([...args('quiet'), '-q']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.ok(quiet.stderr.split('\n').includes(`note: ${text}`), quiet.stderr);
}

describe('notes: one rule with --json and --quiet', () => {
  it('a resumed run on other --threads (once a `Note:`)', () => {
    const text = join(dir, 'book.txt');
    writeFileSync(text, pseudoText(3000, 1));
    const flags = [...TINY_TEXT_MODEL, '--steps-per-epoch', '2', '--seed', '5', '--no-samples'];
    // A run for each way of saying the note: resumed, its checkpoint records the new count (no note the next time).
    const out = (how: string): string => join(dir, `run-${how}`);
    // TINY_TEXT_MODEL trains on one thread.
    for (const how of ['plain', 'json', 'quiet'])
      assert.equal(runCli(['train', text, '--out', out(how), ...flags, '--epochs', '1', '-q']).code, 0);
    assertNoteRule(
      (how) => ['train', text, '--out', out(how), '--resume', '--epochs', '2', '--threads', '2'],
      /resuming on --threads 2, where the run trained on 1/,
    );
  });

  it("forecast's other numeric columns (once a `note:` left out with --json and -q)", () => {
    const csv = join(dir, 'two-columns.csv');
    const rows = Array.from(
      { length: 36 },
      (_, t) =>
        `${2000 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')},${t % 5},${100 + t + (t % 12)}`,
    );
    writeFileSync(csv, 'month,other,value\n' + rows.join('\n') + '\n');
    assertNoteRule(
      () => ['forecast', csv, '--method', 'theta', '--holdout', '0'],
      /has other numeric columns \(other\); forecasting 'value'/,
    );
  });

  it('an older flag name (once `recur: note:`, on stderr as text with --json)', () => {
    const csv = join(dir, 'older.csv');
    const rows = Array.from({ length: 36 }, (_, t) => `${t},${100 + t + (t % 12)}`);
    writeFileSync(csv, 'index,value\n' + rows.join('\n') + '\n');
    assertNoteRule(
      (how) => [
        'forecast',
        csv,
        '--season',
        '1',
        '--method',
        'theta',
        '--holdout',
        '0',
        '--save',
        join(dir, `older-${how}`),
      ],
      /--save is now --out/,
    );
  });
});
