/**
 * HDF5 behind a small interface: a whole file as a plain tree of groups and datasets (read), and a tree written back
 * as the bytes of a file (write). The rest of src/keras sees only these trees, so the Keras logic is pure and
 * testable without HDF5, and the HDF5 library could be swapped.
 *
 * The library is h5wasm's ES-module build (the HDF5 C library in wasm), loaded on first use. Files are opened from
 * bytes in its in-memory file system (MEMFS) and unlinked at once, in Node as in the browser: h5wasm never sees a
 * real path, so reading and writing touch no file but the ones src/node hands over (its `h5wasm/node` build maps the
 * real file system instead, which recur does not want). Figures in BENCHMARKS.md.
 */
import { InvalidInputError } from '../core/errors.js';
import { halfFloat } from '../models/serialization.js';

type H5wasm = typeof import('h5wasm');
type H5Entity = ReturnType<InstanceType<H5wasm['Group']>['get']>;

export type H5Attr = string | number | boolean | string[] | number[] | null;

export interface H5Dataset {
  kind: 'dataset';
  shape: number[];
  /** h5wasm's dtype string, e.g. '<f' (float32), '<e' (float16), '<d', '<q'. */
  dtype: string;
  /** The values as float32 (what recur computes in); null when they are not numbers. */
  values: Float32Array | null;
  attrs: Record<string, H5Attr>;
}

export interface H5Group {
  kind: 'group';
  attrs: Record<string, H5Attr>;
  /** Children in the order they are listed (creation order where the file tracks it, else by name). */
  children: Map<string, H5Node>;
}

export type H5Node = H5Group | H5Dataset;

let loading: Promise<H5wasm> | null = null;
/** HDF5's error stack of the current call (it prints it to stderr; recur keeps it for its own one-line errors). */
let diagnostics: string[] | null = null;

/**
 * h5wasm, loaded and initialised once. The HDF5 library prints its error stack (HDF5-DIAG …) through the
 * console.error it finds when it starts; recur routes those lines to `diagnostics` instead, so that a damaged file
 * gives one clear line, and passes everything else on.
 */
export function h5Library(): Promise<H5wasm> {
  loading ??= (async () => {
    const original = console.error;
    const route = (...args: unknown[]): void => {
      if (diagnostics) diagnostics.push(args.map(String).join(' '));
      else original(...args);
    };
    console.error = route;
    try {
      const h5 = await import('h5wasm');
      await h5.ready;
      return h5;
    } finally {
      if (console.error === route) console.error = original;
    }
  })();
  return loading;
}

