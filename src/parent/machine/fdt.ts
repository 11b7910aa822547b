// Flattened devicetree (DTB) writer and reader, per the Devicetree Specification v0.4,
// chapter 5 "Flattened Devicetree (DTB) Format":
//
//   header (40 bytes, §5.2) | memory reservation block (§5.3, 8-aligned, ends with 0,0)
//   | structure block (§5.4, 4-aligned tokens) | strings block (§5.5, NUL-terminated names)
//
// All values are big-endian. The writer is a builder that emits tokens as it goes; the
// reader parses a DTB as untrusted input (it bounds every offset) and is used by the tests
// and by anything that must check a tree it did not build.

export class FdtError extends Error {}

export const FDT_MAGIC = 0xd00dfeed;
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;
const HEADER_SIZE = 40;

// §5.4.1 structure block tokens
const FDT_BEGIN_NODE = 1, FDT_END_NODE = 2, FDT_PROP = 3, FDT_NOP = 4, FDT_END = 9;

// §2.2.1 node names: node-name[@unit-address], node-name 1..31 characters.
const NODE_NAME = /^[0-9a-zA-Z,._+-]{1,31}(@[0-9a-zA-Z,._+-]+)?$/;
// §2.2.4 property names: 1..31 characters.
const PROP_NAME = /^[0-9a-zA-Z,._+?#-]{1,31}$/;

/** Big-endian byte sink that grows as needed. */
class ByteSink {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v >>> 0); this.length += 4; }
  u64(v: bigint): void { this.reserve(8); this.view.setBigUint64(this.length, v); this.length += 8; }
  bytes(b: Uint8Array): void { this.reserve(b.length); this.buf.set(b, this.length); this.length += b.length; }
  align(n: number): void { const pad = (n - (this.length % n)) % n; this.reserve(pad); this.buf.fill(0, this.length, this.length + pad); this.length += pad; }
  take(): Uint8Array { return this.buf.slice(0, this.length); }
}

const utf8 = new TextEncoder();

