/**
 * Optimizers with Keras 3 update rules and defaults. Each keeps per-weight slots (named as tfjs names them, e.g.
 * `lstm/kernel/rms`) that can be saved with the model and restored for an exact resume.
 *
 *   sgd:      m ← μm − ηg;  w ← w + m   (nesterov: w ← w + μm − ηg)
 *   rmsprop:  v ← ρv + (1−ρ)g²;  Δ = ηg/√(v+ε)  (centered: v − ḡ²);  with momentum m ← μm + Δ, w ← w − m
 *             epsilonOutside: Δ = ηg/(√v+ε), the Keras 2 / PyTorch form (not a Keras 3 option; see RMSpropArgs)
 *   adam:     m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  w ← w − η·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v+ε)
 *   adagrad:  a ← a + g²  (a₀ = 0.1);  w ← w − ηg/√(a+ε)
 *
 * Gradient clipping before the update, as Keras: clipnorm (per weight), globalClipnorm (all weights), clipvalue.
 */
import { describeValue } from '../core/errors.js';
import { kernels } from '../core/backend.js';
import { MemoryOwner } from '../core/kernels.js';
import type { Weight } from '../layers/layer.js';

export interface OptimizerArgs {
  learningRate?: number;
  /** Rescale each weight's gradient to at most this L2 norm. */
  clipnorm?: number;
  /** Rescale all gradients together to at most this global L2 norm. */
  globalClipnorm?: number;
  /** Clip every gradient element to [−clipvalue, clipvalue]. */
  clipvalue?: number;
  /**
   * Keep an exponential moving average of every trainable weight (Polyak averaging; Keras 3's `use_ema` with
   * `ema_momentum`): after each update, average ← m·average + (1 − m)·weight, the first update copying the weight.
   * The averages are an optimizer slot ('ema'), so they are saved and restored with its state; swapAverages() puts
   * them into the model for evaluation and back. In [0, 1); saved in the config only when set.
   */
  emaMomentum?: number;
}
export interface SGDArgs extends OptimizerArgs {
  momentum?: number;
  nesterov?: boolean;
}
export interface RMSpropArgs extends OptimizerArgs {
  rho?: number;
  momentum?: number;
  epsilon?: number;
  centered?: boolean;
  /**
   * Add ε outside the square root, lr·g/(√v + ε), as Keras 2, PyTorch and the Keras text-generation tutorial did,
   * instead of inside, lr·g/√(v + ε), as Keras 3 and tfjs do (the default). Weights whose gradients are rare and
   * small (input rows of rare characters) take full-size steps with it: the recipe's first epoch ends 0.05 lower
   * (BENCHMARKS.md). Saved in the optimizer config (as `epsilonOutside`) only when true.
   */
  epsilonOutside?: boolean;
}
export interface AdamArgs extends OptimizerArgs {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}
export interface AdagradArgs extends OptimizerArgs {
  initialAccumulatorValue?: number;
  epsilon?: number;
}

/** Keras 3 defaults. */
export const OPTIMIZER_DEFAULTS = {
  sgd: { learningRate: 0.01, momentum: 0, nesterov: false },
  rmsprop: {
    learningRate: 0.001,
    rho: 0.9,
    momentum: 0,
    epsilon: 1e-7,
    centered: false,
    epsilonOutside: false,
  },
  adam: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  adagrad: { learningRate: 0.001, initialAccumulatorValue: 0.1, epsilon: 1e-7 },
} as const;

export type OptimizerName = keyof typeof OPTIMIZER_DEFAULTS;

/** Keras's compile defaults: `optimizer="rmsprop"` (keras.Model.compile), made with its Keras defaults. */
export const COMPILE_DEFAULTS = { optimizer: 'rmsprop' } as const satisfies { optimizer: OptimizerName };

/** A named weight for the optimizer: the file name (`layer/weight`) and the weight itself. */
export interface NamedWeight {
  name: string;
  weight: Weight;
}

