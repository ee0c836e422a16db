/**
 * The `Note:` lines a run prints when it goes on other than asked (a resume on other --threads than the run's) are
 * not results: with --json they stay on stderr as text (stdout holds only JSON lines); --quiet silences them. They
 * used to be dropped with --json, so a script never learnt its resumed run might differ from the uninterrupted one.
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

describe('Note: lines with --json and --quiet', () => {
  it('recur train --resume on other --threads: the note is on stderr with --json, stdout all JSON; none with -q', () => {
    const text = join(dir, 'book.txt');
    writeFileSync(text, pseudoText(3000, 1));
    const flags = [...TINY_TEXT_MODEL, '--steps-per-epoch', '2', '--seed', '5', '--no-samples'];
    const out = join(dir, 'run');
    // TINY_TEXT_MODEL trains on one thread.
    assert.equal(runCli(['train', text, '--out', out, ...flags, '--epochs', '1', '-q']).code, 0);
    const note = /Note: resuming on --threads 2, where the run trained on 1/;
    const json = runCli([
      'train',
      text,
      '--out',
      out,
      '--resume',
      '--epochs',
      '2',
      '--threads',
      '2',
      '--json',
    ]);
    assert.equal(json.code, 0, json.stderr);
    assert.match(json.stderr, note);
    const lines = json.stdout.trim().split('\n');
    assert.ok(lines.length >= 1, json.stdout);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line) as unknown, line);
    const quiet = runCli(['train', text, '--out', out, '--resume', '--epochs', '3', '--threads', '2', '-q']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /Note:/);
  });
});