function cString(s: string, what: string): Uint8Array {
  if (s.includes('\0')) throw new FdtError(`${what} contains a NUL character`);
  const b = utf8.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

interface OpenNode { name: string; props: Set<string>; children: Set<string>; hasChildren: boolean }

/**
 * Builds a DTB. Nodes are opened and closed in document order; a node's properties must
 * come before its first child (§5.4.2 requires property tokens to precede subnodes).
 *
 *   const fdt = new FdtBuilder();
 *   fdt.beginNode('');              // the root node has the empty name
 *   fdt.u32('#address-cells', 2);
 *   fdt.beginNode('chosen').string('bootargs', 'console=ttyS0').endNode();
 *   fdt.endNode();
 *   const dtb = fdt.finish();
 */
export class FdtBuilder {
  private readonly structBlock = new ByteSink();
  private readonly stringsBlock = new ByteSink();
  private readonly stringOffsets = new Map<string, number>();
  private readonly reservations: Array<{ address: bigint; size: bigint }> = [];
  private readonly stack: OpenNode[] = [];
  private rootDone = false;
  private nextPhandle = 1;
  private readonly usedPhandles = new Set<number>();

  /** @param bootCpuidPhys the boot CPU's physical id (its cpu node's reg), header field §5.2 */
  constructor(private readonly bootCpuidPhys = 0) {
    if (!Number.isInteger(bootCpuidPhys) || bootCpuidPhys < 0 || bootCpuidPhys > U32_MAX) {
      throw new FdtError(`boot_cpuid_phys ${bootCpuidPhys} is not a u32`);
    }
  }

  /** Adds a memory reservation block entry (§5.3): RAM the client must not use. */
  reserve(address: bigint, size: bigint): this {
    if (address < 0n || address > U64_MAX || size <= 0n || size > U64_MAX) {
      throw new FdtError(`bad memory reservation 0x${address.toString(16)} size 0x${size.toString(16)}`);
    }
    this.reservations.push({ address, size });
    return this;
  }

  /** A fresh phandle value (§2.3.3): unique, non-zero, never 0xffffffff. */
  allocPhandle(): number {
    if (this.nextPhandle >= U32_MAX) throw new FdtError('out of phandles');
    return this.nextPhandle++;
  }

  beginNode(name: string): this {
    if (this.stack.length === 0) {
      if (this.rootDone) throw new FdtError('a tree has exactly one root node');
      if (name !== '') throw new FdtError(`the root node must have the empty name, not "${name}"`);
    } else {
      if (!NODE_NAME.test(name)) throw new FdtError(`bad node name "${name}" (DT spec §2.2.1)`);
      const parent = this.stack[this.stack.length - 1];
      if (parent.children.has(name)) throw new FdtError(`duplicate node ${this.path()}/${name}`);
      parent.children.add(name);
      parent.hasChildren = true;
    }
    this.structBlock.u32(FDT_BEGIN_NODE);
    this.structBlock.bytes(cString(name, 'node name'));
    this.structBlock.align(4);
    this.stack.push({ name, props: new Set(), children: new Set(), hasChildren: false });
    return this;
  }

  endNode(): this {
    if (this.stack.length === 0) throw new FdtError('endNode without an open node');
    this.stack.pop();
    this.structBlock.u32(FDT_END_NODE);
    if (this.stack.length === 0) this.rootDone = true;
    return this;
  }

  /** A property of raw bytes: the general form every other property method uses. */
  bytes(name: string, value: Uint8Array): this {
    const node = this.stack[this.stack.length - 1];
    if (!node) throw new FdtError(`property "${name}" outside any node`);
    if (!PROP_NAME.test(name)) throw new FdtError(`bad property name "${name}" (DT spec §2.2.4)`);
    if (node.hasChildren) throw new FdtError(`property "${name}" of ${this.path()} after a child node (DT spec §5.4.2)`);
    if (node.props.has(name)) throw new FdtError(`duplicate property "${name}" in ${this.path()}`);
    node.props.add(name);
    this.structBlock.u32(FDT_PROP);
    this.structBlock.u32(value.length);
    this.structBlock.u32(this.nameOffset(name));
    this.structBlock.bytes(value);
    this.structBlock.align(4);
    return this;
  }

  /** A property with no value, e.g. `interrupt-controller` (§2.2.4.2 <empty>). */
  empty(name: string): this { return this.bytes(name, new Uint8Array(0)); }

  /** One or more 32-bit cells (<u32>, <phandle>, <prop-encoded-array>). */
  u32(name: string, ...cells: number[]): this {
    const out = new Uint8Array(cells.length * 4);
    const dv = new DataView(out.buffer);
    cells.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 0 || c > U32_MAX) throw new FdtError(`property "${name}": ${c} is not a u32 cell`);
      dv.setUint32(i * 4, c);
    });
    return this.bytes(name, out);
  }

  /** One or more 64-bit values, each as two cells, high first (<u64>). */
  u64(name: string, ...values: bigint[]): this {
    const out = new Uint8Array(values.length * 8);
    const dv = new DataView(out.buffer);
    values.forEach((v, i) => {
      if (v < 0n || v > U64_MAX) throw new FdtError(`property "${name}": ${v} is not a u64`);
      dv.setBigUint64(i * 8, v);
    });
    return this.bytes(name, out);
  }

  /** A NUL-terminated string (<string>). */
  string(name: string, value: string): this { return this.bytes(name, cString(value, `property "${name}"`)); }

  /** A list of NUL-terminated strings (<stringlist>), e.g. compatible. */
  strings(name: string, values: string[]): this {
    if (values.length === 0) throw new FdtError(`property "${name}": empty string list`);
    const parts = values.map((v) => cString(v, `property "${name}"`));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return this.bytes(name, out);
  }

  /** Gives the open node a phandle property (§2.3.3) with a value from allocPhandle(). */
  phandle(value: number): this {
    if (!Number.isInteger(value) || value < 1 || value >= this.nextPhandle) throw new FdtError(`phandle ${value} was not allocated`);
    if (this.usedPhandles.has(value)) throw new FdtError(`phandle ${value} is already used by another node`);
    this.usedPhandles.add(value);
    return this.u32('phandle', value);
  }

  /** Assembles the blob. The builder must have exactly one closed root node. */
  finish(): Uint8Array {
    if (this.stack.length !== 0) throw new FdtError(`unclosed node ${this.path()}`);
    if (!this.rootDone) throw new FdtError('the tree has no root node');
    const out = new ByteSink();
    for (let i = 0; i < HEADER_SIZE / 4; i++) out.u32(0); // header, filled in below
    out.align(8);
    const offRsvmap = out.length;
    for (const r of this.reservations) { out.u64(r.address); out.u64(r.size); }
    out.u64(0n); out.u64(0n);
    out.align(4);
    const offStruct = out.length;
    out.bytes(this.structBlock.take());
    out.u32(FDT_END);
    const sizeStruct = out.length - offStruct;
    const offStrings = out.length;
    out.bytes(this.stringsBlock.take());
    const sizeStrings = out.length - offStrings;
    out.align(4); // the total size is kept a multiple of 4 as dtc does
    const blob = out.take();
    const dv = new DataView(blob.buffer);
    const header = [FDT_MAGIC, blob.length, offStruct, offStrings, offRsvmap, FDT_VERSION,
      FDT_LAST_COMP_VERSION, this.bootCpuidPhys, sizeStrings, sizeStruct];
    header.forEach((v, i) => dv.setUint32(i * 4, v));
    return blob;
  }

  /** Strings block offset of a property name, shared by every property of that name (§5.5). */
  private nameOffset(name: string): number {
    let off = this.stringOffsets.get(name);
    if (off === undefined) {
      off = this.stringsBlock.length;
      this.stringsBlock.bytes(cString(name, 'property name'));
      this.stringOffsets.set(name, off);
    }
    return off;
  }

  private path(): string {
    return this.stack.length <= 1 ? '/' : this.stack.slice(1).map((n) => '/' + n.name).join('');
  }
}

