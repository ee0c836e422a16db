/**
 * Reference kernels: plain TypeScript loops, written for clarity. They are the oracle every fast kernel is tested
 * against, and the fallback where WebAssembly SIMD is unavailable.
 */
import { Act, GEMV_PANEL, type Kernels } from './kernels.js';

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** SELU's constants, as Keras (and TensorFlow, tfjs) define them. */
export const SELU_ALPHA = 1.6732632423543772;
export const SELU_SCALE = 1.0507009873554805;
/** Keras 3's leaky_relu default negative slope (the string 'leaky_relu' carries no other). */
export const LEAKY_RELU_SLOPE = 0.2;
const GELU_TANH_C = Math.sqrt(2 / Math.PI);

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/**
 * erf(t) for t ≥ 0 by its series of positive terms, 2/√π · exp(−t²) · Σ 2ⁿ t²ⁿ⁺¹ / (2n+1)!!, which has no
 * cancellation (to ≈1e-15 up to t = 6, beyond which erf is 1 in double).
 */
function erfPositive(t: number): number {
  if (t > 6) return 1;
  let term = t;
  let sum = t;
  for (let n = 1; term > 1e-17 * sum; n++) {
    term *= (2 * t * t) / (2 * n + 1);
    sum += term;
  }
  return Math.min(1, (2 / Math.sqrt(Math.PI)) * Math.exp(-t * t) * sum);
}

/** erfc(t) for t ≥ 2 by its continued fraction, exp(−t²)/√π / (t + ½/(t + 1/(t + (3/2)/(t + …)))). */
function erfcLarge(t: number): number {
  let f = t;
  for (let k = 200; k >= 1; k--) f = t + k / 2 / f;
  return Math.exp(-t * t) / (Math.sqrt(Math.PI) * f);
}

/** Φ(x), the standard normal CDF, with full relative precision in the lower tail (where 1 − erf cancels). */
function normalCdf(x: number): number {
  const t = Math.abs(x) / Math.SQRT2;
  if (x >= 0) return 0.5 * (1 + erfPositive(t));
  return t < 2 ? 0.5 * (1 - erfPositive(t)) : 0.5 * erfcLarge(t);
}

function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/** f(x) for a scalar activation (not softmax or log-softmax). */
export function applyAct(act: Act, x: number): number {
  switch (act) {
    case Act.Linear:
      return x;
    case Act.Relu:
      return x > 0 ? x : 0;
    case Act.Tanh:
      return Math.tanh(x);
    case Act.Sigmoid:
      return sigmoid(x);
    case Act.HardSigmoid:
      return x <= -2.5 ? 0 : x >= 2.5 ? 1 : 0.2 * x + 0.5;
    case Act.HardSigmoid6:
      return x <= -3 ? 0 : x >= 3 ? 1 : x / 6 + 0.5;
    case Act.Elu:
      return x > 0 ? x : Math.expm1(x);
    case Act.Selu:
      return SELU_SCALE * (x > 0 ? x : SELU_ALPHA * Math.expm1(x));
    case Act.Softplus:
      return softplus(x);
    case Act.Softsign:
      return x / (1 + Math.abs(x));
    case Act.Relu6:
      return x <= 0 ? 0 : x >= 6 ? 6 : x;
    case Act.Exponential:
      return Math.exp(x);
    case Act.LeakyRelu:
      return x > 0 ? x : LEAKY_RELU_SLOPE * x;
    case Act.Gelu:
      return x * normalCdf(x);
    case Act.GeluTanh:
      return 0.5 * x * (1 + Math.tanh(GELU_TANH_C * (x + 0.044715 * x * x * x)));
    case Act.Swish:
      return x * sigmoid(x);
    case Act.Mish:
      return x * Math.tanh(softplus(x));
    case Act.HardSilu:
      return x <= -3 ? 0 : x >= 3 ? x : (x * (x + 3)) / 6;
    case Act.HardTanh:
      return x <= -1 ? -1 : x >= 1 ? 1 : x;
    case Act.SparseSigmoid:
      return x <= -1 ? 0 : x >= 1 ? 1 : 0.5 * (x + 1);
    case Act.SoftShrink:
      return x > 0.5 ? x - 0.5 : x < -0.5 ? x + 0.5 : 0;
    case Act.HardShrink:
      return Math.abs(x) > 0.5 ? x : 0;
    case Act.LogSigmoid:
      return -softplus(-x);
    case Act.TanhShrink:
      return x - Math.tanh(x);
    case Act.SparsePlus:
      return x <= -1 ? 0 : x >= 1 ? x : 0.25 * (x + 1) * (x + 1);
    case Act.Squareplus:
      // x + √(x² + 4) cancels for x ≪ 0: there it is 4/(√(x² + 4) − x).
      return x >= 0 ? 0.5 * (x + Math.hypot(x, 2)) : 2 / (Math.hypot(x, 2) - x);
    case Act.Softmax:
    case Act.LogSoftmax:
      throw new Error('softmax is not an elementwise activation');
  }
}

