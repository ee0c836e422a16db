/**
 * Keras 3 `.keras` archives: a zip of `metadata.json` ({keras_version, date_saved}), `config.json` (the model's
 * serialized config) and `model.weights.h5`, as keras/src/saving/saving_lib.py writes them (in that order, stored
 * uncompressed except the JSON). fflate does the zip, in Node and the browser.
 */
import { Inflate, unzipSync, zipSync, type Zippable } from 'fflate';
import { parseJsonText } from '../core/json_text.js';

export interface KerasArchive {
  metadata: Record<string, unknown>;
  config: Record<string, unknown>;
  weights: Uint8Array;
}

/**
 * Largest size each member may unpack to. Keras's JSON is kilobytes even for large models; the weights file is
 * bounded by what the HDF5 library (wasm, 2 GiB) can open.
 */
const MEMBER_LIMITS: Record<string, number> = {
  'metadata.json': 2 ** 24,
  'config.json': 2 ** 26,
  'model.weights.h5': 2 ** 31 - 2 ** 24,
};

/** True when bytes start like a zip file (a local file header). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
}

function parseJsonMember(
  files: Record<string, Uint8Array>,
  name: string,
  where: string,
): Record<string, unknown> {
  const data = files[name];
  if (!data) throw new Error(`${where}: the archive has no ${name}; not a Keras 3 .keras file`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    throw new Error(`${where}: ${name} is not valid UTF-8`);
  }
  const v = parseJsonText(text, `${where}: ${name}`);
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new Error(`${where}: ${name} should hold a JSON object`);
  return v as Record<string, unknown>;
}

/**
 * Where each deflated member's compressed bytes lie, by name, from the zip's central directory; a member whose sizes
 * or offset are Zip64's is left out (fflate unpacks those). fflate inflates a member into a buffer of the size its
 * header declares, silently dropping what goes past it: recur inflates these spans itself, once, to that size.
 */
function deflatedSpans(bytes: Uint8Array): Map<string, { start: number; end: number }> {
  const spans = new Map<string, { start: number; end: number }>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number): number => (at + 2 <= bytes.length ? view.getUint16(at, true) : 0);
  const u32 = (at: number): number => (at + 4 <= bytes.length ? view.getUint32(at, true) : 0);
  let end = bytes.length - 22;
  while (end >= 0 && u32(end) !== 0x06054b50) end--;
  if (end < 0) return spans;
  let at = u32(end + 16);
  for (let i = u16(end + 10); i > 0 && u32(at) === 0x02014b50; i--) {
    const nameLength = u16(at + 28);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
    const size = u32(at + 20);
    const local = u32(at + 42);
    if (u16(at + 10) === 8 && size !== 0xffffffff && local !== 0xffffffff && u32(local) === 0x04034b50) {
      const start = local + 30 + u16(local + 26) + u16(local + 28);
      if (start + size <= bytes.length) spans.set(name, { start, end: start + size });
    }
    at += 46 + nameLength + u16(at + 30) + u16(at + 32);
  }
  return spans;
}

/**
 * Deflated `data` unpacked to at most `size` bytes, a piece at a time; `longer` when it goes on past them (what
 * follows is not inflated).
 */
function inflateBounded(data: Uint8Array, size: number): { bytes: Uint8Array; longer: boolean } {
  const out = new Uint8Array(size);
  let total = 0;
  const inflate = new Inflate((chunk) => {
    if (total < size) out.set(chunk.subarray(0, size - total), total);
    total += chunk.length;
  });
  const piece = 1 << 16;
  for (let at = 0; at < data.length && total <= size; at += piece)
    inflate.push(data.subarray(at, at + piece), at + piece >= data.length);
  return { bytes: total < size ? out.subarray(0, total) : out, longer: total > size };
}

/**
 * Refuses a member the archive holds more or fewer bytes of than its header declares (`declared`: by name, as the
 * zip's headers give them; `longer`: the members found to go on past it), naming it: a corrupt or tampered archive,
 * which would otherwise read cut short.
 */
