/** What the HTTP tests of `recur serve` share. */
import type { AddressInfo } from 'node:net';
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
