/**
 * `recur serve` as an operator runs it: where `--log` writes (stderr, so stdout stays `--json`'s events), what Ctrl-C
 * says, what a second SIGTERM does, what it says it listens on, and what it says when it cannot listen (a port in use: exit 1 naming --port; a --host that is no address here: exit 2);
 * SIGUSR2 (and SIGHUP with no terminal) reloads the model directories, keeping a model that no longer loads; in a
 * terminal SIGHUP ends the server, as the terminal closing means.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir, type NetworkInterfaceInfo } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import {
  CLI,
  copyAsTfjsLeftIt,
  expectSnakeKeys,
  pairs,
  recurrentActivationNotes,
  runCli,
  runCliOk,
  TINY_TEXT_MODEL,
  trainTinyModels,
} from './cli_helpers.js';
import { saidOnStderr, startServe, until } from './serve_helpers.js';
import { listening } from '../src/cli/serve.js';

describe('recur serve (the command)', () => {
  let dir = '';
  let textModel = '';
  let classifier = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-serve-cli-'));
    ({ textModel, classifier } = trainTinyModels(dir));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('logs requests on stderr with --log, leaving stdout to the --json events', async () => {
    const serve = startServe([textModel, '--port', '0', '--threads', '1', '--log', '--json']);
    const { child, exited, out } = serve;
    const address = await serve.address;
    assert.equal((await fetch(address + '/v1/models')).status, 200);
    assert.equal((await fetch(address + '/no/such/path')).status, 404);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out.stderr);
    const events = out.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { event?: string });
    assert.deepEqual(
      events.map((e) => e.event),
      ['listening', 'stopping', 'stopped'],
      out.stdout,
    );
    assert.match(out.stderr, /"url":"\/v1\/models"/);
    assert.match(out.stderr, /"statusCode":404/);
  });

  it('says on Ctrl-C that a second one quits at once', async () => {
    // Without --json: the human line says it (the address is read from the 'listening on' line).
    const child = spawn(process.execPath, [CLI, 'serve', textModel, '--port', '0', '--threads', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { stderr: '' };
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (d: Buffer) => {
        out.stderr += d.toString();
        if (/listening on http/.test(out.stderr)) resolve();
      }),
    );
    child.kill('SIGINT');
    assert.equal(await exited, 0, out.stderr);
    assert.match(
      out.stderr,
      /SIGINT: finishing 0 in-flight stream\(s\), accepting no new requests \(Ctrl-C again to quit now\)…/,
    );
  });

  it('drains on the first SIGTERM and quits at once on a second, saying so (exit 143)', async () => {
    const serve = startServe([textModel, '--port', '0', '--threads', '1', '--json']);
    const { child, exited, out } = serve;
    const { hostname, port } = new URL(await serve.address);
    // A request whose body is still arriving holds the drain open.
    const slow = connect(Number(port), hostname);
    await new Promise<void>((resolve) => slow.on('connect', resolve));
    slow.on('error', () => {});
    slow.write(
      'POST /v1/generate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"le',
    );
    // The request has reached the server once it has begun reading the body: give it a round trip first.
    assert.equal((await fetch(`http://${hostname}:${port}/v1/models`)).status, 200);
    child.kill('SIGTERM');
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (/"event":"stopping"/.test(out.stdout)) resolve();
        else setTimeout(check, 20);
      };
      check();
    });
    child.kill('SIGTERM');
    assert.equal(await exited, 143, out.stderr);
    slow.destroy();
    assert.match(out.stderr, /recur serve: SIGTERM again: quitting now without finishing 0 stream\(s\)/);
    assert.match(out.stdout, /"event":"quitting","signal":"SIGTERM"/);
  });

  it('says it listens on all interfaces for --host 0.0.0.0, with a URL that opens here', async () => {
    const serve = startServe([textModel, '--port', '0', '--threads', '1', '--host', '0.0.0.0', '--json']);
    try {
      const address = await serve.address;
      const port = Number(new URL(address).port);
      assert.equal(address, `http://127.0.0.1:${port}`);
      assert.equal((await fetch(address + '/v1/models')).status, 200);
      const event = JSON.parse(serve.out.stdout.split('\n')[0]) as Record<string, unknown>;
      assert.equal(event.host, '0.0.0.0');
      assert.equal(event.port, port);
      assert.equal(event.all_interfaces, true);
      expectSnakeKeys(event);
    } finally {
      serve.child.kill('SIGTERM');
    }
    assert.equal(await serve.exited, 0, serve.out.stderr);
    // The words, for :: too (other machines' URLs from the interfaces; a link-local one has none).
    const interfaces = {
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
      eth0: [
        { address: '192.0.2.7', family: 'IPv4', internal: false },
        { address: 'fe80::1', family: 'IPv6', internal: false },
        { address: '2001:db8::7', family: 'IPv6', internal: false },
      ],
    } as unknown as NodeJS.Dict<NetworkInterfaceInfo[]>;
    const bound = (host: string): AddressInfo => ({ address: host, family: '', port: 8080 });
    assert.equal(
      listening(bound('0.0.0.0'), 'http://127.0.0.1:8080', interfaces).said,
      'all interfaces (0.0.0.0), port 8080: http://127.0.0.1:8080 from this machine; from other machines: http://192.0.2.7:8080',
    );
    assert.equal(
      listening(bound('::'), 'http://[::]:8080', interfaces).said,
      'all interfaces (::), port 8080: http://[::1]:8080 from this machine; from other machines: http://192.0.2.7:8080, http://[2001:db8::7]:8080',
    );
    assert.equal(
      listening(bound('192.0.2.7'), 'http://192.0.2.7:8080', interfaces).said,
      'http://192.0.2.7:8080',
    );
  });

  it('says the port is in use (exit 1) and refuses a --host that is no address here (exit 2)', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const r = runCli(['serve', textModel, '--port', String(port), '--threads', '1']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use.*--port`),
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    const bad = runCli(['serve', textModel, '--port', '0', '--threads', '1', '--host', '192.0.2.1']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--host 192\.0\.2\.1: not an address of this machine/);
  });

  it('names a file given where a model directory goes as a file, and a missing path as missing (exit 2)', () => {
    const file = join(textModel, 'model.json');
    const r = runCli(['serve', file, '--port', '0', '--threads', '1']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /model\.json: is a file, not a model directory; recur serve serves directories/);
    const missing = runCli(['serve', join(dir, 'nowhere'), '--port', '0', '--threads', '1']);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /nowhere: no such file or directory; expected a model directory/);
  });

  it('reloads its model directories on SIGUSR2 and (no terminal) SIGHUP, keeping the old model where a directory no longer loads', async () => {
    // Two text models of the same text and shape but other weights; the served directory is first one, then the other.
    const other = join(dir, 'other-model');
    runCliOk([
      'train',
      join(dir, 'book.txt'),
      '--out',
      other,
      '--epochs',
      '1',
      '--seed',
      '9',
      ...TINY_TEXT_MODEL,
    ]);
    const served = join(dir, 'served');
    cpSync(textModel, served, { recursive: true });
    const serve = startServe([served, '--port', '0', '--threads', '2', '--json']);
    const { child, exited, out } = serve;
    const address = await serve.address;
    const ask = { prime: 'the', length: 80, temperature: 1, seed: 5 };
    const generate = async (): Promise<string> => {
      const r = await fetch(address + '/v1/generate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ask),
      });
      assert.equal(r.status, 200);
      return ((await r.json()) as { text: string }).text;
    };
    const cli = (model: string): string =>
      (
        JSON.parse(
          runCliOk([
            'generate',
            model,
            '--prime',
            ask.prime,
            '--length',
            String(ask.length),
            '--temperature',
            '1',
            '--seed',
            String(ask.seed),
            '--json',
          ]),
        ) as { text: string }
      ).text;
    let gone = false;
    void exited.then(() => (gone = true));
    const reloaded = async (n: number, signal: NodeJS.Signals): Promise<Record<string, unknown>> => {
      child.kill(signal);
      for (;;) {
        assert.ok(!gone, `the server ended on ${signal} instead of reloading: ${out.stderr}`);
        const events = out.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((e) => e.event === 'reloaded');
        if (events.length >= n) return events[n - 1];
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      const before = await generate();
      assert.equal(before, cli(textModel));
      for (const f of readdirSync(other)) cpSync(join(other, f), join(served, f), { recursive: true });
      assert.deepEqual(await reloaded(1, 'SIGUSR2'), {
        event: 'reloaded',
        signal: 'SIGUSR2',
        models: [{ name: 'served', kind: 'text', notes: [] }],
        kept: [],
      });
      const after = await generate();
      assert.equal(after, cli(other));
      assert.notEqual(after, before);
      // A model.json cut short (a copy still under way): the model served before goes on, and the reason is said.
      writeFileSync(join(served, 'model.json'), '{"format": "layers-model", ');
      // Its stdio are pipes, no terminal: SIGHUP reloads, as a daemon's does.
      const third = await reloaded(2, 'SIGHUP');
      assert.equal(third.signal, 'SIGHUP');
      assert.deepEqual(third.models, []);
      assert.match(JSON.stringify(third.kept), /"name":"served".*model\.json/);
      assert.match(
        out.stderr,
        /recur serve: SIGHUP: keeping the model 'served' served before: .*model\.json/,
      );
      assert.equal(await generate(), after);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out.stderr);
  });

  it("says each model's load notes once, at start-up and on reload, from the event loop or the workers (--json: in its events)", async () => {
    // The text model's model.json as TensorFlow.js would leave it: no recurrent_activation (tfjs's hardSigmoid is
    // taken, a note), no generatedBy naming recur, no sha256 (a second note: the weights are unverified).
    const noted = join(dir, 'noted');
    cpSync(textModel, noted, { recursive: true });
    const json = JSON.parse(readFileSync(join(noted, 'model.json'), 'utf8'), (k: string, v: unknown) =>
      k === 'recurrent_activation' ? undefined : v,
    ) as { generatedBy?: string; userDefinedMetadata: { recur: { sha256?: unknown } } };
    delete json.generatedBy;
    delete json.userDefinedMetadata.recur.sha256;
    writeFileSync(join(noted, 'model.json'), JSON.stringify(json));
    const defaults =
      /model\.json: written by TensorFlow\.js, so options its layers leave out take TensorFlow\.js's defaults: '[^']+' \(LSTM\) recurrent_activation hardSigmoid/;
    const noteLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('note: '));
    // On two workers (each rebuilds the model and notes it): said once at start-up, and once again on a reload.
    const text = startServe([noted, '--port', '0', '--threads', '2']);
    const { child, exited } = text;
    const said = (pattern: RegExp): Promise<void> => saidOnStderr(text, pattern);
    try {
      await said(/listening on http/);
      const atStart = noteLines(text.out.stderr);
      assert.equal(atStart.length, 2, text.out.stderr);
      assert.match(atStart.join('\n'), defaults);
      assert.match(atStart.join('\n'), /no sha256 recorded/);
      child.kill('SIGUSR2');
      await said(/reloaded 1 of 1 model/);
      assert.deepEqual(noteLines(text.out.stderr), [...atStart, ...atStart], text.out.stderr);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, text.out.stderr);
    // On the event loop, with --json: no note on stderr; the listening event lists them with the model.
    const serve = startServe([noted, '--port', '0', '--threads', '1', '--json']);
    try {
      await serve.address;
      const event = JSON.parse(serve.out.stdout.split('\n')[0]) as { models: { notes: string[] }[] };
      assert.equal(event.models[0].notes.length, 2, serve.out.stdout);
      assert.match(event.models[0].notes.join('\n'), defaults);
      assert.deepEqual(noteLines(serve.out.stderr), []);
    } finally {
      serve.child.kill('SIGTERM');
    }
    assert.equal(await serve.exited, 0, serve.out.stderr);
  });

  it("says a classifier's and a seq2seq model's load notes on the event loop (--threads 1) too: once each, at start-up and on reload", async () => {
    const tsv = join(dir, 'pairs.tsv');
    writeFileSync(tsv, pairs(40, 2));
    const seq2seq = join(dir, 'seq2seq');
    // With a joint n-gram: a reload on the event loop builds it after the networks.
    runCliOk([
      'seq2seq',
      'train',
      tsv,
      '--out',
      seq2seq,
      '--epochs',
      '1',
      '--units',
      '4',
      '--embedding-dim',
      '4',
      '--joint-ngram',
      '2',
      '--threads',
      '1',
      '-q',
    ]);
    const noted = [
      copyAsTfjsLeftIt(classifier, join(dir, 'noted-classifier')),
      copyAsTfjsLeftIt(seq2seq, join(dir, 'noted-seq2seq')),
    ];
    // Each model's defaults note, naming its own model.json, once.
    const notedOnce = (notes: readonly string[], at: number): void => {
      const file = join(noted[at], 'model.json');
      const mine = notes.filter(
        (n) => n.startsWith(`${file}: `) && n.includes('recurrent_activation hardSigmoid'),
      );
      assert.equal(mine.length, 1, notes.join('\n'));
    };
    // Without --json: `note:` lines on stderr, each model's once at start-up and once again on a reload.
    const text = startServe([...noted, '--port', '0', '--threads', '1']);
    const { child, exited } = text;
    const said = (pattern: RegExp): Promise<void> => saidOnStderr(text, pattern);
    try {
      await said(/listening on http/);
      const atStart = recurrentActivationNotes(text.out.stderr);
      assert.equal(atStart.length, 2, text.out.stderr);
      noted.forEach((_, at) =>
        notedOnce(
          atStart.map((l) => l.slice('note: '.length)),
          at,
        ),
      );
      child.kill('SIGUSR2');
      await said(/reloaded 2 of 2 model/);
      assert.deepEqual(recurrentActivationNotes(text.out.stderr), [...atStart, ...atStart], text.out.stderr);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, text.out.stderr);
    // --json: the listening and reloaded events list each model's.
    const serve = startServe([...noted, '--port', '0', '--threads', '1', '--json']);
    type ModelsEvent = { event: string; models: { kind: string; notes: string[] }[] };
    // Whole lines only: the last may still be arriving.
    const events = (): ModelsEvent[] =>
      serve.out.stdout
        .split('\n')
        .slice(0, -1)
        .map((l) => JSON.parse(l) as ModelsEvent);
    try {
      await serve.address;
      const listened = events()[0];
      assert.deepEqual(
        listened.models.map((m) => m.kind),
        ['classify', 'seq2seq'],
      );
      listened.models.forEach((m, at) => notedOnce(m.notes, at));
      serve.child.kill('SIGUSR2');
      while (!events().some((e) => e.event === 'reloaded')) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(events().find((e) => e.event === 'reloaded')!.models, listened.models);
      // On stderr as every command's notes are with --json: a `{"note": …}` line each, at start-up and on the reload.
      // (stderr is another pipe than stdout's events: its lines may arrive after them.)
      const jsonNotes = (): string[] =>
        recurrentActivationNotes(
          serve.out.stderr
            .split('\n')
            .filter((l) => l.startsWith('{"note":'))
            .map((l) => `note: ${(JSON.parse(l) as { note: string }).note}`)
            .join('\n'),
        );
      while (jsonNotes().length < 4) await new Promise((r) => setTimeout(r, 50));
      const said = jsonNotes();
      assert.equal(said.length, 4, serve.out.stderr);
      assert.deepEqual(said.slice(2), said.slice(0, 2));
      noted.forEach((_, at) =>
        notedOnce(
          said.slice(0, 2).map((l) => l.slice('note: '.length)),
          at,
        ),
      );
    } finally {
      serve.child.kill('SIGTERM');
    }
    assert.equal(await serve.exited, 0, serve.out.stderr);
  });

  it('--ngram-weight decodes every seq2seq model at that weight; at 0 its joint n-gram is not read, so a damaged one stops nothing', async () => {
    const tsv = join(dir, 'ngram-pairs.tsv');
    writeFileSync(tsv, pairs(40, 2));
    const model = join(dir, 'ngram-seq2seq');
    runCliOk(
      ['seq2seq', 'train', tsv, '--out', model, '--epochs', '1', '--units', '4'].concat([
        '--embedding-dim',
        '4',
        '--joint-ngram',
        '2',
        '--threads',
        '1',
        '-q',
      ]),
    );
    const sources = ['the dog and the cat', 'the fish'];
    const predicted = (weight: string): unknown[] =>
      runCliOk([
        'seq2seq',
        'predict',
        model,
        ...sources,
        '--json',
        '--ngram-weight',
        weight,
        '--threads',
        '1',
      ])
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown);
    const served = async (args: string[], want: unknown[], weight: number): Promise<void> => {
      const serve = startServe([model, '--port', '0', '--json', ...args]);
      const ask = async (): Promise<unknown> => {
        const r = await fetch((await serve.address) + '/v1/predict', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ sources }),
        });
        assert.equal(r.status, 200, serve.out.stderr);
        return ((await r.json()) as { outputs: unknown }).outputs;
      };
      try {
        const listed = (await (await fetch((await serve.address) + '/v1/models')).json()) as {
          models: { ngram_weight: number }[];
        };
        assert.equal(listed.models[0].ngram_weight, weight);
        assert.deepEqual(await ask(), want);
        // A reload reads the directory as start-up did.
        serve.child.kill('SIGUSR2');
        await until(() => serve.out.stdout.includes('"event":"reloaded"'), 'the reload');
        assert.match(serve.out.stdout, /"event":"reloaded".*"kept":\[\]/);
        assert.deepEqual(await ask(), want);
      } finally {
        serve.child.kill('SIGTERM');
      }
      assert.equal(await serve.exited, 0, serve.out.stderr);
    };
    // A weight other than the n-gram's own: what seq2seq predict --ngram-weight decodes (on the workers here).
    await served(['--threads', '2', '--ngram-weight', '5'], predicted('5'), 5);
    const without = predicted('0');
    writeFileSync(join(model, 'joint-ngram.json'), '{"format":"recur-joint-ngram","version":1}');
    for (const threads of ['1', '2']) await served(['--threads', threads, '--ngram-weight', '0'], without, 0);
    // At the n-gram's own weight (no flag) requests would use it: the damaged file is refused, named.
    const refused = runCli(['serve', model, '--port', '0', '--threads', '1']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /joint-ngram\.json: order/);
    // A positive weight with no n-gram to weigh, or the flag with no seq2seq model, is refused rather than ignored.
    rmSync(join(model, 'joint-ngram.json'));
    const none = runCli(['serve', model, '--port', '0', '--threads', '1', '--ngram-weight', '0.5']);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /--ngram-weight 0\.5: .*ngram-seq2seq has no joint n-gram to weigh/);
    const text = runCli(['serve', textModel, '--port', '0', '--threads', '1', '--ngram-weight', '0']);
    assert.equal(text.code, 2, text.stderr);
    assert.match(text.stderr, /--ngram-weight 0: applies to seq2seq models, and none is served/);
  });

  it('ends on SIGHUP (its terminal closed) instead of reloading', async () => {
    // script(1) runs the server on a pseudo-terminal (stdin, stdout and stderr), as a shell in a terminal window does;
    // the shell's pid is the server's after exec.
    const command = `echo pid $$; exec '${process.execPath}' '${CLI}' serve '${textModel}' --port 0 --threads 1 --json`;
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let terminal = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const listening = new Promise<{ pid: number; address: string }>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        terminal += d.toString();
        const pid = /pid (\d+)/.exec(terminal);
        const address = /"address":"([^"]+)"/.exec(terminal);
        if (pid && address) resolve({ pid: Number(pid[1]), address: address[1] });
      });
      child.on('exit', () => reject(new Error(`serve exited early: ${terminal}`)));
    });
    const { pid, address } = await listening;
    assert.match(terminal, new RegExp(`"pid":${pid}\\b`), 'the listening event names the pid to signal');
    assert.equal((await fetch(address + '/v1/models')).status, 200);
    process.kill(pid, 'SIGHUP');
    // The old server reloaded and went on serving: the test then stops it, failing.
    const reloaded = new Promise<'reloaded'>((resolve) =>
      child.stdout.on('data', () => /"event":"reloaded"/.test(terminal) && resolve('reloaded')),
    );
    const outcome = await Promise.race([exited.then((code) => ({ code })), reloaded]);
    if (outcome === 'reloaded') process.kill(pid, 'SIGTERM');
    assert.deepEqual(outcome, { code: 128 + 1 }, terminal);
    await assert.rejects(fetch(address + '/v1/models'));
  });
});
