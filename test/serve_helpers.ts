/** What the HTTP tests of `recur serve` share. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { mock } from 'node:test';
import { CLI } from './cli_helpers.js';
import type { ServeApp } from '../src/node/server.js';

/** Parses a Server-Sent Events body into its events. */
export function sseEvents(body: string): { event: string; data: Record<string, unknown> }[] {
  return body
    .split('\n\n')
    .filter((b) => b.trim())
    .map((block) => {
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        if (line.startsWith('data: ')) data += line.slice(6);
      }
      return { event, data: JSON.parse(data) as Record<string, unknown> };
    });
}

/** Starts the app on a free port of 127.0.0.1; returns its base URL. */
export async function listen(server: ServeApp): Promise<string> {
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
}

/** A `recur serve … --json` process: its address once listening, its exit code, and what it printed so far. */
export interface ServeProcess {
  child: ChildProcess;
  address: Promise<string>;
  exited: Promise<number | null>;
  out: { stdout: string; stderr: string };
}

/**
 * Starts `recur serve` with `args`. `address` comes from --json's listening event; without --json, wait with
 * `saidOnStderr` instead.
 */
export function startServe(args: readonly string[]): ServeProcess {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const address = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out.stdout += d.toString();
      const m = /"address":"([^"]+)"/.exec(out.stdout);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error(`serve exited early: ${out.stderr}`)));
  });
  // Without --json nobody awaits the address: its rejection when the server ends is then no error.
  address.catch(() => undefined);
  return { child, address, exited, out };
}

/** Resolves once the server's stderr matches `pattern` (text output: "listening on", "reloaded"); rejects if it exits first. */
export function saidOnStderr(serve: ServeProcess, pattern: RegExp): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (pattern.test(serve.out.stderr)) resolve();
    };
    serve.child.stderr!.on('data', check);
    serve.child.on('exit', () => reject(new Error(`serve exited early: ${serve.out.stderr}`)));
    check();
  });
}

/**
 * The request log (`--log`: JSON lines on stderr) of apps created with `log: true` while it is captured; `restore`
 * gives stderr back.
 */
export function captureRequestLog(): { lines: () => Record<string, unknown>[]; restore: () => void } {
  const written: string[] = [];
  const write = mock.method(process.stderr, 'write', (chunk: string | Uint8Array): boolean => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return true;
  });
  return {
    lines: () =>
      written
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    restore: () => write.mock.restore(),
  };
}

/** The status codes the captured log gives the requests it saw complete (a client gone: 499). */
export function loggedStatuses(lines: readonly Record<string, unknown>[]): number[] {
  return lines.flatMap((l) => {
    const res = l.res as { statusCode?: number } | undefined;
    return res?.statusCode !== undefined ? [res.statusCode] : [];
  });
}

/** Waits (a turn of the event loop at a time, 20 s at most) until `done()`; fails saying `what` otherwise. */
export async function until(done: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!done()) {
    assert.ok(Date.now() < end, what);
    await new Promise((r) => setTimeout(r, 2));
  }
}