/** f′ expressed through the output y = f(x), for the activations whose derivative follows from it. */
export function actGradFromOutput(act: Act, y: number): number {
  switch (act) {
    case Act.Linear:
      return 1;
    case Act.Relu:
      return y > 0 ? 1 : 0;
    case Act.Tanh:
      return 1 - y * y;
    case Act.Sigmoid:
      return y * (1 - y);
    case Act.HardSigmoid:
      return y > 0 && y < 1 ? 0.2 : 0;
    case Act.HardSigmoid6:
      return y > 0 && y < 1 ? 1 / 6 : 0;
    case Act.Elu:
      return y > 0 ? 1 : y + 1;
    case Act.Selu:
      return y > 0 ? SELU_SCALE : y + SELU_SCALE * SELU_ALPHA;
    case Act.Softplus:
      // sigmoid(x) = 1 − exp(−y)
      return -Math.expm1(-y);
    case Act.Softsign:
      // 1/(1 + |x|)² = (1 − |y|)²
      return (1 - Math.abs(y)) * (1 - Math.abs(y));
    case Act.Relu6:
      return y > 0 && y < 6 ? 1 : 0;
    case Act.Exponential:
      return y;
    case Act.LeakyRelu:
      return y > 0 ? 1 : LEAKY_RELU_SLOPE;
    case Act.HardTanh:
      return y > -1 && y < 1 ? 1 : 0;
    case Act.SparseSigmoid:
      return y > 0 && y < 1 ? 0.5 : 0;
    case Act.SoftShrink:
    case Act.HardShrink:
      return y !== 0 ? 1 : 0;
    case Act.LogSigmoid:
      // sigmoid(−x) = 1 − exp(y)
      return -Math.expm1(y);
    case Act.SparsePlus:
      // (x + 1)/2 = √y inside (−1, 1)
      return y <= 0 ? 0 : y >= 1 ? 1 : Math.sqrt(y);
    case Act.Squareplus:
      // y²/(y² + 1), written so that neither y² overflows nor 1/y² does harm
      return 1 / (1 + 1 / (y * y));
    case Act.Gelu:
    case Act.GeluTanh:
    case Act.Swish:
    case Act.Mish:
    case Act.HardSilu:
    case Act.TanhShrink:
      throw new Error(`activation ${act}: the derivative needs the input`);
    case Act.Softmax:
    case Act.LogSoftmax:
      throw new Error('softmax is not an elementwise activation');
  }
}

