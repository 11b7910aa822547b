// The virtio-mmio transport's saved state (src/state/contract.ts): its register file, its
// channel, and while the device is live what DRIVER_OK granted (the features and each
// queue's rings and indices), plus the VSP's own part. 64-bit values (features, ring
// addresses) are decimal strings.
import { StateReader, type VersionedState } from '../../state/contract.js';
import { ChannelState, parseChannelState, type ChannelWords, type SavedChannel } from '../../vmbus/channel.js';
import { parseSplitQueueState, type QueueLayout, type SplitQueueState } from '../../vmbus/virtqueue.js';

/** A queue's registers (§4.2.2), each address as the driver wrote its two halves. */
export interface QueueRegs { num: number; ready: boolean; desc: [number, number]; driver: [number, number]; device: [number, number] }

export interface SavedQueueRegisters { num: number; ready: boolean; desc: string; driver: string; device: string }

/** A queue the live context holds: the layout it was granted (the registers may have changed since) and its indices. */
export interface SavedLiveQueue extends SplitQueueState { size: number; desc: string; driver: string; device: string }

export interface VirtioMmioState {
  version: 1;
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  driverFeatures: string;
  queueSel: number;
  /** Every queue's registers, in queue order (the device's queueMax says how many). */
  queues: SavedQueueRegisters[];
  configGeneration: number;
  /** Why the device needs a reset (DEVICE_NEEDS_RESET), or null. */
  broken: string | null;
  channel: SavedChannel;
  /** While the device is live (DRIVER_OK accepted, not broken): the agreed features and each queue (null: not enabled). */
  live: { features: string; queues: (SavedLiveQueue | null)[] } | null;
  /** The VSP's own part (VirtioDevice.save), or null if it has none. */
  device: VersionedState | null;
}

/** The state as restore() applies it. */
export interface TransportRegisters {
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  driverFeatures: bigint;
  queueSel: number;
  queues: QueueRegs[];
  configGeneration: number;
  broken: string | undefined;
  channel: ChannelWords;
  live: { features: bigint; layouts: (QueueLayout | undefined)[]; indices: (SplitQueueState | undefined)[] } | undefined;
  /** Unread: the VSP validates its own part. */
  device: unknown;
}

/** The longest reason for DEVICE_NEEDS_RESET a state carries (save() cuts longer ones). */
export const MAX_REASON = 1024;
const NEEDS_RESET = 64;
const U32 = 0xffff_ffff;
const U64 = (1n << 64n) - 1n;
const MAX_GPA = BigInt(Number.MAX_SAFE_INTEGER);

export function addressString(halves: readonly [number, number]): string {
  return ((BigInt(halves[1] >>> 0) << 32n) | BigInt(halves[0] >>> 0)).toString();
}

/** What the transport's state is checked against: its device's shape. */
export interface TransportShape {
  name: string;
  queueMax: readonly number[];
  /** Device and transport features together: a live context cannot have agreed on others. */
  offeredFeatures: bigint;
  versionFeature: bigint;
}

/**
 * Validates a saved state as untrusted input; throws StateError naming the device and the
 * field. Beyond types and ranges: one register set and at most one live queue per queue
 * the device has, a live queue no larger than its maximum, live features the device
 * offered (with VERSION_1, as FEATURES_OK requires), and the links between the parts the
 * transport keeps: DEVICE_NEEDS_RESET is set exactly when there is a reason, the channel
 * is open exactly while the device is live, and a device is never live and broken at once.
 * (A rescinded channel may belong to a device that is not broken: the driver reset it, and
 * its next DRIVER_OK fails.) Whether the live rings lie in guest RAM is the caller's check
 * (Channel.grant).
 */
export function parseVirtioMmioState(state: unknown, shape: TransportShape): TransportRegisters {
  const r = new StateReader(shape.name, state, 1);
  const raw = state as Record<string, unknown>;
  const n = shape.queueMax.length;
  const halves = (q: StateReader, field: string): [number, number] => {
    const v = q.bigint(field, 0n, U64);
    return [Number(v & 0xffff_ffffn), Number(v >> 32n)];
  };
  const gpa = (q: StateReader, field: string): number => Number(q.bigint(field, 0n, MAX_GPA));

  const status = r.int('status', 0, 0xff);
  const queues = r.array('queues', n, (v, at): QueueRegs => {
    const q = StateReader.nested(`${shape.name} ${at}`, v);
    return { num: q.int('num', 0, U32), ready: q.bool('ready'), desc: halves(q, 'desc'), driver: halves(q, 'driver'), device: halves(q, 'device') };
  });
  const broken = raw.broken === null ? undefined : r.string('broken', MAX_REASON);
  if (((status & NEEDS_RESET) !== 0) !== (broken !== undefined)) throw r.error('status has DEVICE_NEEDS_RESET without a reason, or a reason without it');
  const channel = parseChannelState(raw.channel, `${shape.name} channel`);

  let live: TransportRegisters['live'];
  if (raw.live !== null) {
    const l = r.object('live');
    const features = l.bigint('features', 0n, U64);
    if ((features & ~shape.offeredFeatures) !== 0n || (features & shape.versionFeature) === 0n) {
      throw r.error('live features are not a set the device offered with VERSION_1');
    }
    const layouts: (QueueLayout | undefined)[] = [], indices: (SplitQueueState | undefined)[] = [];
    l.array('queues', n, (v, at) => {
      if (v === null) { layouts.push(undefined); indices.push(undefined); return; }
      const q = StateReader.nested(`${shape.name} live ${at}`, v);
      const size = q.int('size', 1, shape.queueMax[layouts.length]);
      layouts.push({ size, desc: gpa(q, 'desc'), driver: gpa(q, 'driver'), device: gpa(q, 'device') });
      indices.push(parseSplitQueueState(v, `${shape.name} live ${at}`));
    });
    live = { features, layouts, indices };
  }
  if (live && broken !== undefined) throw r.error('a device that needs a reset is not live');
  if ((channel.state === ChannelState.Open) !== (live !== undefined)) throw r.error('the channel is open exactly while the device is live');

  const device = raw.device;
  if (device !== null && (typeof device !== 'object' || Array.isArray(device))) throw r.error('device is not an object or null');
  return {
    status,
    deviceFeaturesSel: r.int('deviceFeaturesSel', 0, U32),
    driverFeaturesSel: r.int('driverFeaturesSel', 0, U32),
    driverFeatures: r.bigint('driverFeatures', 0n, U64),
    queueSel: r.int('queueSel', 0, U32),
    queues,
    configGeneration: r.int('configGeneration', 0, U32),
    broken,
    channel,
    live,
    device,
  };
}