export interface SlotValue {
  name: string;
  shape: number[];
  value: Float32Array;
}

function checkKeys(where: string, args: object, allowed: string[]): void {
  const known = new Set([
    ...allowed,
    'learningRate',
    'clipnorm',
    'globalClipnorm',
    'clipvalue',
    'emaMomentum',
  ]);
  for (const k of Object.keys(args)) if (!known.has(k)) throw new Error(`${where}: unknown option '${k}'`);
}

/** A finite number above 0 (or, with `least` 0, at least 0) when given. */
function checkNumber(where: string, key: string, v: number | undefined, least?: 0): void {
  if (v === undefined) return;
  if (!(typeof v === 'number' && Number.isFinite(v) && (least === 0 ? v >= 0 : v > 0)))
    throw new Error(
      `${where}: '${key}' must be ${least === 0 ? 'a number ≥ 0' : 'a positive number'}, got ${describeValue(v)}`,
    );
}

/**
 * A decay rate or momentum when given: in [0, 1), or [0, 1] with `closed` (SGD's momentum, as Keras checks it). Outside
 * it the update diverges or stops learning, so it is refused instead of trained with.
 */
function checkRate(where: string, key: string, v: number | undefined, closed = false): void {
  if (v === undefined) return;
  if (!(typeof v === 'number' && v >= 0 && (closed ? v <= 1 : v < 1)))
    throw new Error(`${where}: '${key}' must be in [0, 1${closed ? ']' : ')'}, got ${describeValue(v)}`);
}

/**
 * `from` + Σ x² in double precision, element by element in order (one running sum over several weights, so the
 * clipping scale is bit for bit the same on every kernel set). The wasm kernel skips zeros: an embedding's gradient
 * is mostly zero rows, and a JS loop over it cost as much as a short batch's whole backward pass.
 */
function sumOfSquares(x: Float32Array, from = 0): number {
  return kernels().sumOfSquares(x, 0, x.length, from);
}

export abstract class Optimizer {
  abstract readonly className: string;
  learningRate: number;
  readonly clipnorm?: number;
  readonly globalClipnorm?: number;
  readonly clipvalue?: number;
  readonly emaMomentum?: number;
  /** Updates applied so far (Keras `iterations`). */
  iterations = 0;
  protected slots = new Map<string, Float32Array[]>();
  /** Holds the slots' kernel memory, given back at once by `dispose` (and when setWeights replaces the slots). */
  private slotMemory = new MemoryOwner();
  /** Weights whose slots were just allocated: their average starts as a copy of the weight after this update. */
  private readonly fresh = new Set<string>();

  constructor(args: OptimizerArgs, defaultLr: number, where: string) {
    this.learningRate = args.learningRate ?? defaultLr;
    // 0 is a rate (Keras takes it): where a cosine schedule ends, and what a model saved there holds.
    checkNumber(where, 'learningRate', this.learningRate, 0);
    checkNumber(where, 'clipnorm', args.clipnorm);
    checkNumber(where, 'globalClipnorm', args.globalClipnorm);
    checkNumber(where, 'clipvalue', args.clipvalue);
    this.clipnorm = args.clipnorm;
    this.globalClipnorm = args.globalClipnorm;
    this.clipvalue = args.clipvalue;
    if (args.emaMomentum !== undefined) {
      const m = args.emaMomentum;
      if (!(typeof m === 'number' && m >= 0 && m < 1))
        throw new Error(`${where}: 'emaMomentum' must be a number in [0, 1), got ${describeValue(m)}`);
      this.emaMomentum = m;
    }
  }

  /** Slot names per weight, in order (e.g. ['rms', 'momentum']). */
  protected abstract slotNames(): string[];
  /** The update's slots, then the weight average when there is one (the update never sees it). */
  private allSlotNames(): string[] {
    return this.emaMomentum === undefined ? this.slotNames() : [...this.slotNames(), 'ema'];
  }
  protected abstract initialSlot(slot: string): number;
  protected abstract update(w: Float32Array, g: Float32Array, slots: Float32Array[], t: number): void;

