/**
 * Substring search over log chunks at memory speed, the step that lets `arb logs` keep up with grep.
 *
 * `Buffer.indexOf` restarts its search strategy on every call and leads with the needle's first byte;
 * log needles start with `"`, which occurs every few bytes, so it runs at 0.5–1.5 GB/s. This module
 * compiles a 200-byte WebAssembly function (built below from its instructions, no toolchain) that tests
 * 16 positions per step with SIMD: a position is a candidate when two of the needle's rarest bytes
 * are at their offsets (W. Muła's "SIMD-friendly" substring search), and candidates are compared in
 * full. Chunks are read straight into the module's memory, so nothing is copied. Where WebAssembly SIMD
 * is not available the same interface runs on `Buffer.indexOf`. bench/logs.bench.ts shows the gain.
 */

/** Room after the chunk for the 16-byte loads that run past its end (their positions are discarded). */
const SLACK = 64;
/** positions returned per call; a fuller chunk is resumed after the last one */
const OUT_MAX = 16_384;
const PAGE = 65_536;

/** A buffer to read chunks into and a search over its first `length` bytes. */
export interface ChunkSearch {
  /** where chunks are read into; replaced by `grow` */
  readonly buffer: Buffer;
  /** true when the WebAssembly SIMD search runs (else Buffer.indexOf) */
  readonly simd: boolean;
  /** Makes `buffer` at least `bytes` long, keeping its content. */
  grow(bytes: number): void;
  /** Appends to `out` the start of every occurrence of needle `n` in `buffer[from, to)`, ascending. */
  find(n: number, from: number, to: number, out: number[]): void;
}

// ---- the WebAssembly function, assembled from its instructions ----------------------------------------

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};

const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, depth],
  brIf: (depth: number) => [0x0d, depth],
  return: [0x0f],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  const: (n: number) => [0x41, ...sleb(n)],
  load8: [0x2d, 0, 0],
  store: [0x36, 2, 0],
  eqz: [0x45],
  ne: [0x47],
  gtS: [0x4a],
  leS: [0x4c],
  geU: [0x4f],
  ctz: [0x68],
  add: [0x6a],
  sub: [0x6b],
  and: [0x71],
  shl: [0x74],
  v128load: [0xfd, 0x00, 0, 0],
  splat8: [0xfd, 0x0f],
  eq8: [0xfd, 0x23],
  v128and: [0xfd, 0x4e],
  bitmask8: [0xfd, 0x64],
};

/**
 * scan(start, end, needle, needleLength, anchor1, anchor2, out, outMax) → count: writes to `out` (i32s)
 * each position p in [start, end − needleLength] where the needle occurs, ascending, at most outMax.
 */
function scanModuleBytes(): Uint8Array {
  // params 0..7: start end needle len a1 a2 out outMax; locals: 8 i, 9 last, 10 count, 11 mask, 12 pos, 13 j, 14 v1, 15 v2
  const [start, end, needle, len, a1, a2, out, outMax, i, last, count, mask, pos, j, v1, v2] = Array.from({ length: 16 }, (_, k) => k);
  const code = [
    ...op.get(needle), ...op.get(a1), ...op.add, ...op.load8, ...op.splat8, ...op.set(v1),
    ...op.get(needle), ...op.get(a2), ...op.add, ...op.load8, ...op.splat8, ...op.set(v2),
    ...op.get(end), ...op.get(len), ...op.sub, ...op.set(last),
    ...op.get(start), ...op.set(i),
    ...op.block, ...op.loop,
    /**/ ...op.get(i), ...op.get(last), ...op.gtS, ...op.brIf(1),
    /**/ ...op.get(i), ...op.get(a1), ...op.add, ...op.v128load, ...op.get(v1), ...op.eq8,
    /**/ ...op.get(i), ...op.get(a2), ...op.add, ...op.v128load, ...op.get(v2), ...op.eq8,
    /**/ ...op.v128and, ...op.bitmask8, ...op.set(mask),
    /**/ ...op.block, ...op.loop,
    /*   */ ...op.get(mask), ...op.eqz, ...op.brIf(1),
    /*   */ ...op.get(i), ...op.get(mask), ...op.ctz, ...op.add, ...op.set(pos),
    /*   */ ...op.get(mask), ...op.get(mask), ...op.const(1), ...op.sub, ...op.and, ...op.set(mask),
    /*   */ ...op.get(pos), ...op.get(last), ...op.leS, ...op.if,
    /*     */ ...op.const(0), ...op.set(j),
    /*     */ ...op.block, ...op.loop,
    /*       */ ...op.get(j), ...op.get(len), ...op.geU, ...op.if,
    /*         */ ...op.get(out), ...op.get(count), ...op.const(2), ...op.shl, ...op.add, ...op.get(pos), ...op.store,
    /*         */ ...op.get(count), ...op.const(1), ...op.add, ...op.tee(count), ...op.get(outMax), ...op.geU,
    /*         */ ...op.if, ...op.get(count), ...op.return, ...op.end,
    /*         */ ...op.br(2),
    /*       */ ...op.end,
    /*       */ ...op.get(pos), ...op.get(j), ...op.add, ...op.load8, ...op.get(needle), ...op.get(j), ...op.add, ...op.load8, ...op.ne, ...op.brIf(1),
    /*       */ ...op.get(j), ...op.const(1), ...op.add, ...op.set(j), ...op.br(0),
    /*     */ ...op.end, ...op.end,
    /*   */ ...op.end,
    /*   */ ...op.br(0),
    /**/ ...op.end, ...op.end,
    /**/ ...op.get(i), ...op.const(16), ...op.add, ...op.set(i), ...op.br(0),
    ...op.end, ...op.end,
    ...op.get(count),
    ...op.end,
  ];
  const body = [2, 6, 0x7f, 2, 0x7b, ...code]; // locals: 6 × i32, 2 × v128
  const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
  const name = (text: string) => [...uleb(text.length), ...Buffer.from(text)];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 8, ...new Array<number>(8).fill(0x7f), 1, 0x7f]), // (i32 × 8) → i32
    ...section(2, [1, ...name('e'), ...name('m'), 0x02, 0x00, 1]), // imports memory e.m
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('scan'), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

