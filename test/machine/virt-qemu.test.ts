// End-to-end check of the devicetree from src/parent/machine/virt.ts: a 4-hart tree must
// decompile cleanly with dtc and boot the guest kernel under QEMU (`-M virt -dtb ours`),
// whose board has the same memory map. Boots nothing of tshv's own.
//
// QEMU differs from tshv in two ways the tree cannot hide, so there are two runs:
//  1. Our tree as is. Linux must come up to /init using our CPUs, memory, PLIC, UART, RTC
//     and chosen node. Userspace output does not appear: QEMU's PLIC has two contexts per
//     hart (M, then S) where ours has one (S), so Linux enables the UART interrupt in a
//     context that QEMU wires to some hart's M-mode, and the tty waits forever for it. And
//     secondary harts stay offline: QEMU's firmware (OpenSBI) finds no CLINT in the tree,
//     so it has no IPI device to wake them with (tshv is its own SBI and needs no CLINT).
//  2. The same tree with just those two things made QEMU's: PLIC interrupts-extended as
//     <M-ext 11, S-ext 9> per hart and a CLINT node for OpenSBI. Then the guest must reach
//     its shell on all 4 harts, take UART, virtio and RTC interrupts, and power off.
// Skipped when qemu-system-riscv64, dtc or the guest images are not there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildVirtDtb } from '../../src/parent/machine/virt.js';
import { FdtBuilder, parseFdt, propValue, type FdtNode } from '../../src/parent/machine/fdt.js';
import { decompileDtb } from '../../src/parent/machine/dtc.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const KERNEL = join(root, 'guest/images/Image.gz');
const INITRD = join(root, 'guest/images/initramfs.cpio.gz');
const QEMU = 'qemu-system-riscv64';
const BOOT_TIMEOUT_MS = 90_000;

const haveQemu = spawnSync(QEMU, ['--version']).status === 0;
const missing = !haveQemu ? `${QEMU} not installed` : !existsSync(KERNEL) || !existsSync(INITRD) ? 'guest images not built (guest/build.sh)' : undefined;

const tree = (): Uint8Array => buildVirtDtb({
  cpus: 4, ramBytes: 256n << 20n, bootargs: 'console=ttyS0', virtioSlots: [0, 3], rngSeed: new Uint8Array(32).fill(7),
});

/** Re-emits a parsed tree, letting `patch` replace property values and add child nodes. */
function rebuild(blob: Uint8Array, patch: { prop?: (path: string, name: string, v: Uint8Array) => Uint8Array; children?: (path: string, b: FdtBuilder) => void }): Uint8Array {
  const b = new FdtBuilder();
  const emit = (n: FdtNode, path: string): void => {
    b.beginNode(n.name);
    for (const [name, v] of n.props) b.bytes(name, patch.prop?.(path, name, v) ?? v);
    patch.children?.(path, b);
    for (const c of n.children) emit(c, `${path === '/' ? '' : path}/${c.name}`);
    b.endNode();
  };
  emit(parseFdt(blob).root, '/');
  return b.finish();
}

/** The QEMU adaptation of run 2: M+S PLIC contexts per hart, and a CLINT for OpenSBI. */
function qemuFirmwareTree(blob: Uint8Array): Uint8Array {
  const cellsOf = (xs: number[]): Uint8Array => { const out = new Uint8Array(xs.length * 4); const dv = new DataView(out.buffer); xs.forEach((x, i) => dv.setUint32(i * 4, x)); return out; };
  return rebuild(blob, {
    prop: (path, name, v) => {
      if (path !== '/soc/plic@c000000' || name !== 'interrupts-extended') return v;
      const intcs = propValue.cells(v).filter((_, i) => i % 2 === 0);
      return cellsOf(intcs.flatMap((ph) => [ph, 11, ph, 9]));
    },
    children: (path, b) => {
      if (path !== '/soc') return;
      const fdt = parseFdt(blob);
      const phs = fdt.root.children.find((c) => c.name === 'cpus')!.children.filter((c) => c.name.startsWith('cpu@'))
        .map((cpu) => propValue.cells(cpu.children[0].props.get('phandle')!)[0]);
      b.beginNode('clint@2000000').strings('compatible', ['sifive,clint0', 'riscv,clint0'])
        .u64('reg', 0x2000000n, 0x10000n).u32('interrupts-extended', ...phs.flatMap((ph) => [ph, 3, ph, 7])).endNode();
    },
  });
}

interface Session { output: () => string; waitFor: (re: RegExp) => Promise<void>; send: (s: string) => void; exit: Promise<number | null>; kill: () => void }

