// `tshv disk ...`: make and inspect disk images without qemu-img (the same drivers the VMs
// use: src/parent/drivers/disk/).
import { existsSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
// The disk drivers load when a disk command runs, not with every tshv command.
const drivers = async () => ({ ...await import('../parent/drivers/disk/open.js'), ...await import('../parent/drivers/disk/qcow2-create.js') });
import type { BlockDevice } from '../parent/drivers/disk/block-device.js';
import { parseSize } from './units.js';
import { formatBytes } from './table.js';

interface CreateFlags { size?: string; backing?: string; backingFormat?: 'raw' | 'qcow2'; format: 'qcow2' | 'raw'; clusterSize?: string }

/** A raw image's size is limited only by the file system and by offsets being exact JavaScript numbers. */
const RAW_MAX_BYTES = Math.floor(Number.MAX_SAFE_INTEGER / 512) * 512;

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
        const { openDisk, createQcow2, qcow2MaxSize } = await drivers();
        if (existsSync(file)) throw new Usage(`${file} already exists`);
        const size = flags.size === undefined ? undefined : usage(() => parseSize(flags.size!, '--size'));
        let clusterBits: number | undefined;
        if (flags.format === 'raw') {
          if (flags.backing) throw new Usage('a raw image has no backing file: use --format qcow2');
          if (size === undefined) throw new Usage('a raw image needs --size');
          if (size > RAW_MAX_BYTES) throw new Usage(`--size ${flags.size} is more than a raw image can be (at most ${formatBytes(RAW_MAX_BYTES)})`);
        } else {
          if (flags.clusterSize !== undefined) {
            const cs = usage(() => parseSize(flags.clusterSize!, '--cluster-size'));
            clusterBits = Math.log2(cs);
            if (!Number.isInteger(clusterBits) || clusterBits < 9 || clusterBits > 21) throw new Usage('--cluster-size must be a power of two from 512 to 2M');
          }
          if (size === undefined && !flags.backing) throw new Usage('give --size, or --backing to take its size');
          const max = qcow2MaxSize(clusterBits ?? 16);
          if (size !== undefined && size > max) {
            const hint = qcow2MaxSize(21) > max ? '; larger clusters hold more, e.g. --cluster-size 2M' : '';
            throw new Usage(`--size ${flags.size} is more than a qcow2 image with ${formatBytes(2 ** (clusterBits ?? 16))} clusters can hold (at most ${formatBytes(max)}${hint})`);
          }
        }
        let virtualSize = size;
        if (flags.backing) {
          // Open the backing chain before making anything: it must be images (not a FIFO, say).
          const b = await openDisk(resolve(dirname(file), flags.backing), { readOnly: true, format: flags.backingFormat });
          virtualSize ??= b.size;
          await b.close();
        }
        // Once the file exists it is ours: any failure removes it, so no partial image is left.
        let made = false;
        try {
          if (flags.format === 'raw') {
            const fh = await open(file, 'wx');
            made = true;
            try {
              await fh.truncate(Math.ceil(size! / 512) * 512);
            } finally {
              await fh.close();
            }
          } else {
            await createQcow2(file, { size: virtualSize, backing: flags.backing, backingFormat: flags.backingFormat, clusterBits }); // removes its file if it fails
            made = true;
          }
          const d = await openDisk(file, { readOnly: true });
          process.stdout.write(`created ${file}: ${describe(d)}\n`);
          await d.close();
        } catch (e) {
          if (made) await rm(file, { force: true });
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') throw new Usage(`${file} already exists`);
          if (code === 'EFBIG') throw new Error(`${file}: the file system (or the file size limit, ulimit -f) does not allow a file of ${formatBytes(size!)}`);
          throw e;
        }
      });
    });

  disk
    .command('info')
    .description('an image\'s format, virtual size and backing chain')
    .argument('<file>', 'the image')
    .option('--json', 'print JSON')
    .action(async (file: string, flags: { json?: boolean }) => {
      process.exitCode = await guarded('info', async () => {
        const { openDisk, probeFormat } = await drivers();
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