  private slotsFor(nw: NamedWeight): Float32Array[] {
    let s = this.slots.get(nw.name);
    if (!s) {
      // Slots live in kernel memory, next to the weights, for the fused update kernels.
      s = kernels().ownedBy(this.slotMemory, () =>
        this.allSlotNames().map((n) =>
          kernels()
            .allocPersistent(nw.weight.value.length)
            .fill(n === 'ema' ? 0 : this.initialSlot(n)),
        ),
      );
      this.slots.set(nw.name, s);
      this.fresh.add(nw.name);
    }
    return s;
  }

  /** Clips the gradients and applies one update to every trainable weight. */
  applyGradients(weights: readonly NamedWeight[]): void {
    const trainable = weights.filter((w) => w.weight.trainable);
    if (this.globalClipnorm !== undefined) {
      let sq = 0;
      for (const { weight } of trainable) sq = sumOfSquares(weight.grad, sq);
      const norm = Math.sqrt(sq);
      if (norm > this.globalClipnorm) {
        const s = this.globalClipnorm / norm;
        for (const { weight } of trainable) {
          const g = weight.grad;
          for (let i = 0; i < g.length; i++) g[i] *= s;
        }
      }
    }
    this.iterations++;
    for (const nw of trainable) {
      const g = nw.weight.grad;
      if (this.clipnorm !== undefined) {
        const norm = Math.sqrt(sumOfSquares(g));
        if (norm > this.clipnorm) for (let i = 0; i < g.length; i++) g[i] *= this.clipnorm / norm;
      }
      if (this.clipvalue !== undefined) {
        const c = this.clipvalue;
        for (let i = 0; i < g.length; i++) g[i] = Math.min(c, Math.max(-c, g[i]));
      }
      const slots = this.slotsFor(nw);
      this.update(nw.weight.value, g, slots, this.iterations);
      if (this.emaMomentum !== undefined) {
        const avg = slots[slots.length - 1];
        const w = nw.weight.value;
        if (this.fresh.has(nw.name)) avg.set(w);
        else {
          const m = this.emaMomentum;
          for (let i = 0; i < w.length; i++) avg[i] = m * avg[i] + (1 - m) * w[i];
        }
      }
    }
    this.fresh.clear();
  }

  /**
   * Exchanges every trainable weight's values with its moving average, in place (so replicas reading the weights'
   * memory see the swap): call once to evaluate or save the averaged model, and once more to continue training.
   * Needs emaMomentum and at least one update (before any, there is no average).
   */
  swapAverages(weights: readonly NamedWeight[]): void {
    if (this.emaMomentum === undefined)
      throw new Error(`${this.className}: swapAverages needs an optimizer with emaMomentum`);
    for (const nw of weights) {
      if (!nw.weight.trainable) continue;
      const s = this.slots.get(nw.name);
      if (!s) throw new Error(`${this.className}: no moving average of '${nw.name}' yet (no update applied)`);
      const avg = s[s.length - 1];
      const w = nw.weight.value;
      for (let i = 0; i < w.length; i++) {
        const t = w[i];
        w[i] = avg[i];
        avg[i] = t;
      }
    }
  }

  /**
   * Gives back the slots' kernel memory, for reuse (a model's `dispose` calls it). The iteration count stays; slots
   * start afresh if the optimizer updates again.
   */
  dispose(): void {
    kernels().release(this.slotMemory);
    this.slotMemory = new MemoryOwner();
    this.slots.clear();
    this.fresh.clear();
  }

  /** Optimizer state for saving: the iteration count and every slot, named `weight/slot`. */
  getWeights(): SlotValue[] {
    const out: SlotValue[] = [{ name: 'iter', shape: [], value: Float32Array.of(this.iterations) }];
    const names = this.allSlotNames();
    for (const [wname, slots] of this.slots) {
      slots.forEach((v, i) =>
        out.push({ name: `${wname}/${names[i]}`, shape: [v.length], value: v.slice() }),
      );
    }
    return out;
  }