// the slice of the WebAssembly API used here (the project's TypeScript libs do not declare it)
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
type WasmModule = { readonly __wasmModule: unique symbol };
const Wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: WasmModule | null | undefined;

function scanModule(): WasmModule | null {
  if (compiled !== undefined) return compiled;
  try {
    const bytes = scanModuleBytes();
    compiled = !Wasm || process.env.ARB_LOG_SEARCH === 'indexof' || !Wasm.validate(bytes) ? null : new Wasm.Module(bytes);
  } catch {
    compiled = null;
  }
  return compiled;
}

// ---- choosing the anchors ------------------------------------------------------------------------------

/** Rough frequency of a byte in JSON log lines (higher = commoner). */
function commonness(b: number): number {
  if (b === 0x22) return 100; // "
  if (b === 0x3a || b === 0x2c) return 40; // : ,
  if (b >= 0x30 && b <= 0x39) return 30; // digits (timestamps, ids, amounts)
  if (b >= 0x61 && b <= 0x7a) return 'etaoinsrlcdump'.includes(String.fromCharCode(b)) ? 25 : 10;
  if (b === 0x5f || b === 0x2d || b === 0x2e || b === 0x54 || b === 0x5a) return 10; // _ - . T Z
  return 1;
}

/** The two rarest bytes of the needle (distinct positions when it has two). */
function anchors(needle: Buffer): [number, number] {
  const order = [...needle.keys()].sort((x, y) => commonness(needle[x]) - commonness(needle[y]) || y - x);
  return [order[0], order.length > 1 ? order[1] : order[0]];
}

// ---- the two implementations ---------------------------------------------------------------------------

function simdSearch(module: WasmModule, needles: readonly Buffer[], capacity: number): ChunkSearch {
  const needleBytes = needles.reduce((a, n) => a + n.length, 0);
  const layout = (cap: number) => {
    const needlesAt = cap + SLACK;
    const outAt = (needlesAt + needleBytes + 3) & ~3;
    return { needlesAt, outAt, bytes: outAt + OUT_MAX * 4 };
  };
  let cap = capacity;
  let at = layout(cap);
  const memory = new Wasm!.Memory({ initial: Math.ceil(at.bytes / PAGE) });
  const scan = new Wasm!.Instance(module, { e: { m: memory } }).exports.scan as (...args: number[]) => number;
  const offsets: number[] = [];
  const anchorsOf = needles.map(anchors);
  let mem: Buffer;
  let out: Int32Array;
  const place = () => {
    mem = Buffer.from(memory.buffer);
    out = new Int32Array(memory.buffer, at.outAt, OUT_MAX);
    let p = at.needlesAt;
    offsets.length = 0;
    for (const n of needles) {
      offsets.push(p);
      n.copy(mem, p);
      p += n.length;
    }
  };
  place();
  const search: ChunkSearch = {
    buffer: mem!.subarray(0, cap),
    simd: true,
    grow(bytes) {
      if (bytes <= cap) return;
      cap = bytes;
      at = layout(cap);
      const need = Math.ceil(at.bytes / PAGE) - memory.buffer.byteLength / PAGE;
      if (need > 0) memory.grow(need);
      place();
      (search as { buffer: Buffer }).buffer = mem.subarray(0, cap);
    },
    find(n, from, to, found) {
      const needle = needles[n];
      if (to - from < needle.length) return;
      const [a1, a2] = anchorsOf[n];
      for (let startAt = from; ; ) {
        const count = scan(startAt, to, offsets[n], needle.length, a1, a2, at.outAt, OUT_MAX);
        for (let k = 0; k < count; k++) found.push(out[k]);
        if (count < OUT_MAX) return;
        startAt = out[count - 1] + 1;
      }
    },
  };
  return search;
}

function indexOfSearch(needles: readonly Buffer[], capacity: number): ChunkSearch {
  const search: ChunkSearch = {
    buffer: Buffer.allocUnsafe(capacity),
    simd: false,
    grow(bytes) {
      if (bytes <= search.buffer.length) return;
      const bigger = Buffer.allocUnsafe(bytes);
      search.buffer.copy(bigger);
      (search as { buffer: Buffer }).buffer = bigger;
    },
    find(n, from, to, found) {
      const needle = needles[n];
      const view = search.buffer.subarray(0, to);
      for (let p = view.indexOf(needle, from); p >= 0; p = view.indexOf(needle, p + 1)) found.push(p);
    },
  };
  return search;
}

/** A chunk buffer of `capacity` bytes and a search for `needles` in it (SIMD when available). */
export function createChunkSearch(needles: readonly Buffer[], capacity: number): ChunkSearch {
  const module = needles.length > 0 && needles.every((n) => n.length > 0) ? scanModule() : null;
  return module ? simdSearch(module, needles, capacity) : indexOfSearch(needles, capacity);
}