/** The most specific line of HDF5's error stack (its innermost entry), or ''. */
function hdf5Reason(lines: string[]): string {
  const entries = lines.filter((l) => /#\d+:/.test(l));
  const last = entries[entries.length - 1];
  const m = last ? /in (\w+\(\)): (.*)$/.exec(last) : null;
  return m ? ` (HDF5: ${m[2]})` : '';
}

let counter = 0;
function memPath(): string {
  counter += 1;
  return `/recur-${counter}.h5`;
}

/** How many times its own size a file's datasets may declare (Keras writes them uncompressed: at most 1). */
const MAX_UNPACKED_RATIO = 16;

/** True when bytes start with the HDF5 signature (at offset 0, where Keras's files have it). */
export function isHdf5(bytes: Uint8Array): boolean {
  const sig = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  return bytes.length >= 8 && sig.every((b, i) => bytes[i] === b);
}

export interface ReadH5Options {
  /** Paths of groups not to read (e.g. optimizer state); their nodes are absent from the tree. */
  skip?: (path: string) => boolean;
}

/**
 * The whole HDF5 file as a tree. `where` names the file in errors. A file that is not HDF5, or that the HDF5
 * library cannot open (truncated, damaged), is an Error saying so.
 */
export async function readH5(bytes: Uint8Array, where: string, opts: ReadH5Options = {}): Promise<H5Group> {
  if (!isHdf5(bytes))
    throw new Error(`${where}: not an HDF5 file (it does not start with the HDF5 signature)`);
  const h5 = await h5Library();
  const path = memPath();
  h5.FS!.writeFile(path, bytes);
  let file: InstanceType<H5wasm['File']> | null = null;
  diagnostics = [];
  try {
    try {
      file = new h5.File(path, 'r');
    } catch (e) {
      throw new Error(
        `${where}: the HDF5 library cannot open it (truncated or damaged?): ${errorText(e)}${hdf5Reason(diagnostics)}`,
      );
    }
    if (file.file_id < 0n)
      throw new Error(
        `${where}: the HDF5 library cannot open it (truncated or damaged?)${hdf5Reason(diagnostics)}`,
      );
    const f = file;
    // What the datasets may unpack to: Keras stores them uncompressed, so their values fit in the file; a chunked
    // dataset declaring gigabytes it never wrote (read back as fill values) is refused before it is read.
    const budget = bytes.length * MAX_UNPACKED_RATIO + 2 ** 20;
    let declared = 0;
    const visit = (node: H5Entity, p: string): H5Node | null => {
      if (node instanceof h5.Group) {
        const children = new Map<string, H5Node>();
        for (const k of node.keys()) {
          const childPath = p === '' ? k : `${p}/${k}`;
          if (opts.skip?.(childPath)) continue;
          const child = visit(f.get(childPath), childPath);
          if (child) children.set(k, child);
        }
        return { kind: 'group', attrs: readAttrs(node, where, p), children };
      }
      if (node instanceof h5.Dataset) {
        const dtype = typeof node.dtype === 'string' ? node.dtype : JSON.stringify(node.dtype);
        let values: Float32Array | null = null;
        if (/^[<>]?[fiu]\d*$/.test(dtype) || /^[<>][efdbhilqBHILQ]$/.test(dtype)) {
          const shape = node.shape ?? [];
          const count = shape.reduce((a, b) => a * b, 1);
          declared += count * Math.max(1, node.metadata.size);
          if (declared > budget)
            throw new InvalidInputError(
              `${where}: dataset '/${p}' declares ${count} values of shape [${shape.join(', ')}], more than a ` +
                `${bytes.length}-byte file can hold; refused before reading (damaged or hostile file?)`,
            );
          values = HALF_FLOAT.test(dtype) ? halfFloatValues(h5, node, count, p) : toFloat32(node.value);
        }
        return { kind: 'dataset', shape: node.shape ?? [], dtype, values, attrs: readAttrs(node, where, p) };
      }
      return null; // links and named datatypes: Keras writes none
    };
    try {
      return visit(f, '') as H5Group;
    } catch (e) {
      if (e instanceof InvalidInputError) throw e;
      throw new Error(
        `${where}: cannot read it (truncated or damaged HDF5?): ${errorText(e)}${hdf5Reason(diagnostics)}`,
      );
    }
  } finally {
    try {
      if (file && file.file_id >= 0n) file.close();
    } finally {
      h5.FS!.unlink(path);
      diagnostics = null;
    }
  }
}

/** h5wasm's dtype of IEEE half floats (a Keras model saved with dtype='float16'), whose values it does not decode. */
export const HALF_FLOAT = /^[<>]e$/;

/**
 * A half-float dataset's values as float32 (exact: every half is a float32). h5wasm reads its bytes (HDF5 puts them
 * in little-endian order, as for its own reads) but has no typed array for them, so recur decodes them.
 */
function halfFloatValues(
  h5: H5wasm,
  node: InstanceType<H5wasm['Dataset']>,
  count: number,
  p: string,
): Float32Array {
  const m = h5.Module;
  const ptr = m._malloc(Math.max(1, count * 2));
  try {
    if (m.get_dataset_data(node.file_id, node.path, null, null, null, BigInt(ptr)) < 0)
      throw new Error(`dataset '/${p}' (float16) cannot be read`);
    const bits = new Uint16Array(m.HEAPU8.slice(ptr, ptr + count * 2).buffer);
    return Float32Array.from(bits, halfFloat);
  } finally {
    m._free(ptr);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function toFloat32(raw: unknown): Float32Array | null {
  if (raw instanceof Float32Array) return raw.slice();
  if (raw instanceof BigInt64Array || raw instanceof BigUint64Array)
    return Float32Array.from(raw, (v) => Number(v));
  if (ArrayBuffer.isView(raw) && !(raw instanceof DataView))
    return Float32Array.from(raw as unknown as ArrayLike<number>);
  if (typeof raw === 'number') return Float32Array.of(raw);
  if (typeof raw === 'bigint') return Float32Array.of(Number(raw));
  return null;
}

function readAttrs(
  node: { attrs: Record<string, { value: unknown }> },
  where: string,
  p: string,
): Record<string, H5Attr> {
  const out: Record<string, H5Attr> = {};
  for (const [name, a] of Object.entries(node.attrs)) {
    let v: unknown;
    try {
      v = a.value;
    } catch (e) {
      throw new Error(`${where}: attribute '${name}' of '/${p}' cannot be read: ${errorText(e)}`);
    }
    out[name] = attrValue(v);
  }
  return out;
}

function attrValue(v: unknown): H5Attr {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array && v.length > 0 && v.every((b) => b < 128)) return String.fromCharCode(...v);
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return v as string[];
    return v.map((x) => (typeof x === 'bigint' ? Number(x) : Number(x)));
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView))
    return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => Number(x));
  return null;
}