function startQemu(dir: string, dtb: Uint8Array, extra: string[] = []): Session {
  const dtbPath = join(dir, `tree-${Math.random().toString(36).slice(2)}.dtb`);
  writeFileSync(dtbPath, dtb);
  const child = spawn(QEMU, ['-M', 'virt', '-smp', '4', '-m', '256M', '-nographic', '-no-reboot', '-dtb', dtbPath,
    '-kernel', join(dir, 'Image'), '-initrd', INITRD, '-append', 'console=ttyS0', ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  const check = (): void => { for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].re.test(out)) waiters.splice(i, 1)[0].resolve(); };
  child.stdout.on('data', (d: Buffer) => { out += d.toString('latin1'); check(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString('latin1'); check(); });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), BOOT_TIMEOUT_MS);
  void exit.then(() => clearTimeout(timer));
  return {
    output: () => out,
    waitFor: (re) => new Promise<void>((resolve, reject) => {
      if (re.test(out)) { resolve(); return; }
      waiters.push({ re, resolve });
      void exit.then(() => reject(new Error(`QEMU exited before ${re}; output:\n${out.slice(-3000)}`)));
    }),
    send: (s) => child.stdin.write(s),
    exit,
    kill: () => child.kill('SIGKILL'),
  };
}

test('the 4-hart virt tree decompiles with dtc and boots Linux under QEMU', { skip: missing, timeout: 2 * BOOT_TIMEOUT_MS }, async (t) => {
  const dtb = tree();
  const dts = decompileDtb(dtb);
  if (dts) assert.equal(dts.warnings, '', 'dtc: no warnings');
  else t.diagnostic('dtc not installed: decompile check skipped');

  const dir = mkdtempSync(join(tmpdir(), 'tshv-virt-qemu-'));
  writeFileSync(join(dir, 'Image'), gunzipSync(readFileSync(KERNEL))); // QEMU 7.2 -kernel wants it raw
  try {
    await Promise.all([
      t.test('our tree as is: Linux reaches /init using every node', async () => {
        const q = startQemu(dir, dtb);
        try {
          await q.waitFor(/Run \/init as init process/);
          const log = q.output();
          for (const want of [
            /Machine model: tshv virt/,
            /Kernel command line: console=ttyS0/,
            /riscv: base ISA extensions acdfim/,
            /plic: plic@c000000: mapped 95 interrupts with 4 handlers for 4 contexts/,
            /riscv-timer: Timer interrupt in S-mode is available via sstc extension/,
            /sched_clock: 64 bits at 10MHz/,
            /10000000\.serial: ttyS0 at MMIO 0x10000000/,
            /goldfish_rtc 101000\.rtc: registered as rtc0/,
            /Unpacking initramfs/,
          ]) assert.match(log, want);
          assert.doesNotMatch(log, /Kernel panic/);
          const offline = (log.match(/CPU\d: failed to come online/g) ?? []).length;
          t.diagnostic(`as expected under QEMU: ${offline} secondary hart(s) offline (OpenSBI has no CLINT/IPI device in our tree), ` +
            'and no userspace output (our PLIC has one S context per hart, QEMU has M and S)');
        } finally { q.kill(); }
      }),
      t.test('with QEMU\'s PLIC contexts and a CLINT for OpenSBI: shell on 4 harts, interrupts, poweroff', async () => {
        const q = startQemu(dir, qemuFirmwareTree(dtb), ['-device', 'virtio-rng-device,bus=virtio-mmio-bus.3']);
        try {
          await q.waitFor(/tshv guest: Linux [^\n]*, 4 hart\(s\)/);
          await q.waitFor(/tshv:~# $/);
          q.send('echo MARK-$((6*7)); cat /proc/interrupts; cat /sys/class/misc/hw_random/rng_current\n');
          await q.waitFor(/virtio_rng\.0\r?\n[^]*tshv:~# $/);
          const log = q.output();
          assert.match(log, /MARK-42/);
          assert.match(log, /SiFive PLIC\s+10 Edge\s+ttyS0/);
          assert.match(log, /SiFive PLIC\s+11 Edge\s+101000\.rtc/);
          assert.match(log, /SiFive PLIC\s+4 Edge\s+virtio0/, 'virtio slot 3 is PLIC source 4');
          assert.match(log, /goldfish_rtc 101000\.rtc: setting system clock/);
          q.send('poweroff\n');
          assert.equal(await q.exit, 0, 'QEMU exits when the guest powers off');
        } finally { q.kill(); }
      }),
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