function checkMemberSizes(
  files: Record<string, Uint8Array>,
  declared: Map<string, number>,
  longerMembers: Set<string>,
  where: string,
): void {
  for (const [name, data] of Object.entries(files)) {
    const size = declared.get(name);
    if (size === undefined) continue;
    const longer = longerMembers.has(name) || data.length > size;
    if (longer || data.length < size)
      throw new Error(
        `${where}: archive member ${name} is ${longer ? 'longer' : `shorter (${data.length} bytes)`} than the ` +
          `${size} bytes its zip header declares; the archive is corrupt or was tampered with`,
      );
  }
}

function unreadable(e: unknown, where: string): Error {
  return new Error(`${where}: not a readable zip archive (truncated or damaged?): ${(e as Error).message}`);
}

/** The three members of a .keras file; a damaged zip or a missing member is an Error naming it. */
export function readKerasArchive(bytes: Uint8Array, where: string): KerasArchive {
  let files: Record<string, Uint8Array>;
  let oversized: { name: string; size: number; limit: number } | null = null;
  // What each member's header declares: what it must unpack to (stored members: what they hold).
  const declared = new Map<string, number>();
  const spans = deflatedSpans(bytes);
  // Deflated members recur inflates itself (fflate would inflate them past their declared size and drop the rest).
  const inflateHere: string[] = [];
  const longer = new Set<string>();
  try {
    files = unzipSync(bytes, {
      // Read only what a .keras file holds; assets/ and anything else stay compressed and unread. A member that
      // would unpack to more than such a member ever holds (a zip bomb) is not unpacked at all.
      filter: (f) => {
        const limit = MEMBER_LIMITS[f.name];
        if (limit === undefined) return false;
        if (f.originalSize > limit) {
          oversized ??= { name: f.name, size: f.originalSize, limit };
          return false;
        }
        declared.set(f.name, f.originalSize);
        if (f.compression !== 8 || !spans.has(f.name)) return true;
        inflateHere.push(f.name);
        return false;
      },
    });
  } catch (e) {
    throw unreadable(e, where);
  }
  const big = oversized as { name: string; size: number; limit: number } | null;
  if (big)
    throw new Error(
      `${where}: ${big.name} would unpack to ${big.size} bytes, more than the ${big.limit} recur reads; refused ` +
        'before unpacking (damaged file or a zip bomb?)',
    );
  for (const name of inflateHere) {
    const span = spans.get(name)!;
    let r: { bytes: Uint8Array; longer: boolean };
    try {
      r = inflateBounded(bytes.subarray(span.start, span.end), declared.get(name)!);
    } catch (e) {
      throw unreadable(e, where);
    }
    files[name] = r.bytes;
    if (r.longer) longer.add(name);
  }
  checkMemberSizes(files, declared, longer, where);
  const config = parseJsonMember(files, 'config.json', where);
  const metadata = files['metadata.json'] ? parseJsonMember(files, 'metadata.json', where) : {};
  const weights = files['model.weights.h5'];
  if (!weights)
    throw new Error(
      `${where}: the archive has no model.weights.h5 (recur reads .keras files with their weights)`,
    );
  return { metadata, config, weights };
}

/**
 * The bytes of a .keras file. `date` fixes date_saved (Keras's format: 2025-04-13@08:54:17); `userDefinedMetadata`,
 * when not empty, is kept in metadata.json (Keras ignores keys there it does not write).
 */
export function writeKerasArchive(
  config: Record<string, unknown>,
  weights: Uint8Array,
  kerasVersion: string,
  date: Date,
  userDefinedMetadata: Record<string, unknown> = {},
): Uint8Array {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const dateSaved =
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `@${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  const enc = new TextEncoder();
  const files: Zippable = {
    'metadata.json': enc.encode(
      JSON.stringify({
        keras_version: kerasVersion,
        date_saved: dateSaved,
        ...(Object.keys(userDefinedMetadata).length > 0 && { userDefinedMetadata }),
      }),
    ),
    'config.json': enc.encode(JSON.stringify(config)),
    'model.weights.h5': [weights, { level: 0 }],
  };
  // Fixed member times (1980-01-01, as Keras's zipfile.writestr writes them): the same model gives the same bytes.
  return zipSync(files, { level: 6, mtime: new Date(1980, 0, 1) });
}
