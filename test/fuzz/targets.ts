// The fuzz targets, by name. Each is loaded only in the worker that runs it.
import type { FuzzTarget } from './harness.js';

type Loader = () => Promise<FuzzTarget<any, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const TARGETS: Record<string, { summary: string; load: Loader }> = {
  'virtqueue': { summary: 'split virtqueue rings from a hostile driver: descriptors, indirect tables, loops, lengths, addresses', load: async () => (await import('./targets/virtqueue.js')).virtqueue },
  'virtio-mmio': { summary: 'virtio-mmio register reads/writes in any order, queue setup with hostile addresses, doorbells, acks', load: async () => (await import('./targets/virtio-mmio.js')).virtioMmio },
  'virtio-console': { summary: 'virtio-console receive and transmit queues, host input, resets; what the guest sends and gets checked', load: async () => (await import('./targets/virtio-console.js')).virtioConsole },
  'virtio-rng': { summary: 'virtio-rng request chains of any shape and size', load: async () => (await import('./targets/virtio-rng.js')).virtioRng },
  'virtio-blk': { summary: 'virtio-blk requests (type, sector, lengths, layouts, discard segments) on raw and qcow2 disks, checked against a model', load: async () => (await import('./targets/virtio-blk.js')).virtioBlk },
};

export const TARGET_NAMES = Object.keys(TARGETS);
