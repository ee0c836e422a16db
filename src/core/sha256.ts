/**
 * SHA-256 (FIPS 180-4) in plain TypeScript, synchronous, for checking model files in any runtime: browsers have
 * only the asynchronous WebCrypto digest and no `node:crypto`. Streams its input through one 64-byte block at a time,
 * so hashing needs no copy of the data.
 */

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** Compresses 64-byte blocks of `bytes` starting at `offset` into the state `h`. */
function compress(h: Int32Array, w: Int32Array, bytes: Uint8Array, offset: number, blocks: number): void {
  let h0 = h[0];
  let h1 = h[1];
  let h2 = h[2];
  let h3 = h[3];
  let h4 = h[4];
  let h5 = h[5];
  let h6 = h[6];
  let h7 = h[7];
  for (let b = 0; b < blocks; b++) {
    const p = offset + b * 64;
    for (let i = 0; i < 16; i++) {
      const q = p + i * 4;
      w[i] = (bytes[q] << 24) | (bytes[q + 1] << 16) | (bytes[q + 2] << 8) | bytes[q + 3];
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15];
      const y = w[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h0;
    let bb = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let f = h5;
    let g = h6;
    let hh = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & bb) ^ (a & c) ^ (bb & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = bb;
      bb = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + bb) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + hh) | 0;
  }
  h[0] = h0;
  h[1] = h1;
  h[2] = h2;
  h[3] = h3;
  h[4] = h4;
  h[5] = h5;
  h[6] = h6;
  h[7] = h7;
}

/** A native SHA-256 the host installs (Node: node:crypto's, ≈ 12× this file's), or null for the one here. */
let nativeSha256Hex: ((bytes: Uint8Array) => string) | null = null;

/**
 * Installs a faster SHA-256 for `sha256Hex` (src/node installs node:crypto's), or with null goes back to this
 * file's. Every model load and save hashes its weights file: 3.5 MB took ≈ 70 ms here in a fresh process.
 */
export function installSha256Hex(native: ((bytes: Uint8Array) => string) | null): void {
  nativeSha256Hex = native;
}

/** The SHA-256 installSha256Hex installed, or null. */
export function installedSha256Hex(): ((bytes: Uint8Array) => string) | null {
  return nativeSha256Hex;
}

/** SHA-256 of `bytes` as 64 lowercase hex digits (the installed native one, else this file's). */
export function sha256Hex(bytes: Uint8Array): string {
  return nativeSha256Hex ? nativeSha256Hex(bytes) : sha256HexPortable(bytes);
}

/**
 * This file's SHA-256, whatever is installed: every runtime has it, and it is the oracle the native one is tested
 * against.
 */
export function sha256HexPortable(bytes: Uint8Array): string {
  const h = Int32Array.from([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Int32Array(64);
  const full = Math.floor(bytes.length / 64);
  compress(h, w, bytes, 0, full);
  // The tail, the 0x80 marker and the 64-bit big-endian bit length: one or two more blocks.
  const rest = bytes.length - full * 64;
  const tail = new Uint8Array(rest < 56 ? 64 : 128);
  tail.set(bytes.subarray(full * 64));
  tail[rest] = 0x80;
  const bits = bytes.length * 8;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
  view.setUint32(tail.length - 4, bits >>> 0);
  compress(h, w, tail, 0, tail.length / 64);
  let hex = '';
  for (let i = 0; i < 8; i++) hex += (h[i] >>> 0).toString(16).padStart(8, '0');
  return hex;
}

/** SHA-256 of a string's UTF-8 bytes, as hex. */
export function sha256HexOfText(text: string): string {
  return sha256Hex(new TextEncoder().encode(text));
}