// ---- reader ----

export interface FdtNode {
  /** Node name with unit address, '' for the root. */
  name: string;
  props: Map<string, Uint8Array>;
  children: FdtNode[];
}

export interface Fdt {
  version: number;
  lastCompVersion: number;
  bootCpuidPhys: number;
  reservations: Array<{ address: bigint; size: bigint }>;
  root: FdtNode;
}

const MAX_DEPTH = 64;

/** Parses a DTB (version 16 or later) as untrusted input. Throws FdtError naming the fault. */
export function parseFdt(blob: Uint8Array): Fdt {
  if (blob.length < HEADER_SIZE) throw new FdtError(`too short for a DTB header (${blob.length} bytes)`);
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const h = (i: number): number => dv.getUint32(i * 4);
  if (h(0) !== FDT_MAGIC) throw new FdtError(`bad magic 0x${h(0).toString(16)} (expected 0xd00dfeed)`);
  const total = h(1), offStruct = h(2), offStrings = h(3), offRsv = h(4);
  const version = h(5), lastComp = h(6), boot = h(7), sizeStrings = h(8);
  // size_dt_struct exists from version 17 on; a version-16 structure block runs to its FDT_END.
  const sizeStruct = version >= 17 ? h(9) : total - offStruct;
  if (total < HEADER_SIZE) throw new FdtError(`totalsize ${total} is smaller than the header`);
  if (total > blob.length) throw new FdtError(`totalsize ${total} exceeds the ${blob.length} bytes given`);
  if (lastComp > FDT_VERSION || version < 16) throw new FdtError(`unsupported DTB version ${version} (last compatible ${lastComp})`);
  const within = (off: number, len: number, what: string): void => {
    if (off + len > total) throw new FdtError(`${what} (0x${off.toString(16)}+0x${len.toString(16)}) lies outside the blob`);
  };
  within(offStruct, sizeStruct, 'structure block');
  within(offStrings, sizeStrings, 'strings block');
  if (offRsv % 8 !== 0) throw new FdtError('memory reservation block is not 8-byte aligned');
  if (offStruct % 4 !== 0) throw new FdtError('structure block is not 4-byte aligned');

  const reservations: Fdt['reservations'] = [];
  for (let at = offRsv; ; at += 16) {
    within(at, 16, 'memory reservation entry');
    const address = dv.getBigUint64(at), size = dv.getBigUint64(at + 8);
    if (address === 0n && size === 0n) break;
    reservations.push({ address, size });
  }

  const decoder = new TextDecoder('utf-8', { fatal: true });
  const cstr = (from: number, end: number, what: string): { s: string; next: number } => {
    let z = from;
    while (z < end && blob[z] !== 0) z++;
    if (z >= end) throw new FdtError(`${what} at 0x${from.toString(16)} is not NUL-terminated`);
    try {
      return { s: decoder.decode(blob.subarray(from, z)), next: z + 1 };
    } catch {
      throw new FdtError(`${what} at 0x${from.toString(16)} is not valid UTF-8`);
    }
  };

  const end = offStruct + sizeStruct;
  let at = offStruct;
  const token = (): number => {
    if (at + 4 > end) throw new FdtError('structure block ends without FDT_END');
    const t = dv.getUint32(at);
    at += 4;
    return t;
  };
  const stack: FdtNode[] = [];
  let root: FdtNode | undefined;
  for (;;) {
    const t = token();
    if (t === FDT_NOP) continue;
    if (t === FDT_BEGIN_NODE) {
      if (root && stack.length === 0) throw new FdtError('more than one root node');
      if (stack.length >= MAX_DEPTH) throw new FdtError(`nodes nested deeper than ${MAX_DEPTH}`);
      const { s, next } = cstr(at, end, 'node name');
      at = (next + 3) & ~3;
      const node: FdtNode = { name: s, props: new Map(), children: [] };
      if (stack.length === 0) root = node; else stack[stack.length - 1].children.push(node);
      stack.push(node);
    } else if (t === FDT_END_NODE) {
      if (!stack.pop()) throw new FdtError('FDT_END_NODE without an open node');
    } else if (t === FDT_PROP) {
      const node = stack[stack.length - 1];
      if (!node) throw new FdtError('property outside any node');
      const len = token(), nameoff = token();
      if (at + len > end) throw new FdtError('property value runs past the structure block');
      if (nameoff >= sizeStrings) throw new FdtError(`property name offset ${nameoff} outside the strings block`);
      const { s } = cstr(offStrings + nameoff, offStrings + sizeStrings, 'property name');
      node.props.set(s, blob.slice(at, at + len));
      at = (at + len + 3) & ~3;
    } else if (t === FDT_END) {
      if (stack.length !== 0) throw new FdtError('FDT_END inside an open node');
      break;
    } else {
      throw new FdtError(`bad structure token ${t} at 0x${(at - 4).toString(16)}`);
    }
  }
  if (!root) throw new FdtError('no root node');
  return { version, lastCompVersion: lastComp, bootCpuidPhys: boot, reservations, root };
}

