/**
 * Node 20 ships relaxed SIMD (real FMA) behind a V8 flag that NODE_OPTIONS refuses; setting it at run time, before
 * any module is compiled, lets the relaxed build validate. Newer Node versions enable it by default. Import this
 * module first (recur/node and the CLI do).
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--experimental-wasm-relaxed-simd');