/** f′(x) from the input, for every elementwise activation. */
export function actGradFromInput(act: Act, x: number): number {
  switch (act) {
    case Act.Gelu:
      return normalCdf(x) + x * normalPdf(x);
    case Act.GeluTanh: {
      const th = Math.tanh(GELU_TANH_C * (x + 0.044715 * x * x * x));
      return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_TANH_C * (1 + 3 * 0.044715 * x * x);
    }
    case Act.Swish: {
      const s = sigmoid(x);
      return s * (1 + x * (1 - s));
    }
    case Act.Mish: {
      const th = Math.tanh(softplus(x));
      return th + x * (1 - th * th) * sigmoid(x);
    }
    case Act.HardSilu:
      return x <= -3 ? 0 : x >= 3 ? 1 : (2 * x + 3) / 6;
    case Act.TanhShrink:
      return Math.tanh(x) ** 2;
    case Act.Softplus:
      return sigmoid(x);
    case Act.LogSigmoid:
      return sigmoid(-x);
    case Act.Exponential:
      return Math.exp(x);
    default:
      // The rest: the derivative at the output f(x) (exact for them; their kinks as actGradFromOutput places them).
      return actGradFromOutput(act, applyAct(act, x));
  }
}

export const referenceKernels: Kernels = {
  name: 'reference',

  alloc: (n) => new Float32Array(n),
  // NaN, so that a caller that reads before writing fails every test run on the reference kernels.
  allocUninitialized: (n) => new Float32Array(n).fill(NaN),
  allocInt32: (n) => new Int32Array(n),
  allocPersistent: (n) => new Float32Array(n),
  beginScope: () => 0,
  endScope: () => undefined,
  // Plain arrays: the garbage collector reclaims them, owned or not.
  ownedBy: (_owner, make) => make(),
  release: (owner) => void (owner.held.length = 0),

  gemm(transA, transB, M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate) {
    if (!accumulate) {
      for (let i = 0; i < M; i++) C.fill(0, cOff + i * ldc, cOff + i * ldc + N);
    }
    if (!transA && !transB) {
      // i-k-j order: the inner loop streams rows of B and C.
      for (let i = 0; i < M; i++) {
        const cRow = cOff + i * ldc;
        for (let k = 0; k < K; k++) {
          const a = A[aOff + i * lda + k];
          if (a === 0) continue;
          const bRow = bOff + k * ldb;
          for (let j = 0; j < N; j++) C[cRow + j] += a * B[bRow + j];
        }
      }
    } else if (transA && !transB) {
      // A is stored K×M.
      for (let k = 0; k < K; k++) {
        const bRow = bOff + k * ldb;
        for (let i = 0; i < M; i++) {
          const a = A[aOff + k * lda + i];
          if (a === 0) continue;
          const cRow = cOff + i * ldc;
          for (let j = 0; j < N; j++) C[cRow + j] += a * B[bRow + j];
        }
      }
    } else if (!transA && transB) {
      // B is stored N×K: dot products of rows.
      for (let i = 0; i < M; i++) {
        const aRow = aOff + i * lda;
        for (let j = 0; j < N; j++) {
          const bRow = bOff + j * ldb;
          let s = 0;
          for (let k = 0; k < K; k++) s += A[aRow + k] * B[bRow + k];
          C[cOff + i * ldc + j] += s;
        }
      }
    } else {
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += A[aOff + k * lda + i] * B[bOff + j * ldb + k];
          C[cOff + i * ldc + j] += s;
        }
      }
    }
  },

  addBias(x, off, M, N, ldx, bias, bOff) {
    for (let i = 0; i < M; i++) {
      const r = off + i * ldx;
      for (let j = 0; j < N; j++) x[r + j] += bias[bOff + j];
    }
  },

  sumRows(x, off, M, N, ldx, out, oOff) {
    for (let i = 0; i < M; i++) {
      const r = off + i * ldx;
      for (let j = 0; j < N; j++) out[oOff + j] += x[r + j];
    }
  },

  activate(act, x, off, M, N, ldx) {
    if (act === Act.Linear) return;
    for (let i = 0; i < M; i++) {
      const r = off + i * ldx;
      if (act === Act.Softmax) {
        let max = -Infinity;
        for (let j = 0; j < N; j++) if (x[r + j] > max) max = x[r + j];
        let sum = 0;
        for (let j = 0; j < N; j++) {
          const e = Math.exp(x[r + j] - max);
          x[r + j] = e;
          sum += e;
        }
        for (let j = 0; j < N; j++) x[r + j] /= sum;
      } else if (act === Act.LogSoftmax) {
        let max = -Infinity;
        for (let j = 0; j < N; j++) if (x[r + j] > max) max = x[r + j];
        let sum = 0;
        for (let j = 0; j < N; j++) sum += Math.exp(x[r + j] - max);
        const shift = max + Math.log(sum);
        for (let j = 0; j < N; j++) x[r + j] -= shift;
      } else {
        for (let j = 0; j < N; j++) x[r + j] = applyAct(act, x[r + j]);
      }
    }
  },

  activateBackward(act, y, yOff, dy, dyOff, M, N, ld) {
    if (act === Act.Linear) return;
    for (let i = 0; i < M; i++) {
      const yr = yOff + i * ld;
      const dr = dyOff + i * ld;
      if (act === Act.Softmax) {
        let dot = 0;
        for (let j = 0; j < N; j++) dot += dy[dr + j] * y[yr + j];
        for (let j = 0; j < N; j++) dy[dr + j] = y[yr + j] * (dy[dr + j] - dot);
      } else if (act === Act.LogSoftmax) {
        // ∂/∂x of x − logΣexp(x): dy − softmax · Σ dy, softmax = exp(y).
        let total = 0;
        for (let j = 0; j < N; j++) total += dy[dr + j];
        for (let j = 0; j < N; j++) dy[dr + j] -= Math.exp(y[yr + j]) * total;
      } else {
        for (let j = 0; j < N; j++) dy[dr + j] *= actGradFromOutput(act, y[yr + j]);
      }
    }
  },

  activateBackwardFromInput(act, x, xOff, dy, dyOff, M, N, ld) {
    if (act === Act.Softmax || act === Act.LogSoftmax)
      throw new Error('activateBackwardFromInput: softmax is not an elementwise activation');
    for (let i = 0; i < M; i++) {
      const xr = xOff + i * ld;
      const dr = dyOff + i * ld;
      for (let j = 0; j < N; j++) dy[dr + j] *= actGradFromInput(act, x[xr + j]);
    }
  },

  gatherRows(idx, R, W, N, out, scale, accumulate) {
    for (let r = 0; r < R; r++) {
      const o = r * N;
      const id = idx[r];
      const s = scale === null ? 1 : scale[r];
      if (id < 0 || s === 0) {
        if (!accumulate) out.fill(0, o, o + N);
        continue;
      }
      const w = id * N;
      if (accumulate) for (let j = 0; j < N; j++) out[o + j] += s * W[w + j];
      else for (let j = 0; j < N; j++) out[o + j] = s * W[w + j];
    }
  },

  scatterAddRows(idx, R, dOut, N, dW, scale) {
    for (let r = 0; r < R; r++) {
      const id = idx[r];
      const s = scale === null ? 1 : scale[r];
      if (id < 0 || s === 0) continue;
      const o = r * N;
      const w = id * N;
      for (let j = 0; j < N; j++) dW[w + j] += s * dOut[o + j];
    }
  },

  lstmCellForward(N, H, gates, gOff, cPrev, cpOff, c, cOff, h, hOff, act, recAct) {
    for (let n = 0; n < N; n++) {
      const g = gOff + n * 4 * H;
      for (let j = 0; j < H; j++) {
        const i = applyAct(recAct, gates[g + j]);
        const f = applyAct(recAct, gates[g + H + j]);
        const cand = applyAct(act, gates[g + 2 * H + j]);
        const o = applyAct(recAct, gates[g + 3 * H + j]);
        gates[g + j] = i;
        gates[g + H + j] = f;
        gates[g + 2 * H + j] = cand;
        gates[g + 3 * H + j] = o;
        const cv = f * cPrev[cpOff + n * H + j] + i * cand;
        c[cOff + n * H + j] = cv;
        h[hOff + n * H + j] = o * applyAct(act, cv);
      }
    }
  },

  lstmCellBackward(N, H, gates, gOff, cPrev, cpOff, c, cOff, dh, dc, dGates, dgOff, act, recAct) {
    for (let n = 0; n < N; n++) {
      const g = gOff + n * 4 * H;
      const dg = dgOff + n * 4 * H;
      for (let j = 0; j < H; j++) {
        const i = gates[g + j];
        const f = gates[g + H + j];
        const cand = gates[g + 2 * H + j];
        const o = gates[g + 3 * H + j];
        const tc = applyAct(act, c[cOff + n * H + j]);
        const dhv = dh[n * H + j];
        const dcv = dc[n * H + j] + dhv * o * actGradFromOutput(act, tc);
        dGates[dg + j] = dcv * cand * actGradFromOutput(recAct, i);
        dGates[dg + H + j] = dcv * cPrev[cpOff + n * H + j] * actGradFromOutput(recAct, f);
        dGates[dg + 2 * H + j] = dcv * i * actGradFromOutput(act, cand);
        dGates[dg + 3 * H + j] = dhv * tc * actGradFromOutput(recAct, o);
        dc[n * H + j] = dcv * f;
      }
    }
  },

  gruCellForward(N, H, xp, xpOff, rp, rpOff, hPrev, hpOff, h, hOff, act, recAct) {
    for (let n = 0; n < N; n++) {
      const g = xpOff + n * 3 * H;
      const q = rpOff + n * 3 * H;
      for (let j = 0; j < H; j++) {
        const z = applyAct(recAct, xp[g + j] + rp[q + j]);
        const r = applyAct(recAct, xp[g + H + j] + rp[q + H + j]);
        const hh = applyAct(act, xp[g + 2 * H + j] + r * rp[q + 2 * H + j]);
        xp[g + j] = z;
        xp[g + H + j] = r;
        xp[g + 2 * H + j] = hh;
        h[hOff + n * H + j] = z * hPrev[hpOff + n * H + j] + (1 - z) * hh;
      }
    }
  },

  gruCellBackward(
    N,
    H,
    gates,
    gOff,
    rp,
    rpOff,
    hPrev,
    hpOff,
    dh,
    dxp,
    dxpOff,
    drp,
    drpOff,
    dhPrev,
    act,
    recAct,
  ) {
    for (let n = 0; n < N; n++) {
      const g = gOff + n * 3 * H;
      const q = rpOff + n * 3 * H;
      const dx = dxpOff + n * 3 * H;
      const dr = drpOff + n * 3 * H;
      for (let j = 0; j < H; j++) {
        const z = gates[g + j];
        const r = gates[g + H + j];
        const hh = gates[g + 2 * H + j];
        const d = dh[n * H + j];
        const dz = d * (hPrev[hpOff + n * H + j] - hh) * actGradFromOutput(recAct, z);
        const da = d * (1 - z) * actGradFromOutput(act, hh);
        const drr = da * rp[q + 2 * H + j] * actGradFromOutput(recAct, r);
        dxp[dx + j] = dz;
        dxp[dx + H + j] = drr;
        dxp[dx + 2 * H + j] = da;
        drp[dr + j] = dz;
        drp[dr + H + j] = drr;
        drp[dr + 2 * H + j] = da * r;
        dhPrev[n * H + j] = d * z;
      }
    }
  },

  gruResetGate(N, H, xp, xpOff, hm, hmOff, rh, rhOff, recAct) {
    const G = 3 * H;
    for (let n = 0; n < N; n++) {
      const g = xpOff + n * G;
      for (let j = 0; j < 2 * H; j++) xp[g + j] = applyAct(recAct, xp[g + j]);
      for (let j = 0; j < H; j++) rh[rhOff + n * H + j] = xp[g + H + j] * hm[hmOff + n * H + j];
    }
  },

  gruResetOutput(N, H, xp, xpOff, hPrev, hpOff, h, hOff, act) {
    const G = 3 * H;
    for (let n = 0; n < N; n++) {
      const g = xpOff + n * G;
      for (let j = 0; j < H; j++) {
        const hh = applyAct(act, xp[g + 2 * H + j]);
        xp[g + 2 * H + j] = hh;
        const z = xp[g + j];
        h[hOff + n * H + j] = z * hPrev[hpOff + n * H + j] + (1 - z) * hh;
      }
    }
  },

  gruResetOutputBackward(N, H, gates, gOff, hPrev, hpOff, dh, dxp, dxpOff, dhPrev, act, recAct) {
    const G = 3 * H;
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < H; j++) {
        const z = gates[gOff + n * G + j];
        const hh = gates[gOff + n * G + 2 * H + j];
        const d = dh[n * H + j];
        dxp[dxpOff + n * G + j] = d * (hPrev[hpOff + n * H + j] - hh) * actGradFromOutput(recAct, z);
        dxp[dxpOff + n * G + 2 * H + j] = d * (1 - z) * actGradFromOutput(act, hh);
        dhPrev[n * H + j] = d * z;
      }
    }
  },

  gruResetGateBackward(N, H, gates, gOff, hm, hmOff, drh, dxp, dxpOff, dhm, recAct) {
    const G = 3 * H;
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < H; j++) {
        const r = gates[gOff + n * G + H + j];
        dxp[dxpOff + n * G + H + j] = drh[n * H + j] * hm[hmOff + n * H + j] * actGradFromOutput(recAct, r);
        dhm[n * H + j] = drh[n * H + j] * r;
      }
    }
  },

  rmspropUpdate(n, w, g, v, m, mg, lr, rho, eps, momentum, epsOutside) {
    for (let i = 0; i < n; i++) {
      const gi = g[i];
      v[i] = rho * v[i] + (1 - rho) * gi * gi;
      let ms = v[i];
      if (mg) {
        mg[i] = rho * mg[i] + (1 - rho) * gi;
        ms -= mg[i] * mg[i];
      }
      const inc = (lr * gi) / (epsOutside ? Math.sqrt(ms) + eps : Math.sqrt(ms + eps));
      if (m) {
        m[i] = momentum * m[i] + inc;
        w[i] -= m[i];
      } else {
        w[i] -= inc;
      }
    }
  },

  sgdUpdate(n, w, g, m, lr, momentum, nesterov) {
    for (let i = 0; i < n; i++) {
      if (!m) {
        w[i] -= lr * g[i];
        continue;
      }
      m[i] = momentum * m[i] - lr * g[i];
      w[i] += nesterov ? momentum * m[i] - lr * g[i] : m[i];
    }
  },

  adagradUpdate(n, w, g, a, lr, eps) {
    for (let i = 0; i < n; i++) {
      a[i] += g[i] * g[i];
      w[i] -= (lr * g[i]) / Math.sqrt(a[i] + eps);
    }
  },

  adamUpdate(n, w, g, m, v, alpha, beta1, beta2, eps) {
    for (let i = 0; i < n; i++) {
      const gi = g[i];
      m[i] += (gi - m[i]) * (1 - beta1);
      v[i] += (gi * gi - v[i]) * (1 - beta2);
      w[i] -= (alpha * m[i]) / (Math.sqrt(v[i]) + eps);
    }
  },

  kerasRelu(x, off, n, negativeSlope, threshold, maxValue) {
    const slope = Math.fround(negativeSlope);
    const t = Math.fround(threshold);
    const max = Math.fround(maxValue);
    for (let i = off; i < off + n; i++) {
      const v = x[i];
      let p = t !== 0 ? (v > t ? v : 0) : Math.max(v, 0);
      if (max !== Infinity) p = Math.min(Math.max(p, 0), max);
      const below = t - v > 0 ? Math.fround(t - v) : 0;
      x[i] = p - Math.fround(slope * below);
    }
  },

  kerasReluBackward(x, xOff, dy, dyOff, n, negativeSlope, threshold, maxValue) {
    const slope = Math.fround(negativeSlope);
    const t = Math.fround(threshold);
    const max = Math.fround(maxValue);
    for (let i = 0; i < n; i++) {
      const v = x[xOff + i];
      const passes = t !== 0 ? v > t : v > 0;
      let d = passes && (max === Infinity || (v >= 0 && v <= max)) ? 1 : 0;
      if (t - v > 0) d += slope;
      dy[dyOff + i] = Math.fround(dy[dyOff + i] * d);
    }
  },

  mulInPlace(x, xOff, m, mOff, n) {
    for (let i = 0; i < n; i++) x[xOff + i] *= m[mOff + i];
  },

  addInPlace(x, xOff, y, yOff, n) {
    for (let i = 0; i < n; i++) x[xOff + i] += y[yOff + i];
  },

  sumOfSquares(x, xOff, n, from) {
    let sq = from;
    for (let i = 0; i < n; i++) {
      const v = x[xOff + i];
      sq += v * v;
    }
    return sq;
  },

  // The reference GEMM has no packed layout: the "packed" copy is B itself, row by row, and the product ignores it.
  packGemmB(K, N, B, bOff, ldb, out, outOff) {
    const N8 = N - (N % 8);
    for (let k = 0; k < K; k++) for (let j = 0; j < N8; j++) out[outOff + k * N8 + j] = B[bOff + k * ldb + j];
  },

  gemmPackedB(transA, M, N, K, A, aOff, lda, B, bOff, ldb, _packed, _pOff, C, cOff, ldc, accumulate) {
    this.gemm(transA, false, M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate);
  },

  packGemvPanels(K, N, B, bOff, ldb, out, outOff) {
    let o = outOff;
    for (let j = 0; j < N; j += GEMV_PANEL) {
      for (let k = 0; k < K; k++) {
        for (let t = 0; t < GEMV_PANEL; t++) out[o++] = j + t < N ? B[bOff + k * ldb + j + t] : 0;
      }
    }
  },

  gemvPacked(M, N, K, A, aOff, lda, packed, pOff, C, cOff, ldc, accumulate) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        const panel = pOff + Math.floor(j / GEMV_PANEL) * GEMV_PANEL * K;
        const col = j % GEMV_PANEL;
        let s = 0;
        for (let k = 0; k < K; k++) s += A[aOff + i * lda + k] * packed[panel + k * GEMV_PANEL + col];
        C[cOff + i * ldc + j] = accumulate ? C[cOff + i * ldc + j] + s : s;
      }
    }
  },

  transpose(R, C, src, sOff, dst, dOff) {
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) dst[dOff + c * R + r] = src[sOff + r * C + c];
  },

  softmaxCrossEntropy(logits, R, V, labels, targets, grad, gradScale) {
    let total = 0;
    for (let r = 0; r < R; r++) {
      const o = r * V;
      let max = -Infinity;
      for (let j = 0; j < V; j++) if (logits[o + j] > max) max = logits[o + j];
      let sum = 0;
      for (let j = 0; j < V; j++) sum += Math.exp(logits[o + j] - max);
      const logZ = max + Math.log(sum);
      if (labels !== null) {
        const y = labels[r];
        total += logZ - logits[o + y];
        if (grad !== null) {
          for (let j = 0; j < V; j++) grad[o + j] = Math.exp(logits[o + j] - logZ) * gradScale;
          grad[o + y] -= gradScale;
        }
      } else if (targets !== null) {
        let tsum = 0;
        for (let j = 0; j < V; j++) {
          total += targets[o + j] * (logZ - logits[o + j]);
          tsum += targets[o + j];
        }
        if (grad !== null) {
          for (let j = 0; j < V; j++) {
            grad[o + j] = (Math.exp(logits[o + j] - logZ) * tsum - targets[o + j]) * gradScale;
          }
        }
      }
    }
    return total;
  },

  sumExp(n, x, off, shift) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(x[off + i] - shift);
    return sum;
  },

  sampleLogits(n, x, off, t, r) {
    let best = 0;
    for (let j = 1; j < n; j++) if (x[off + j] > x[off + best]) best = j;
    if (t === 0) return best;
    const max = x[off + best];
    const w = new Float64Array(n);
    let z = 0;
    for (let j = 0; j < n; j++) {
      w[j] = Math.exp((x[off + j] - max) / t);
      z += w[j];
    }
    let u = r * z;
    for (let j = 0; j < n; j++) {
      u -= w[j];
      if (u < 0) return j;
    }
    return best;
  },
};
