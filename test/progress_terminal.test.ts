/**
 * Progress bars on a terminal: what is left on the screen once the bar is done, when a note or error is written while
 * it is drawn, when Ctrl-C ends the process under it, and that `classify eval` / `classify predict` draw one over their
 * texts. The screen is replayed from the bytes written (a small terminal model), as a user would see it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { BatchProgress, progressBar } from '../src/node/callbacks.js';
import { makeOutput } from '../src/cli/output.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(DIST, 'src', 'cli', 'main.js');

/**
 * The lines a terminal `width` columns wide shows after `bytes` (a line feed also returns the carriage, as a terminal's
 * output processing does), and whether line wrapping was left off.
 */
function screen(bytes: string, width = 60): { lines: string[]; wrapOff: boolean } {
  const lines: string[][] = [[]];
  let row = 0;
  let col = 0;
  let wrap = true;
  let saved: [number, number] = [0, 0];
  const at = (r: number): string[] => {
    while (lines.length <= r) lines.push([]);
    return lines[r];
  };
  for (let i = 0; i < bytes.length; i++) {
    const ch = bytes[i];
    if (ch === '\x1b') {
      // eslint-disable-next-line no-control-regex -- a terminal escape is what is matched
      const m = /^\x1b(?:\[(\??)(\d*)([A-Za-z])|([78]))/.exec(bytes.slice(i));
      if (!m) continue;
      i += m[0].length - 1;
      if (m[4] === '7') saved = [row, col];
      else if (m[4] === '8') [row, col] = saved;
      else if (m[1] === '?' && m[2] === '7') wrap = m[3] === 'h';
      else if (m[3] === 'K') {
        const line = at(row);
        if (m[2] === '2') line.length = 0;
        else line.length = Math.min(line.length, col);
      } else if (m[3] === 'G') col = Math.max(0, Number(m[2] || '1') - 1);
      continue;
    }
    if (ch === '\r') col = 0;
    else if (ch === '\n') {
      row++;
      col = 0;
    } else {
      if (col >= width) {
        if (wrap) {
          row++;
          col = 0;
        } else col = width - 1;
      }
      const line = at(row);
      while (line.length < col) line.push(' ');
      line[col++] = ch;
    }
  }
  at(row);
  return { lines: lines.map((l) => l.join('').trimEnd()), wrapOff: !wrap };
}

let written = '';
/** What the fake terminal of onFakeTerminal has received so far. */
function bytesSoFar(): string {
  return written;
}

/** Runs `f` with process.stderr a terminal `width` wide whose bytes are collected; returns them. */
async function onFakeTerminal(f: () => Promise<void> | void, width = 60): Promise<string> {
  const stderr = process.stderr as NodeJS.WriteStream & { isTTY: boolean; columns: number };
  const saved = { write: stderr.write, isTTY: stderr.isTTY, columns: stderr.columns };
  let bytes = '';
  stderr.write = ((chunk: string | Uint8Array): boolean => {
    bytes += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    written = bytes;
    return true;
  }) as typeof stderr.write;
  stderr.isTTY = true;
  stderr.columns = width;
  try {
    await f();
  } finally {
    stderr.write = saved.write;
    stderr.isTTY = saved.isTTY;
    stderr.columns = saved.columns;
  }
  return bytes;
}

describe('progress bar on a terminal', () => {
  it('leaves an empty line when done, and a note written meanwhile above it, whole', async () => {
    const bytes = await onFakeTerminal(() => {
      const out = makeOutput({});
      out.info('first line');
      const bar = progressBar(' {value}/{total} [{bar}] ETA {eta_formatted}');
      bar.start(10, 0, {});
      bar.update(4);
      out.info('a note while the bar is drawn');
      bar.update(7);
      out.error('an error line too');
      bar.update(10);
      bar.stop();
      out.info('after');
    });
    const { lines, wrapOff } = screen(bytes);
    assert.deepEqual(lines, [
      'first line',
      'a note while the bar is drawn',
      'an error line too',
      'after',
      '',
    ]);
    assert.equal(wrapOff, false, 'line wrapping must not be left off');
  });

  it('cuts a line wider than the terminal instead of wrapping it', async () => {
    const bytes = await onFakeTerminal(() => {
      const bar = progressBar(' {value}/{total} [{bar}] - {name}');
      bar.start(10, 0, { name: 'x'.repeat(200) });
      bar.update(10);
      bar.stop();
    }, 40);
    // The screen before the bar's last clearing: one line, cut short of the width.
    const shown = screen(bytes.slice(0, bytes.lastIndexOf('\r')), 40).lines;
    assert.equal(shown.length, 1, shown.join('\n'));
    assert.ok(shown[0].length < 40 && shown[0].startsWith(' 10/10 [='), shown[0]);
    assert.deepEqual(screen(bytes, 40).lines, ['']);
  });

  it('draws a shorter {bar} before cutting the end of a line too wide (down to 10 characters, then cuts)', async () => {
    const lines: string[] = [];
    await onFakeTerminal(() => {
      for (const name of ['n'.repeat(35), 'n'.repeat(50)]) {
        const bar = progressBar(` ${name} {value}/{total} [{bar}] - loss {loss}`);
        bar.start(10, 5, { loss: '0.1234' });
        lines.push((bar as unknown as { line(): string }).line());
        bar.stop();
      }
    }, 80);
    // 30 columns of bar would take the line to 88: 21 of them fit in 79, and the loss is whole.
    assert.equal(lines[0], ` ${'n'.repeat(35)} 5/10 [${'='.repeat(11)}${'.'.repeat(10)}] - loss 0.1234`);
    // Not even 10 columns fit: the line is cut at its end, its bar of 10.
    assert.equal(lines[1], ` ${'n'.repeat(50)} 5/10 [=====.....] - loss 0.`);
  });

  it('fills {speed} (items per second) and {eta_formatted}, as the forecast backtest and global bars use them', async () => {
    let line = '';
    await onFakeTerminal(async () => {
      const bar = progressBar(' backtest {value}/{total} fits [{bar}] ETA {eta_formatted} - {speed} fits/s');
      bar.start(20, 0, {});
      await new Promise((resolve) => setTimeout(resolve, 60));
      bar.update(10);
      line = (bar as unknown as { line(): string }).line();
      bar.stop();
    }, 120);
    assert.match(line, /^ backtest 10\/20 fits \[=+\.+\] ETA 0:\d\d - [\d.,]+ fits\/s$/);
  });

  it("keeps a caller's own {speed}: training's bar shows samples/s, not batches/s", async () => {
    let line = '';
    await onFakeTerminal(async () => {
      // One batch of one: its end is drawn at once.
      const progress = new BatchProgress(1, 'samples', process.stderr, true);
      await new Promise((resolve) => setTimeout(resolve, 20));
      // One batch of a million rows: a million samples over well under ten seconds, whatever the machine.
      progress.add(0, { loss: 2, size: 1_000_000 });
      line = screen(bytesSoFar(), 120).lines[0];
      progress.stop();
    }, 120);
    assert.match(line, /loss: 2\.0000 - \d{1,3}(,\d{3})+ samples\/s$/);
  });

  it('is cleared when Ctrl-C ends the process under it, which still dies by the signal', () => {
    const script = `
      const { progressBar } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'src', 'node', 'callbacks.js')).href)});
      process.stderr.isTTY = true;
      process.stderr.columns = 60;
      const bar = progressBar(' {value}/{total} [{bar}] ETA {eta_formatted}');
      bar.start(1000, 0, {});
      bar.update(5);
      setInterval(() => bar.increment(1), 5);
      setTimeout(() => process.kill(process.pid, 'SIGINT'), 100);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.signal, 'SIGINT', `status ${r.status}: ${r.stderr}`);
    const { lines, wrapOff } = screen(r.stderr);
    assert.deepEqual(lines, [''], JSON.stringify(r.stderr.slice(-200)));
    assert.equal(wrapOff, false);
  });

  it('lets Ctrl-C end synchronous work under a bar at once (withSignalBreaks)', async () => {
    const script = `
      const url = ${JSON.stringify(pathToFileURL(join(DIST, 'src', 'node', 'terminal_bar.js')).href)};
      const { TerminalBar, withSignalBreaks } = await import(url);
      process.stderr.isTTY = true;
      const bar = new TerminalBar(' {value}/{total}');
      bar.start(400, 0, {});
      console.log('started');
      for await (const i of withSignalBreaks(Array.from({ length: 400 }, (_, i) => i))) {
        const until = Date.now() + 25;
        while (Date.now() < until);
        bar.update(i + 1);
      }
      console.log('finished');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const started = Date.now();
    const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('started')) child.kill('SIGINT');
    });
    const signal = await ended;
    assert.equal(signal, 'SIGINT');
    assert.ok(!stdout.includes('finished'));
    // 400 × 25 ms = 10 s of work: the signal must be taken within the next break.
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.deepEqual(screen(stderr).lines, ['']);
  });
});

