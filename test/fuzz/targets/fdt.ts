// The device tree reader (src/parent/machine/fdt.ts parseFdt, findNode, propValue) on
// untrusted blobs: the corpus DTBs with byte-level mutations (header offsets and sizes,
// tokens, lengths, name offsets), and random trees built with FdtBuilder, which must
// read back exactly as built. Fails on any exception but FdtError, a tree that does not
// round-trip, or a parse result bigger than its input allows.
import fc from 'fast-check';
import { FdtBuilder, FdtError, findNode, parseFdt, propValue, type FdtNode } from '../../../src/parent/machine/fdt.js';
import { check, mutate, mutatedArb, note, hexdump, show, type CorpusFile, type FuzzTarget, type Mutated, type Mutation } from '../harness.js';

interface TreeNode { name: string; props: [string, Uint8Array][]; children: TreeNode[] }
interface Tree { boot: number; reservations: [bigint, bigint][]; root: TreeNode }

export type FdtCase = { kind: 'mutated' } & Mutated | { kind: 'tree'; tree: Tree; mutations: Mutated['mutations'] };

const nameChars = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789,._+-'.split(''));
const nodeName = fc.tuple(fc.string({ unit: nameChars, minLength: 1, maxLength: 31 }), fc.option(fc.string({ unit: nameChars, minLength: 1, maxLength: 8 }), { nil: undefined }))
  .map(([n, unit]) => (unit ? `${n}@${unit}` : n));
const propName = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789,._+?#-'.split('')), minLength: 1, maxLength: 31 });

const treeNodeArb: fc.Arbitrary<TreeNode> = fc.letrec<{ node: TreeNode }>((tie) => ({
  node: fc.record({
    name: nodeName,
    props: fc.uniqueArray(fc.tuple(propName, fc.uint8Array({ maxLength: 24 })), { maxLength: 4, selector: (p) => p[0] }),
    children: fc.oneof({ maxDepth: 4, depthIdentifier: 'fdt' },
      fc.constant([]), fc.uniqueArray(tie('node'), { maxLength: 3, selector: (n) => n.name })) as fc.Arbitrary<TreeNode[]>,
  }),
})).node;

const treeArb: fc.Arbitrary<Tree> = fc.record({
  boot: fc.nat(0xffff_ffff),
  reservations: fc.array(fc.tuple(fc.bigInt(0n, (1n << 64n) - 1n), fc.bigInt(1n, (1n << 64n) - 1n)), { maxLength: 3 }),
  root: treeNodeArb.map((n) => ({ ...n, name: '' })),
});

/** Header fields, and the first words of each block, get most mutations. */
function hotOffsets(dtb: Uint8Array): number[] {
  const hot = Array.from({ length: 10 }, (_, i) => i * 4);
  if (dtb.length >= 40) {
    const v = new DataView(dtb.buffer, dtb.byteOffset, dtb.byteLength);
    const struct = v.getUint32(8), strings = v.getUint32(12), rsv = v.getUint32(16);
    for (let i = 0; i < 64; i += 4) hot.push(struct + i, strings + i, rsv + i);
  }
  return hot;
}

/** The corpus DTBs (mutated inputs name one by index). */
let seeds: Uint8Array[] = [];

function blobOf(c: FdtCase): Uint8Array {
  if (c.kind === 'mutated') {
    const seed = seeds[c.seed] ?? new Uint8Array(0);
    return mutate(seed, c.mutations, hotOffsets(seed));
  }
  const built = build(c.tree);
  return mutate(built, c.mutations, hotOffsets(built));
}

export const fdt: FuzzTarget<FdtCase> = {
  name: 'fdt',
  async: false,
  fromCorpus(files: readonly CorpusFile[]) {
    seeds = files.map((f) => f.bytes);
    return files.map((_, i) => ({ kind: 'mutated' as const, seed: i, mutations: [] }));
  },
  arbitrary(seeds) {
    return fc.oneof(
      { weight: 3, arbitrary: mutatedArb(seeds.length, 8).map((m) => ({ kind: 'mutated' as const, ...m })) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('tree' as const), tree: treeArb, mutations: fc.constant<Mutation[]>([]) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('tree' as const), tree: treeArb, mutations: mutatedArb(1, 4).map((m) => m.mutations) }) },
    );
  },
  expected: (e) => e instanceof FdtError,
  memoryBound: () => 32 << 20,
  show: (c) => `${show(c)}\n  bytes: ${hexdump(blobOf(c), 256)}`,
  run(c) {
    const blob = blobOf(c);
    let tree;
    try {
      tree = parseFdt(blob);
    } catch (e) {
      if (c.kind === 'tree' && c.mutations.length === 0) throw new Error(`a tree FdtBuilder made does not parse: ${String(e)}`);
      throw e;
    }
    note(`parsed (${c.kind})`);
    // What came out is bounded by what went in.
    let bytes = 0, nodes = 0;
    const walk = (n: FdtNode) => { nodes++; for (const v of n.props.values()) bytes += v.length; n.children.forEach(walk); };
    walk(tree.root);
    check(bytes <= blob.length && nodes <= blob.length / 4, `a ${blob.length}-byte blob gave ${nodes} nodes and ${bytes} bytes of values`);
    check(tree.reservations.length <= blob.length / 16, 'more reservations than the blob has room for');
    // The accessors on whatever came out: FdtError or a value.
    for (const v of tree.root.props.values()) {
      for (const f of [propValue.cells, propValue.u64s, propValue.strings, propValue.string]) {
        try { f(v); } catch (e) { if (!(e instanceof FdtError)) throw e; }
      }
    }
    findNode(tree.root, '/chosen');
    if (c.kind === 'tree' && c.mutations.length === 0) {
      check(sameNode(tree.root, c.tree.root), 'the tree read back differs from the tree built');
      check(tree.bootCpuidPhys === c.tree.boot, 'boot_cpuid_phys differs');
      check(tree.reservations.length === c.tree.reservations.length && tree.reservations.every((r, i) =>
        r.address === c.tree.reservations[i]![0] && r.size === c.tree.reservations[i]![1]), 'the reservations differ');
    }
  },
};

function build(t: Tree): Uint8Array {
  const b = new FdtBuilder(t.boot);
  for (const [a, s] of t.reservations) b.reserve(a, s);
  const emit = (n: TreeNode) => {
    b.beginNode(n.name);
    for (const [k, v] of n.props) b.bytes(k, v);
    n.children.forEach(emit);
    b.endNode();
  };
  emit(t.root);
  return b.finish();
}

function sameNode(got: FdtNode, want: TreeNode): boolean {
  if (got.name !== want.name || got.props.size !== want.props.length || got.children.length !== want.children.length) return false;
  for (const [k, v] of want.props) {
    const g = got.props.get(k);
    if (!g || Buffer.compare(g, v) !== 0) return false;
  }
  return want.children.every((c, i) => sameNode(got.children[i]!, c));
}