  setWeights(values: readonly SlotValue[]): void {
    const names = this.allSlotNames();
    this.dispose();
    for (const v of values) {
      if (v.name === 'iter') {
        this.iterations = Math.round(v.value[0]);
        continue;
      }
      const cut = v.name.lastIndexOf('/');
      const wname = v.name.slice(0, cut);
      const slot = names.indexOf(v.name.slice(cut + 1));
      if (slot < 0) throw new Error(`${this.className}: unknown optimizer slot '${v.name}'`);
      let s = this.slots.get(wname);
      if (!s) {
        s = kernels().ownedBy(this.slotMemory, () =>
          names.map(() => kernels().allocPersistent(v.value.length)),
        );
        this.slots.set(wname, s);
      }
      s[slot].set(v.value);
    }
  }

  getConfig(): Record<string, unknown> {
    const c: Record<string, unknown> = { learningRate: this.learningRate };
    if (this.clipnorm !== undefined) c.clipnorm = this.clipnorm;
    if (this.globalClipnorm !== undefined) c.globalClipnorm = this.globalClipnorm;
    if (this.clipvalue !== undefined) c.clipvalue = this.clipvalue;
    if (this.emaMomentum !== undefined) c.emaMomentum = this.emaMomentum;
    return c;
  }
}

export class SGD extends Optimizer {
  readonly className = 'SGD';
  readonly momentum: number;
  readonly nesterov: boolean;
  constructor(args: SGDArgs = {}) {
    super(args, OPTIMIZER_DEFAULTS.sgd.learningRate, 'sgd');
    checkKeys('sgd', args, ['momentum', 'nesterov']);
    checkRate('sgd', 'momentum', args.momentum, true);
    this.momentum = args.momentum ?? OPTIMIZER_DEFAULTS.sgd.momentum;
    this.nesterov = args.nesterov ?? OPTIMIZER_DEFAULTS.sgd.nesterov;
  }
  protected slotNames(): string[] {
    return this.momentum > 0 ? ['momentum'] : [];
  }
  protected initialSlot(): number {
    return 0;
  }
  protected update(w: Float32Array, g: Float32Array, slots: Float32Array[]): void {
    const m = this.momentum > 0 ? slots[0] : null;
    kernels().sgdUpdate(w.length, w, g, m, this.learningRate, this.momentum, this.nesterov);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), momentum: this.momentum, nesterov: this.nesterov };
  }
}

export class RMSprop extends Optimizer {
  readonly className = 'RMSprop';
  readonly rho: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly centered: boolean;
  readonly epsilonOutside: boolean;
  constructor(args: RMSpropArgs = {}) {
    super(args, OPTIMIZER_DEFAULTS.rmsprop.learningRate, 'rmsprop');
    checkKeys('rmsprop', args, ['rho', 'momentum', 'epsilon', 'centered', 'epsilonOutside']);
    checkRate('rmsprop', 'rho', args.rho);
    checkRate('rmsprop', 'momentum', args.momentum, true);
    checkNumber('rmsprop', 'epsilon', args.epsilon, 0);
    const d = OPTIMIZER_DEFAULTS.rmsprop;
    this.rho = args.rho ?? d.rho;
    this.momentum = args.momentum ?? d.momentum;
    this.epsilon = args.epsilon ?? d.epsilon;
    this.centered = args.centered ?? d.centered;
    this.epsilonOutside = args.epsilonOutside ?? d.epsilonOutside;
  }
  protected slotNames(): string[] {
    return ['rms', ...(this.momentum > 0 ? ['momentum'] : []), ...(this.centered ? ['mg'] : [])];
  }
  protected initialSlot(): number {
    return 0;
  }
  protected update(w: Float32Array, g: Float32Array, slots: Float32Array[]): void {
    const { rho, epsilon: eps, momentum: mu } = this;
    const m = mu > 0 ? slots[1] : null;
    const mg = this.centered ? slots[slots.length - 1] : null;
    kernels().rmspropUpdate(
      w.length,
      w,
      g,
      slots[0],
      m,
      mg,
      this.learningRate,
      rho,
      eps,
      mu,
      this.epsilonOutside,
    );
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      rho: this.rho,
      momentum: this.momentum,
      epsilon: this.epsilon,
      centered: this.centered,
      ...(this.epsilonOutside ? { epsilonOutside: true } : {}),
    };
  }
}