/** `script` runs a command on a pseudo-terminal (util-linux); without it the terminal tests of the CLI are skipped. */
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));

/** `recur ARGS` on a terminal (`columns` wide), stdout to a file in `dir`: what the terminal showed, and the file. */
function onTerminal(
  dir: string,
  args: string[],
  columns = 80,
): { terminal: string; stdout: string; status: number | null } {
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const outFile = join(dir, 'stdout.txt');
  const command =
    `stty cols ${columns}; ` + [process.execPath, CLI, ...args].map(quote).join(' ') + ` > ${quote(outFile)}`;
  const r = spawnSync(SCRIPT!, ['-qc', command, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
  return { terminal: r.stdout, stdout: readFileSync(outFile, 'utf8'), status: r.status };
}

describe('classify eval and predict on a terminal', { skip: SCRIPT === undefined && 'no script(1)' }, () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-progress-'));
    const rows = ['text,label'];
    for (let i = 0; i < 120; i++)
      rows.push(`${i % 2 ? 'good fine film' : 'bad dull plot'} number ${i},${i % 2}`);
    writeFileSync(join(dir, 'data.csv'), rows.join('\n') + '\n');
    const r = spawnSync(
      process.execPath,
      [CLI, 'classify', 'train', join(dir, 'data.csv'), '--out', join(dir, 'm'), '--epochs', '1'].concat([
        '--units',
        '4',
        '--embedding-dim',
        '4',
        '--threads',
        '1',
        '-q',
      ]),
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [name, args] of [
    [
      'eval',
      (d: string) => ['classify', 'eval', join(d, 'm'), join(d, 'data.csv'), '-b', '4', '--threads', '1'],
    ],
    [
      'predict',
      (d: string) => [
        'classify',
        'predict',
        join(d, 'm'),
        '--input',
        join(d, 'data.csv'),
        '-b',
        '4',
        '--threads',
        '1',
      ],
    ],
  ] as const)
    it(`${name} draws a bar over the texts, then clears it; --quiet and --json draw none`, () => {
      const shown = onTerminal(dir, args(dir));
      assert.equal(shown.status, 0, shown.terminal);
      assert.match(shown.terminal, /\/120 texts \[[=.]+\] - ETA: [\d:-]+ - [\d,-]+ texts\/s/);
      assert.deepEqual(screen(shown.terminal.replace(/\r\n/g, '\n')).lines.slice(-1), ['']);
      for (const flag of ['--quiet', '--json']) {
        const silent = onTerminal(dir, [...args(dir), flag]);
        assert.equal(silent.status, 0, silent.terminal);
        assert.doesNotMatch(silent.terminal, /texts \[/, flag);
      }
    });
  it("eval of an ensemble draws a bar for each member's own pass too", () => {
    const ens = join(dir, 'ens');
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'classify',
        'train',
        join(dir, 'data.csv'),
        '--out',
        ens,
        '--epochs',
        '1',
        '--ensemble',
        '2',
      ].concat(['--units', '4', '--embedding-dim', '4', '--threads', '1', '-q']),
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const shown = onTerminal(dir, [
      'classify',
      'eval',
      ens,
      join(dir, 'data.csv'),
      '-b',
      '4',
      '--threads',
      '1',
    ]);
    assert.equal(shown.status, 0, shown.terminal);
    for (const member of ['1/2', '2/2'])
      assert.match(shown.terminal, new RegExp(`member ${member} \\d+/120 texts \\[`));
    assert.match(shown.stdout, /each member alone/);
  });
});

describe('forecast predict on a terminal', { skip: SCRIPT === undefined && 'no script(1)' }, () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-progress-fc-'));
    // 40 made-up monthly series (an index column): 3 train a panel forecaster, all 40 are forecast with it.
    const rows = ['id,t,value'];
    for (let s = 0; s < 40; s++)
      for (let t = 1; t <= 48; t++)
        rows.push(
          `S${s},${t},${(100 + s + 10 * Math.sin((2 * Math.PI * t) / 12) + 0.5 * t + ((t * 7 + s * 3) % 5)).toFixed(3)}`,
        );
    writeFileSync(join(dir, 'all.csv'), rows.join('\n') + '\n');
    writeFileSync(join(dir, 'three.csv'), rows.slice(0, 1 + 3 * 48).join('\n') + '\n');
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'forecast',
        join(dir, 'three.csv'),
        '--id-column',
        'id',
        '--season',
        '12',
        '--horizon',
        '6',
      ].concat([
        '--candidates',
        'ets,theta',
        '--holdout',
        '0',
        '--out',
        join(dir, 'fc'),
        '-q',
        '--threads',
        '1',
      ]),
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('draws a bar over the series (ETA, series/s), then clears it; --json draws none', () => {
    const args = ['forecast', 'predict', join(dir, 'fc'), join(dir, 'all.csv')];
    const shown = onTerminal(dir, args);
    assert.equal(shown.status, 0, shown.terminal);
    assert.match(shown.terminal, /\/40 series \[[=.]+\] - ETA: [\d:-]+ - [\d.,-]+ series\/s/);
    assert.match(shown.stdout, /^S39 /m);
    const json = onTerminal(dir, [...args, '--json']);
    assert.equal(json.status, 0, json.terminal);
    assert.doesNotMatch(json.terminal, /series \[/);
    for (const line of json.stdout.trim().split('\n')) JSON.parse(line);
  });
});