/** A group node to build a tree for writing. */
export function group(attrs: Record<string, H5Attr> = {}, children: [string, H5Node][] = []): H5Group {
  return { kind: 'group', attrs, children: new Map(children) };
}

/** A float32 dataset node. */
export function dataset(
  shape: readonly number[],
  values: Float32Array,
  attrs: Record<string, H5Attr> = {},
): H5Dataset {
  return { kind: 'dataset', shape: [...shape], dtype: '<f', values, attrs };
}

/**
 * The bytes of an HDF5 file holding `root`'s groups, float32 datasets and attributes (strings, string lists and
 * numbers), children in map order (tracked, as h5py writes Keras's files).
 */
export async function writeH5(root: H5Group): Promise<Uint8Array> {
  const h5 = await h5Library();
  const path = memPath();
  const file = new h5.File(path, 'w');
  try {
    const fill = (g: InstanceType<H5wasm['Group']>, node: H5Group): void => {
      writeAttrs(g, node.attrs);
      for (const [name, child] of node.children) {
        if (child.kind === 'group') fill(g.create_group(name), child);
        else {
          const d = g.create_dataset({
            name,
            data: child.values ?? new Float32Array(0),
            shape: child.shape,
            dtype: '<f',
          });
          writeAttrs(d, child.attrs);
        }
      }
    };
    fill(file, root);
  } catch (e) {
    file.close();
    h5.FS!.unlink(path);
    throw e;
  }
  file.close();
  try {
    return h5.FS!.readFile(path) as Uint8Array;
  } finally {
    h5.FS!.unlink(path);
  }
}

function writeAttrs(
  target: {
    create_attribute(
      name: string,
      data: string | number | string[] | number[],
      shape?: number[] | null,
      dtype?: string | null,
    ): void;
  },
  attrs: Record<string, H5Attr>,
): void {
  const bytes = (s: string): number => new TextEncoder().encode(s).length;
  for (const [name, v] of Object.entries(attrs)) {
    // HDF5 has no empty attribute arrays that every reader takes; Keras treats an absent list as empty.
    if (v === null || (Array.isArray(v) && v.length === 0)) continue;
    // Strings as fixed-length byte strings, as h5py writes Keras's attributes (numpy 'S' arrays), not in a heap.
    if (typeof v === 'string') target.create_attribute(name, v, null, `S${Math.max(1, bytes(v))}`);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string'))
      target.create_attribute(
        name,
        v as string[],
        [v.length],
        `S${(v as string[]).reduce((m, s) => Math.max(m, bytes(s)), 1)}`,
      );
    else target.create_attribute(name, typeof v === 'boolean' ? Number(v) : v);
  }
}
