// The qcow2 snapshot table (QEMU docs/interop/qcow2.txt, "Snapshots"). This driver never
// creates, loads or deletes internal snapshots; it reads the table only to learn which
// clusters the snapshots' L1 and L2 tables occupy, so that it never allocates over them.
import { MAX_L1_BYTES } from './qcow2-header.js';
import type { Qcow2File } from './qcow2-file.js';

const ENTRY_FIXED = 40;
/** QEMU's QCOW_MAX_SNAPSHOT_EXTRA_DATA. */
const MAX_EXTRA = 1024;

export interface SnapshotL1 {
  l1TableOffset: number;
  l1Size: number;
}

/** Reads the snapshot table: each snapshot's L1 table and the table's length in bytes. */
export async function readSnapshotTable(file: Qcow2File, offset: number, count: number): Promise<{ snapshots: SnapshotL1[]; bytes: number }> {
  const snapshots: SnapshotL1[] = [];
  const fixed = new Uint8Array(ENTRY_FIXED);
  const v = new DataView(fixed.buffer);
  const fileEnd = file.endCluster * file.clusterSize;
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (at + ENTRY_FIXED > fileEnd) throw file.corrupt(`snapshot table entry ${i} is outside the image`);
    await file.read(fixed, at);
    const l1TableOffset = Number(v.getBigUint64(0));
    const l1Size = v.getUint32(8);
    const idLength = v.getUint16(12);
    const nameLength = v.getUint16(14);
    const extra = v.getUint32(36);
    if (extra > MAX_EXTRA) throw file.corrupt(`snapshot ${i} has ${extra} bytes of extra data`);
    if (l1Size * 8 > MAX_L1_BYTES) throw file.corrupt(`snapshot ${i} has an L1 table of ${l1Size} entries`);
    if (l1Size > 0) {
      file.checkTable(`snapshot ${i} L1 table`, l1TableOffset);
      if (l1TableOffset + l1Size * 8 > fileEnd) throw file.corrupt(`snapshot ${i} L1 table runs past the end of the image`);
    }
    snapshots.push({ l1TableOffset, l1Size });
    at += Math.ceil((ENTRY_FIXED + extra + idLength + nameLength) / 8) * 8;
  }
  if (at > fileEnd) throw file.corrupt('the snapshot table runs past the end of the image');
  return { snapshots, bytes: at - offset };
}
