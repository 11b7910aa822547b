// `tshv disk ...`: make and inspect disk images without qemu-img (the same drivers the VMs
// use: src/parent/drivers/disk/).
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { openDisk, probeFormat } from '../parent/drivers/disk/open.js';
import { createQcow2 } from '../parent/drivers/disk/qcow2-create.js';
import type { BlockDevice } from '../parent/drivers/disk/block-device.js';
import { parseSize } from './units.js';
import { formatBytes } from './table.js';

interface CreateFlags { size?: string; backing?: string; backingFormat?: 'raw' | 'qcow2'; format: 'qcow2' | 'raw'; clusterSize?: string }

export function addDiskCommands(program: Command): void {
  const disk = program.command('disk').description('create and inspect disk images (raw, qcow2)');

  disk
    .command('create')
    .description('create a disk image: an empty qcow2 (v3) or raw file, or a qcow2 overlay on a backing image')
    .argument('<file>', 'the new image (must not exist)')
    .option('-s, --size <size>', 'virtual size, e.g. 512M, 20G (default for an overlay: the backing image\'s size)')
    .option('-b, --backing <file>', 'backing image; relative names are relative to the new image\'s directory')
    .addOption(new Option('-F, --backing-format <format>', 'format of the backing image (default: probed)').choices(['raw', 'qcow2']))
    .addOption(new Option('-f, --format <format>', 'image format').choices(['qcow2', 'raw']).default('qcow2'))
    .option('--cluster-size <size>', 'qcow2 cluster size, a power of two from 512 to 2M (default 64K)')
    .addHelpText('after', `
Examples:
  tshv disk create data.qcow2 --size 1G
  tshv disk create my-root.qcow2 --backing "$PWD/guest/images/rootfs.qcow2" && tshv run --root my-root.qcow2
  tshv disk create scratch.raw --format raw --size 64M`)
    .action(async (file: string, flags: CreateFlags) => {
      process.exitCode = await guarded('create', async () => {
        if (existsSync(file)) throw new Usage(`${file} already exists`);
        const size = flags.size === undefined ? undefined : usage(() => parseSize(flags.size!, '--size'));
        if (flags.format === 'raw') {
          if (flags.backing) throw new Usage('a raw image has no backing file: use --format qcow2');
          if (size === undefined) throw new Usage('a raw image needs --size');
          const fh = await open(file, 'wx');
          await fh.truncate(Math.ceil(size / 512) * 512);
          await fh.close();
        } else {
          let clusterBits: number | undefined;
          if (flags.clusterSize !== undefined) {
            const cs = usage(() => parseSize(flags.clusterSize!, '--cluster-size'));
            clusterBits = Math.log2(cs);
            if (!Number.isInteger(clusterBits) || clusterBits < 9 || clusterBits > 21) throw new Usage('--cluster-size must be a power of two from 512 to 2M');
          }
          if (size === undefined && !flags.backing) throw new Usage('give --size, or --backing to take its size');
          let virtualSize = size;
          if (flags.backing) {
            // Open the backing chain before making anything: it must be images (not a FIFO, say).
            const b = await openDisk(resolve(dirname(file), flags.backing), { readOnly: true, format: flags.backingFormat });
            virtualSize ??= b.size;
            await b.close();
          }
          await createQcow2(file, { size: virtualSize, backing: flags.backing, backingFormat: flags.backingFormat, clusterBits });
        }
        const d = await openDisk(file, { readOnly: true });
        process.stdout.write(`created ${file}: ${describe(d)}\n`);
        await d.close();
      });
    });

  disk
    .command('info')
    .description('an image\'s format, virtual size and backing chain')
    .argument('<file>', 'the image')
    .option('--json', 'print JSON')
    .action(async (file: string, flags: { json?: boolean }) => {
      process.exitCode = await guarded('info', async () => {
        if (!existsSync(file)) throw new Usage(`${file}: no such file`);
        await probeFormat(file);
        const d = await openDisk(file, { readOnly: true });
        try {
          const chain: { path: string; format: string; size: number }[] = [];
          for (let layer: BlockDevice | null | undefined = d; layer; layer = layer.backing) chain.push({ path: layer.path, format: layer.format, size: layer.size });
          if (flags.json) { process.stdout.write(JSON.stringify({ ...chain[0], backing: chain.slice(1) }, null, 2) + '\n'); return; }
          chain.forEach((l, i) => process.stdout.write(`${'  '.repeat(i)}${i ? 'backed by ' : ''}${l.path}: ${l.format}, ${formatBytes(l.size)} (${l.size} bytes)\n`));
        } finally {
          await d.close();
        }
      });
    });
}

class Usage extends Error {}
function usage<T>(f: () => T): T {
  try { return f(); } catch (e) { throw new Usage((e as Error).message); }
}

function describe(d: BlockDevice): string {
  return `${d.format}, ${formatBytes(d.size)}${d.backing ? `, backed by ${d.backing.path} (${d.backing.format})` : ''}`;
}

/** Runs a subcommand: 0 done, 2 bad usage, 1 the image could not be made or read. */
async function guarded(what: string, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (e) {
    process.stderr.write(`tshv disk ${what}: ${(e as Error).message}\n`);
    return e instanceof Usage ? 2 : 1;
  }
}
