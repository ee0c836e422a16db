/**
 * `recur serve [model-dir…] [--port 8080]` — the page (built by `npm run build:web`) and the HTTP API in one process
 * (src/node/server.ts). SIGTERM or Ctrl-C stops accepting requests, lets every in-flight stream finish, then exits 0;
 * a second one quits at once (exit 130 for Ctrl-C, 143 for SIGTERM), saying so on stderr. SIGUSR2 reloads every model
 * directory (reloadModels) without dropping a request; so does SIGHUP when no terminal is attached (hangupReloads).
 * With `--threads N` (N > 1, default all cores) text, classifier and seq2seq models run on an inference pool of N
 * worker threads, keeping the event loop free; `--threads 1` runs them on the event loop. `--ngram-weight W` decodes
 * every seq2seq model with its joint n-gram at weight W (default: the n-gram's own); at 0 the n-gram file is not read.
 */
import { existsSync } from 'node:fs';
import { isatty } from 'node:tty';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { availableParallelism, constants, networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { createInferencePool } from '../node/inference_pool.js';
import {
  attachInferencePool,
  createServeApp,
  loadIntoInferencePool,
  loadServedModels,
  notServedReason,
  reloadServedModel,
  SERVE_LIMITS,
  type Served,
  type ServeApp,
  type ServedLoading,
} from '../node/server.js';
import { InvalidInputError } from '../core/errors.js';
import { UsageError, type Output } from './output.js';

export interface ServeCliOptions {
  port: number;
  host: string;
  log: boolean;
  /** Inference worker threads; 1: run the models on the event loop (default: all cores). */
  threads?: number;
  /** The weight seq2seq models decode with their joint n-gram (default: each one's own; 0: without it, unread). */
  ngramWeight?: number;
}

/** Where `npm run build:web` writes the page: dist/web beside dist/src. */
export function webDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
}

export async function serve(dirs: string[], o: ServeCliOptions, out: Output): Promise<number> {
  const threads = o.threads ?? availableParallelism();
  // With workers to run them, this thread reads the models' metadata only (it routes; the workers hold the networks).
  const served = loadServedModels(dirs, SERVE_LIMITS, { onPool: threads > 1, ngramWeight: o.ngramWeight });
  // Ignored, the flag would leave the user believing it changed some model's outputs.
  if (o.ngramWeight !== undefined && !served.some((s) => s.kind === 'seq2seq'))
    throw new UsageError(
      `--ngram-weight ${o.ngramWeight}: applies to seq2seq models, and none is served; leave the flag out`,
    );
  const page = webDir();
  const staticDir = existsSync(join(page, 'index.html')) ? page : null;
  const pooled = served.some((s) => s.kind === 'text' || s.kind === 'classify' || s.kind === 'seq2seq');
  const pool = threads > 1 && pooled ? createInferencePool(threads) : null;
  try {
    if (pool) await attachInferencePool(served, pool);
    return await listen(served, staticDir, page, pool, o, out);
  } finally {
    await pool?.terminate();
  }
}

