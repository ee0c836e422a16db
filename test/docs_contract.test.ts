/**
 * README.md and ARCHITECTURE.md as a contract with the code: every option a command's --help lists is documented in
 * the README, every flag on a README command line is one that command takes, the repository paths and BENCHMARKS.md
 * sections the two documents cite exist, and the README's TypeScript samples type-check against the built package.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(root, 'dist', 'src', 'cli', 'main.js');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const architecture = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');

/** A command's --help text ('' for `recur` itself). */
function helpText(command: string): string {
  const words = command === '' ? [] : command.split(' ');
  const r = spawnSync(process.execPath, [CLI, ...words, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** The long option names (`--epochs`) a --help text lists. */
function helpOptions(help: string): Set<string> {
  const names = new Set<string>();
  for (const line of help.split('\n')) {
    const m = /^ {2}(?:-[a-zA-Z], )?(--[a-z0-9-]+)/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}

/** The subcommands a --help text lists under "Commands:" (without `help`). */
function subcommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z0-9-]+)/gm)].map((m) => m[1]).filter((c) => c !== 'help');
}

/** Every command as typed after `recur` (`classify train`), with its --help text, found from `recur --help` down. */
const helps = new Map<string, string>();
for (const pending = ['']; pending.length > 0;) {
  const command = pending.pop()!;
  const help = helpText(command);
  if (command !== '') helps.set(command, help);
  for (const sub of subcommands(help)) pending.push(command === '' ? sub : `${command} ${sub}`);
}
/** The commands with options of their own (a group such as `classify` has only --help). */
const options = new Map(
  [...helps]
    .map(([c, help]) => [c, helpOptions(help)] as const)
    .filter(([, flags]) => [...flags].some((f) => f !== '--help')),
);

/** Whether the text names the flag exactly (`--lr` is not named by `--lr-factor`). */
function names(text: string, flag: string): boolean {
  return new RegExp(`${flag}(?![a-z0-9-])`).test(text);
}

/** Splits a shell command line into words, keeping quoted strings whole; a `#` outside quotes starts a comment. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote: string | null = null;
  let inWord = false;
  for (const c of line) {
    if (quote !== null) {
      if (c === quote) quote = null;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '#' && !inWord) {
      break;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** The `recur …` invocations of the README's shell blocks, as the command (`classify train`) and its words. */
function readmeInvocations(): { command: string; words: string[]; line: string }[] {
  const found: { command: string; words: string[]; line: string }[] = [];
  for (const block of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = block[1].replace(/\\\n\s*/g, ' ').split('\n');
    for (const line of lines) {
      for (const part of line.split(/&&|\||;/)) {
        const words = shellWords(part);
        const at = words[0] === 'npx' ? 1 : 0;
        if (words[at] !== 'recur') continue;
        const rest = words.slice(at + 1);
        const two = rest.slice(0, 2).join(' ');
        const command = options.has(two) ? two : rest[0];
        if (!options.has(command)) continue;
        found.push({ command, words: rest.slice(command.split(' ').length), line: line.trim() });
      }
    }
  }
  return found;
}

describe('README and --help agree', () => {
  it('every option of every command is documented in the README', () => {
    const undocumented: string[] = [];
    for (const [command, flags] of options)
      for (const flag of flags)
        if (flag !== '--help' && !names(readme, flag)) undocumented.push(`recur ${command} ${flag}`);
    assert.deepEqual(undocumented, []);
  });

  it('every command lists options, and states each default as it is typed', () => {
    const shown: string[] = [];
    assert.ok(
      options.size >= 16,
      `only ${options.size} commands with options: ${[...options.keys()].join(', ')}`,
    );
    for (const [command, help] of helps) {
      // A list flag's default printed as a JavaScript array ([0.2,0.5,1,1.2]) is not what the flag accepts.
      for (const m of help.replace(/\s+/g, ' ').matchAll(/\(default: \[[^\]]*\]\)/g))
        shown.push(`recur ${command}: ${m[0]}`);
    }
    assert.deepEqual(shown, []);
  });

  it("every flag on a README command line is one of that command's options", () => {
    const invocations = readmeInvocations();
    assert.ok(invocations.length > 40, `only ${invocations.length} recur command lines found in the README`);
    const unknown: string[] = [];
    for (const { command, words, line } of invocations) {
      const flags = options.get(command);
      assert.ok(flags);
      for (const w of words)
        if (w.startsWith('--') && !flags.has(w.split('=')[0])) unknown.push(`${w} in: ${line}`);
    }
    assert.deepEqual(unknown, []);
  });
});

describe('what README.md and ARCHITECTURE.md cite exists', () => {
  it('repository paths', () => {
    const missing: string[] = [];
    for (const [doc, text] of [
      ['README.md', readme],
      ['ARCHITECTURE.md', architecture],
    ]) {
      for (const m of text.matchAll(
        /(?<![\w/.-])(?:src|test|bench|scripts|examples|assembly)\/[A-Za-z0-9_./*<>-]*/g,
      )) {
        const path = m[0].replace(/[.,:;]+$/, '');
        if (/[*<>]/.test(path)) continue; // a pattern (test/cli*.test.ts, src/cli/<command>.ts), not a file
        if (!existsSync(join(root, path))) missing.push(`${doc}: ${path}`);
      }
      for (const m of text.matchAll(/\]\(([^)#]+)(#[^)]*)?\)/g))
        if (!/^[a-z]+:/.test(m[1]) && !existsSync(join(root, m[1]))) missing.push(`${doc}: link ${m[1]}`);
    }
    assert.deepEqual(missing, []);
  });

  it('the BENCHMARKS.md sections the README names', () => {
    const benchmarks = readFileSync(join(root, 'BENCHMARKS.md'), 'utf8').replace(/\s+/g, ' ');
    const flat = readme.replace(/\s+/g, ' ');
    const titles = [...flat.matchAll(/BENCHMARKS\.md,? \(?"([^"]+)"/g)].map((m) => m[1]);
    assert.ok(titles.length >= 5, `only ${titles.length} sections cited`);
    assert.deepEqual(
      titles.filter((t) => !benchmarks.includes(t)),
      [],
    );
  });
});

describe("the README's TypeScript samples", () => {
  mkdirSync(join(root, 'dist'), { recursive: true });
  const dir = mkdtempSync(join(root, 'dist', 'readme-samples-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

  it('type-check against the built package (names a sample leaves to the reader aside)', () => {
    assert.ok(blocks.length >= 5, `only ${blocks.length} samples found`);
    // Each sample is its own module (top-level await), importing `recur` by name as an application would.
    const files = blocks.map((code, i) => {
      const file = join(dir, `sample${i + 1}.ts`);
      writeFileSync(file, `${code}\nexport {};\n`);
      return file;
    });
    const program = ts.createProgram(files, {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
      skipLibCheck: true,
    });
    // A sample uses values it does not define (vocabSize, windows, the user's tensors): "Cannot find name" is expected.
    const undefinedName = new Set([2304, 2552]);
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => !undefinedName.has(d.code))
      .map((d) => {
        const where = d.file ? `${d.file.fileName.slice(dir.length + 1)}: ` : '';
        return where + ts.flattenDiagnosticMessageText(d.messageText, ' ');
      });
    assert.deepEqual(problems, []);
  });
});