export class Adam extends Optimizer {
  readonly className = 'Adam';
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  constructor(args: AdamArgs = {}) {
    super(args, OPTIMIZER_DEFAULTS.adam.learningRate, 'adam');
    checkKeys('adam', args, ['beta1', 'beta2', 'epsilon']);
    checkRate('adam', 'beta1', args.beta1);
    checkRate('adam', 'beta2', args.beta2);
    checkNumber('adam', 'epsilon', args.epsilon, 0);
    const d = OPTIMIZER_DEFAULTS.adam;
    this.beta1 = args.beta1 ?? d.beta1;
    this.beta2 = args.beta2 ?? d.beta2;
    this.epsilon = args.epsilon ?? d.epsilon;
  }
  protected slotNames(): string[] {
    return ['m', 'v'];
  }
  protected initialSlot(): number {
    return 0;
  }
  protected update(w: Float32Array, g: Float32Array, slots: Float32Array[], t: number): void {
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    const alpha = (this.learningRate * Math.sqrt(1 - Math.pow(b2, t))) / (1 - Math.pow(b1, t));
    const [m, v] = slots;
    kernels().adamUpdate(w.length, w, g, m, v, alpha, b1, b2, eps);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}

export class Adagrad extends Optimizer {
  readonly className = 'Adagrad';
  readonly initialAccumulatorValue: number;
  readonly epsilon: number;
  constructor(args: AdagradArgs = {}) {
    super(args, OPTIMIZER_DEFAULTS.adagrad.learningRate, 'adagrad');
    checkKeys('adagrad', args, ['initialAccumulatorValue', 'epsilon']);
    checkNumber('adagrad', 'initialAccumulatorValue', args.initialAccumulatorValue, 0);
    checkNumber('adagrad', 'epsilon', args.epsilon, 0);
    const d = OPTIMIZER_DEFAULTS.adagrad;
    this.initialAccumulatorValue = args.initialAccumulatorValue ?? d.initialAccumulatorValue;
    this.epsilon = args.epsilon ?? d.epsilon;
  }
  protected slotNames(): string[] {
    return ['accumulator'];
  }
  protected initialSlot(): number {
    return this.initialAccumulatorValue;
  }
  protected update(w: Float32Array, g: Float32Array, slots: Float32Array[]): void {
    kernels().adagradUpdate(w.length, w, g, slots[0], this.learningRate, this.epsilon);
  }
  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      initialAccumulatorValue: this.initialAccumulatorValue,
      epsilon: this.epsilon,
    };
  }
}

/** The optimizers createOptimizer makes by name. */
export const OPTIMIZER_NAMES = ['sgd', 'rmsprop', 'adam', 'adagrad'] as const;

/** An optimizer from a name (Keras defaults) or a className/config pair, as stored in model files. */
export function createOptimizer(id: string | Optimizer, config: Record<string, unknown> = {}): Optimizer {
  if (id instanceof Optimizer) return id;
  switch (id.toLowerCase()) {
    case 'sgd':
      return new SGD(config as SGDArgs);
    case 'rmsprop':
      return new RMSprop(config as RMSpropArgs);
    case 'adam':
      return new Adam(config as AdamArgs);
    case 'adagrad':
      return new Adagrad(config as AdagradArgs);
    default:
      throw new Error(`unknown optimizer '${id}'; expected sgd, rmsprop, adam or adagrad`);
  }
}
