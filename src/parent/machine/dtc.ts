// Runs the Device Tree Compiler (Debian package device-tree-compiler) to decompile a DTB,
// as an independent check of what fdt.ts writes. Optional: callers skip when it is absent.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Decompiled { dts: string; warnings: string; status: number }

/** True when a `dtc` binary is on PATH. */
export function haveDtc(): boolean {
  const r = spawnSync('dtc', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

/** `dtc -I dtb -O dts` on the blob; undefined when dtc is not installed. */
export function decompileDtb(blob: Uint8Array): Decompiled | undefined {
  if (!haveDtc()) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tshv-dtc-'));
  try {
    const file = join(dir, 'tree.dtb');
    writeFileSync(file, blob);
    const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', '-o', '-', file], { encoding: 'utf8' });
    return { dts: r.stdout, warnings: r.stderr, status: r.status ?? -1 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