describe('forecast backtest on a terminal', { skip: SCRIPT === undefined && 'no script(1)' }, () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-progress-bt-'));
    const rows = ['t,value'];
    for (let t = 1; t <= 60; t++)
      rows.push(`${t},${(100 + 10 * Math.sin((2 * Math.PI * t) / 12) + 0.5 * t + ((t * 7) % 5)).toFixed(3)}`);
    writeFileSync(join(dir, 'one.csv'), rows.join('\n') + '\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("shows the candidate's whole name on 80 columns, then clears the bar", () => {
    const args = ['forecast', join(dir, 'one.csv'), '--season', '12', '--horizon', '6'];
    const shown = onTerminal(dir, [...args, '--candidates', 'theta,seasonal naive', '--threads', '1'], 80);
    assert.equal(shown.status, 0, shown.terminal);
    const bars = shown.terminal
      .split(/[\r\n]+/)
      // eslint-disable-next-line no-control-regex -- the bar's clearing escape is what is dropped
      .map((l) => l.replace(/\x1b\[2K/g, ''))
      .filter((l) => l.startsWith(' backtest '));
    assert.ok(bars.length > 0, shown.terminal);
    for (const bar of bars) assert.ok(bar.length < 80, bar);
    // The last fit drawn (a bar is always drawn at its end) is seasonal naive's last fold.
    assert.match(bars[bars.length - 1], /backtest seasonal naive: (\d+)\/\1 fits \[=+\]/);
    assert.deepEqual(screen(shown.terminal.replace(/\r\n/g, '\n'), 80).lines.slice(-1), ['']);
  });
});