/** The node at an absolute path such as "/soc/serial@10000000", if present. */
export function findNode(root: FdtNode, path: string): FdtNode | undefined {
  let node: FdtNode | undefined = root;
  for (const part of path.split('/').filter((p) => p !== '')) {
    node = node.children.find((c): boolean => c.name === part);
    if (!node) return undefined;
  }
  return node;
}

/** Decodes property values for reading trees back (tests, checks). */
export const propValue = {
  cells(v: Uint8Array): number[] {
    if (v.length % 4 !== 0) throw new FdtError(`value of ${v.length} bytes is not a list of cells`);
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    return Array.from({ length: v.length / 4 }, (_, i) => dv.getUint32(i * 4));
  },
  u64s(v: Uint8Array): bigint[] {
    if (v.length % 8 !== 0) throw new FdtError(`value of ${v.length} bytes is not a list of u64`);
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    return Array.from({ length: v.length / 8 }, (_, i) => dv.getBigUint64(i * 8));
  },
  strings(v: Uint8Array): string[] {
    if (v.length === 0 || v[v.length - 1] !== 0) throw new FdtError('value is not NUL-terminated strings');
    return new TextDecoder().decode(v.subarray(0, v.length - 1)).split('\0');
  },
  string(v: Uint8Array): string {
    const list = propValue.strings(v);
    if (list.length !== 1) throw new FdtError(`expected one string, found ${list.length}`);
    return list[0];
  },
};