async function listen(
  served: ReturnType<typeof loadServedModels>,
  staticDir: string | null,
  page: string,
  pool: ReturnType<typeof createInferencePool> | null,
  o: ServeCliOptions,
  out: Output,
): Promise<number> {
  const server = createServeApp({ served, staticDir, log: o.log, pool });
  const listened = await server.app.listen({ port: o.port, host: o.host }).catch((e: unknown) => {
    throw listenError(e, o);
  });
  const where = listening(server.app.server.address() as AddressInfo, listened);
  const address = where.url;
  // The signals are watched before the address is announced: a client (or test) that stops the server as soon as it
  // reads the address must get the graceful stop, not the default action of a signal nobody listens for yet.
  let stopping = false;
  // Reloads run one after another: a second signal during a reload reloads again after it.
  let reloads = Promise.resolve();
  const reload = (signal: ReloadSignal): void => {
    if (!stopping)
      reloads = reloads
        .then(() => reloadModels(server, pool, out, signal, { ngramWeight: o.ngramWeight }))
        .catch((e: unknown) => {
          process.stderr.write(`recur serve: ${signal}: the reload failed: ${(e as Error).message}\n`);
        });
  };
  process.on('SIGUSR2', () => reload('SIGUSR2'));
  // In a terminal SIGHUP keeps its default meaning (the terminal closed: the server ends), as a foreground server's
  // must; unattached (systemd, docker, nohup) it is the daemons' conventional reload.
  if (hangupReloads()) process.on('SIGHUP', () => reload('SIGHUP'));
  const stopped = new Promise<void>((resolve) => {
    // The first SIGTERM or SIGINT drains; a second (either) quits at once, exiting as the signal's default action
    // would (128 + its number: 143, 130) but saying so, on stderr even with --json (its event is on stdout).
    const stop = (signal: 'SIGTERM' | 'SIGINT'): void => {
      if (stopping) {
        out.json({ event: 'quitting', signal, unfinished: server.inFlight() });
        process.stderr.write(
          `recur serve: ${signal} again: quitting now without finishing ${server.inFlight()} stream(s)\n`,
        );
        process.exit(128 + constants.signals[signal]);
      }
      stopping = true;
      out.info(
        `${signal}: finishing ${server.inFlight()} in-flight stream(s), accepting no new requests (${signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} again to quit now)…`,
      );
      out.json({ event: 'stopping', signal, in_flight: server.inFlight() });
      void server.close().then(resolve);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  if (pool)
    out.info(`models run on ${pool.threads} inference worker threads (--threads 1: on the event loop)`);
  for (const s of served) {
    const unserved = notServedReason(s);
    out.info(
      unserved === null
        ? `serving ${s.kind} model '${s.name}' from ${s.dir}`
        : `not serving '${s.name}' from ${s.dir}: ${unserved}`,
    );
    sayNotes(s, out);
  }
  if (served.length > 0) out.info(`recur serve: kill -USR2 ${process.pid} reloads the models`);
  if (!staticDir) out.info(`no page at ${page} (run 'npm run build:web'); serving the API only`);
  out.info(`recur serve: listening on ${where.said}${staticDir ? ` — open ${address}/ for the page` : ''}`);
  out.json({
    event: 'listening',
    address,
    host: where.host,
    port: where.port,
    all_interfaces: where.allInterfaces,
    // What `kill -USR2` reloads.
    pid: process.pid,
    threads: pool?.threads ?? 1,
    models: served.map(modelEvent),
  });
  await stopped;
  await reloads;
  out.info('recur serve: stopped');
  out.json({ event: 'stopped' });
  return 0;
}

/** The signals that reload the models: SIGUSR2 always, SIGHUP when no terminal is attached. */
export type ReloadSignal = 'SIGUSR2' | 'SIGHUP';

/**
 * Whether SIGHUP reloads: only when none of stdin, stdout and stderr is a terminal. A process with a terminal gets
 * SIGHUP when the terminal closes (a closed SSH session, a closed window), and must then end, not go on serving
 * unwatched; a detached server (systemd's `ExecReload=kill -HUP $MAINPID`, docker without -t) gets it only when
 * someone asks for a reload, as nginx, gunicorn and PostgreSQL read it.
 */
export function hangupReloads(isTerminal: (fd: number) => boolean = isatty): boolean {
  return ![0, 1, 2].some((fd) => isTerminal(fd));
}

/**
 * SIGUSR2 (or SIGHUP, detached): loads every served model directory again and serves the new models from the next
 * request on, all in one step once every one has loaded (here and on every worker); requests already running finish on
 * the old ones. A directory that no longer loads (a half-copied model, a bad file) keeps its old model, and says why
 * on stderr (and in --json's `reloaded` event). With a pool the old models answer on while the new load: this thread
 * reads only their metadata, and the workers rebuild them one at a time, each all of them in one turn, the others
 * serving meanwhile. With none the models are built here, the event loop turning between two models (and between a
 * model and its joint n-gram), so the served models' requests and streams go on. `loading`: the --ngram-weight the
 * models were loaded with at start-up.
 */
export async function reloadModels(
  server: ServeApp,
  pool: ReturnType<typeof createInferencePool> | null,
  out: Output,
  signal: ReloadSignal = 'SIGUSR2',
  loading: Pick<ServedLoading, 'ngramWeight'> = {},
): Promise<void> {
  const olds = server.models();
  const fresh: (Served | Error)[] = [];
  for (const old of olds)
    fresh.push(
      await reloadServedModel(
        old.dir,
        old.name,
        SERVE_LIMITS,
        { onPool: pool !== null, ngramWeight: loading.ngramWeight },
        turn,
      ).catch((e: unknown) => e as Error),
    );
  if (pool) {
    const read = fresh.flatMap((f) => (f instanceof Error ? [] : [f]));
    const failed = await loadIntoInferencePool(read, pool, SERVE_LIMITS, { oneWorkerAtATime: true });
    read.forEach((m, i) => (fresh[fresh.indexOf(m)] = failed[i] ?? m));
  }
  const kept: { name: string; dir: string; error: string }[] = [];
  const next = olds.map((old, i): Served => {
    const f = fresh[i];
    if (!(f instanceof Error)) return f;
    kept.push({ name: old.name, dir: old.dir, error: f.message });
    // On stderr even with --json (its `reloaded` event has it too), as internal errors are: the operator must learn.
    process.stderr.write(
      `recur serve: ${signal}: keeping the model '${old.name}' served before: ${f.message}\n`,
    );
    return old;
  });
  server.swap(next);
  for (const m of next) if (!kept.some((k) => k.name === m.name)) sayNotes(m, out);
  out.info(`recur serve: ${signal}: reloaded ${next.length - kept.length} of ${next.length} model(s)`);
  out.json({
    event: 'reloaded',
    signal,
    models: next.filter((m) => !kept.some((k) => k.name === m.name)).map(modelEvent),
    kept,
  });
}

/**
 * A loaded model's notes (its loader's: a default taken, weights not verified), as the commands that load one print
 * them (Output.note); --json's events carry them too (modelEvent).
 */
function sayNotes(m: Served, out: Output): void {
  for (const n of m.notes ?? []) out.note(n);
}

/** A model as --json's `listening` and `reloaded` events list it: with its loader's notes, as convert's --json has. */
function modelEvent(m: Served): { name: string; kind: string; notes: readonly string[] } {
  return { name: m.name, kind: m.kind, notes: m.notes ?? [] };
}

/** One turn of the event loop: what it has waiting (requests, stream steps) runs first. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * What `recur serve` says it listens on: `url`, one this machine can open (for 0.0.0.0 or ::, which are no address to
 * connect to, the loopback of that family), and `said`, the human words (all interfaces, with this machine's other
 * addresses, for a wildcard). `fastifyUrl` is what listen resolved to, kept for a named host (localhost).
 */
export function listening(
  bound: AddressInfo,
  fastifyUrl: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): { url: string; said: string; host: string; port: number; allInterfaces: boolean } {
  const { address: host, port } = bound;
  const allInterfaces = host === '0.0.0.0' || host === '::';
  const urlOf = (a: string): string => `http://${a.includes(':') ? `[${a}]` : a}:${port}`;
  if (!allInterfaces) return { url: fastifyUrl, said: fastifyUrl, host, port, allInterfaces };
  const url = urlOf(host === '::' ? '::1' : '127.0.0.1');
  // Where other machines reach it: the addresses of this machine's other interfaces (IPv6 ones only on ::).
  const others = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    // Link-local IPv6 addresses (fe80::) need a zone to connect to: no URL to give.
    .filter((i) => !i.internal && (i.family === 'IPv4' || (host === '::' && !/^fe80:/i.test(i.address))))
    .map((i) => urlOf(i.address));
  const elsewhere = others.length > 0 ? `; from other machines: ${others.slice(0, 4).join(', ')}` : '';
  return {
    url,
    said: `all interfaces (${host}), port ${port}: ${url} from this machine${elsewhere}`,
    host,
    port,
    allInterfaces,
  };
}

/**
 * Why the server cannot listen, in the flags' terms: a --host that is no address of this machine is bad input (exit
 * 2); a port in use or not allowed is a failure of this run (exit 1) that says which flag to change.
 */
export function listenError(e: unknown, o: Pick<ServeCliOptions, 'port' | 'host'>): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const where = `${o.host}:${o.port}`;
  if (code === 'EADDRINUSE')
    return new Error(
      `cannot listen on ${where}: the port is in use (stop what uses it, or give another --port)`,
    );
  if (code === 'EACCES')
    return new Error(
      `cannot listen on ${where}: not allowed to use port ${o.port} (give a --port above 1023)`,
    );
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new InvalidInputError(
      `--host ${o.host}: not an address of this machine (e.g. 127.0.0.1, or 0.0.0.0 for every interface)`,
    );
  return e instanceof Error ? e : new Error(String(e));
}
