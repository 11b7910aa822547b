// The fuzz targets, by name. Each is loaded only in the worker that runs it.
import type { FuzzTarget } from './harness.js';

type Loader = () => Promise<FuzzTarget<any, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const TARGETS: Record<string, { summary: string; load: Loader; hidden?: boolean }> = {
  'virtqueue': { summary: 'split virtqueue rings from a hostile driver: descriptors, indirect tables, loops, lengths, addresses', load: async () => (await import('./targets/virtqueue.js')).virtqueue },
  'virtio-mmio': { summary: 'virtio-mmio register reads/writes in any order, queue setup with hostile addresses, doorbells, acks', load: async () => (await import('./targets/virtio-mmio.js')).virtioMmio },
  'virtio-blk': { summary: 'virtio-blk requests (type, sector, lengths, layouts, discard segments) on raw and qcow2 disks, checked against a model', load: async () => (await import('./targets/virtio-blk.js')).virtioBlk },
  'virtio-console': { summary: 'virtio-console receive and transmit queues, host input, resets; what the guest sends and gets checked', load: async () => (await import('./targets/virtio-console.js')).virtioConsole },
  'virtio-rng': { summary: 'virtio-rng request chains of any shape and size', load: async () => (await import('./targets/virtio-rng.js')).virtioRng },
  'qcow2-header': { summary: 'qcow2 header and extensions, byte-level mutations (parseHeader, checkFeatures)', load: async () => (await import('./targets/qcow2-header.js')).qcow2Header },
  'qcow2': { summary: 'qcow2 images made by createQcow2, metadata mutated (header, L1/L2, refcounts), opened and read/written/discarded/flushed', load: async () => (await import('./targets/qcow2.js')).qcow2 },
  'fdt': { summary: 'device tree blobs (parseFdt): mutated DTBs, random trees round-tripped through FdtBuilder', load: async () => (await import('./targets/fdt.js')).fdt },
  'elf': { summary: 'ELF64 files (parseElf, loadElf): mutated and generated headers, segments, symbol tables', load: async () => (await import('./targets/elf.js')).elf },
  'kernel-image': { summary: 'RISC-V Linux Images, raw and gzip (parseKernelImage, placeLinux): header fields, sizes, RAM layouts', load: async () => (await import('./targets/kernel-image.js')).kernelImage },
  'state-stream': { summary: 'saved VM state streams (openStateStream, readRam): mutated headers, frames, runs and totals, checks recomputed or not', load: async () => (await import('./targets/state-stream.js')).stateStream },
  'migration-stream': { summary: 'incoming live migration streams (readMigration): mutated headers, HELO/CONF, passes, RAM and ZERO runs, STAT, END; from bytes or a chunked connection', load: async () => (await import('./targets/migration-stream.js')).migrationStreamTarget },
  'api': { summary: 'the REST API (Fastify app.inject): junk and near-valid JSON on every route; only 2xx/400/404/409 may come back', load: async () => (await import('./targets/api.js')).api },
  // Fail on purpose (the runner's own tests): not listed, not in "all".
  'selftest-crash': { summary: 'throws for inputs over 5000', hidden: true, load: async () => (await import('./targets/selftest.js')).selftestCrash },
  'selftest-hang': { summary: 'loops forever for inputs over 100', hidden: true, load: async () => (await import('./targets/selftest.js')).selftestHang },
  'selftest-alloc': { summary: 'allocates 256 MiB for inputs over 100', hidden: true, load: async () => (await import('./targets/selftest.js')).selftestAlloc },
};

/** The real targets, in order (what --list shows and "all" runs). */
export const TARGET_NAMES = Object.keys(TARGETS).filter((n) => !TARGETS[n]!.hidden);