describe('forecast global network on a terminal', { skip: SCRIPT === undefined && 'no script(1)' }, () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-progress-global-'));
    const rows = ['id,month,value'];
    for (const id of ['a', 'b', 'c'])
      for (let t = 0; t < 48; t++) {
        const month = `${2000 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}`;
        rows.push(
          `${id},${month},${(100 + 10 * Math.sin((2 * Math.PI * t) / 12) + t + id.charCodeAt(0)).toFixed(3)}`,
        );
      }
    writeFileSync(join(dir, 'panel.csv'), rows.join('\n') + '\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('shows the stage, the epochs and the loss on 80 columns (the end of a line too wide is cut: it cut the loss)', () => {
    const args = [
      'forecast',
      join(dir, 'panel.csv'),
      '--id-column',
      'id',
      '--horizon',
      '6',
      '--method',
      'global',
    ];
    const shown = onTerminal(dir, [...args, '--epochs', '3', '--seeds', '1', '--threads', '1'], 80);
    assert.equal(shown.status, 0, shown.terminal);
    const bars = shown.terminal
      .split(/[\r\n]+/)
      // eslint-disable-next-line no-control-regex -- the bar's clearing escape is what is dropped
      .map((l) => l.replace(/\x1b\[2K/g, ''))
      .filter((l) => l.startsWith(' global network'));
    assert.ok(bars.length > 0, shown.terminal);
    for (const bar of bars) assert.ok(bar.length < 80, bar);
    // Each stage's bar is drawn at its last epoch, with that epoch's loss.
    assert.match(
      bars[bars.length - 1],
      /^ global network \(\w+\) (\d+)\/\1 \[=+\] ETA [\d:]+ - loss \d+\.\d{4}/,
    );
  });
});
