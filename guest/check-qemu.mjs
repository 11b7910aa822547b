#!/usr/bin/env node
// Boot the default guest on QEMU's `virt` board and check it from its own shell:
// hart count, RTC date, uname, job control, and that `poweroff` ends QEMU.
//
//   node guest/check-qemu.mjs [--smp N] [--runs N] [--kernel Image[.gz]] [--initrd F]
//                             [--append "console=ttyS0"] [--drive rootfs.ext4[.gz]] [--verbose]
//
// With --drive the disk is attached as virtio-blk (vda) and no initrd is passed unless
// --initrd is given; use --append "console=ttyS0 root=/dev/vda" to boot from it.
// Exits non-zero if any check fails. Times are wall clock from QEMU's start, so they
// include OpenSBI; the kernel's own time to /init is read from its log.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const guest = dirname(fileURLToPath(import.meta.url));
const opts = {
  smp: 4,
  runs: 1,
  kernel: join(guest, 'images/Image.gz'),
  initrd: join(guest, 'images/initramfs.cpio.gz'),
  append: 'console=ttyS0',
  drive: null,
  verbose: false,
};
let initrdGiven = false;
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const val = () => {
    if (i + 1 >= process.argv.length) usage(`${a} needs a value`);
    return process.argv[++i];
  };
  if (a === '--smp') opts.smp = Number(val());
  else if (a === '--runs') opts.runs = Number(val());
  else if (a === '--kernel') opts.kernel = val();
  else if (a === '--initrd') { opts.initrd = val(); initrdGiven = true; }
  else if (a === '--append') opts.append = val();
  else if (a === '--drive') opts.drive = val();
  else if (a === '--verbose') opts.verbose = true;
  else usage(`unknown option ${a}`);
}
if (opts.drive && !initrdGiven) opts.initrd = null;
if (!(opts.smp >= 1) || !(opts.runs >= 1)) usage('--smp and --runs take a positive number');

function usage(msg) {
  console.error(`check-qemu: ${msg}`);
  process.exit(2);
}

// QEMU takes files, not gzip streams, for -kernel and for a raw drive.
const scratch = mkdtempSync(join(tmpdir(), 'tshv-guest-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
function plain(path, name) {
  if (!path.endsWith('.gz')) return path;
  const out = join(scratch, name);
  writeFileSync(out, gunzipSync(readFileSync(path)));
  return out;
}
const kernel = plain(opts.kernel, 'Image');
const drive = opts.drive && plain(opts.drive, 'disk.img');

// The prompt is PS1='\h:\w\$ ' from /init: "tshv:~# " at first, "tshv:/# " in /.
const PROMPT = /tshv:[^\n]*# $/;

function boot() {
  const args = ['-M', 'virt', '-smp', String(opts.smp), '-m', '256M', '-nographic',
    '-kernel', kernel, '-append', opts.append];
  if (opts.initrd) args.push('-initrd', opts.initrd);
  if (drive) args.push('-drive', `file=${drive},format=raw,if=none,id=vda`,
    '-device', 'virtio-blk-device,drive=vda');
  const t0 = performance.now();
  const qemu = spawn('qemu-system-riscv64', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let waiter = null;
  const exited = new Promise((resolve) => qemu.on('exit', (code, signal) => resolve({
    code, signal, ms: performance.now() - t0,
  })));
  qemu.stdout.setEncoding('utf8');
  qemu.stdout.on('data', (s) => {
    out += s.replace(/\r/g, ''); // ttyS0 sends CR LF, hvc0 CR CR LF
    if (opts.verbose) process.stdout.write(s);
    if (waiter && waiter.test()) { const w = waiter; waiter = null; w.resolve(); }
  });
  const until = (what, test, ms = 30000) => new Promise((resolve, reject) => {
    if (test()) { resolve(); return; }
    const timer = setTimeout(() => {
      waiter = null;
      reject(new Error(`timed out after ${ms} ms waiting for ${what}; last output:\n${out.slice(-800)}`));
    }, ms);
    waiter = { test, resolve: () => { clearTimeout(timer); resolve(); } };
  });
  let seq = 0;
  // Run one shell command; return what it printed between two unique markers.
  const run = async (cmd) => {
    const tag = `__tshv_${++seq}__`;
    const from = out.length;
    qemu.stdin.write(`echo ${tag}B; ${cmd}; echo ${tag}E\n`);
    const end = new RegExp(`\\n${tag}E\\n[\\s\\S]*# $`);
    await until(cmd, () => end.test(out.slice(from)));
    const text = out.slice(from);
    const b = text.indexOf(`\n${tag}B`);
    const e = text.indexOf(`\n${tag}E`);
    return text.slice(text.indexOf('\n', b + 1) + 1, e + 1);
  };
  return { qemu, t0, exited, until, run, output: () => out };
}

async function once() {
  const vm = boot();
  const result = { smp: opts.smp, checks: [] };
  const check = (name, ok, detail) => result.checks.push({ name, ok: Boolean(ok), detail });
  try {
    await vm.until('the shell prompt', () => PROMPT.test(vm.output()));
    result.promptMs = Math.round(performance.now() - vm.t0);
    const out = vm.output();
    const init = out.match(/\[\s*([\d.]+)\] Run \/\S+ as init process/);
    result.kernelToInitS = init ? Number(init[1]) : null;
    result.banner = (out.match(/^tshv guest:.*$/m) || [null])[0]?? null;
    result.prompt = out.slice(out.lastIndexOf('\n') + 1);
    check('banner printed', result.banner, result.banner);
    check('job control (no "can\'t access tty")', !/can't access tty/.test(out));

    const harts = (await vm.run('grep -c ^processor /proc/cpuinfo')).trim();
    check(`/proc/cpuinfo lists ${opts.smp} harts`, Number(harts) === opts.smp, harts);

    const guestNow = Number((await vm.run('date +%s')).trim());
    const hostNow = Math.floor(Date.now() / 1000);
    check('date is the host date (goldfish RTC, within 5 s)', Math.abs(guestNow - hostNow) <= 5,
      `${(await vm.run('date')).trim()} (guest ${guestNow}, host ${hostNow})`);

    const uname = (await vm.run('uname -a')).trim();
    check('uname -a', /^Linux tshv 6\.1\.\d+ .* riscv64/.test(uname), uname);

    const jobs = (await vm.run('sleep 1 & jobs; wait')).trim();
    check('background job listed by jobs', /^\[1\]/m.test(jobs), jobs.split('\n')[0]);

    const root = (await vm.run("awk '$2 == \"/\" { print $1, $3, substr($4, 1, 2) }' /proc/mounts")).trim();
    const wantRoot = (opts.append.match(/(?:^| )root=(\S+)/) || [])[1];
    // A disk root shows as /dev/root in /proc/mounts whatever root= named.
    check('root file system', wantRoot ? /^\/dev\/root ext4 rw$/.test(root) : /^rootfs /.test(root), root);

    const tty = (await vm.run('tty')).trim();
    check('shell has a real console tty', /^\/dev\/(ttyS|hvc)\d+$/.test(tty), tty);

    vm.qemu.stdin.write('poweroff\n');
    const timeout = new Promise((r) => setTimeout(() => r(null), 15000));
    const ex = await Promise.race([vm.exited, timeout]);
    check('poweroff ends QEMU with status 0', ex && ex.code === 0,
      ex ? `exit ${ex.code} after ${Math.round(ex.ms)} ms` : 'QEMU still running after 15 s');
  } catch (err) {
    check('boot and shell', false, err.message);
  } finally {
    if (vm.qemu.exitCode === null) vm.qemu.kill('SIGKILL');
  }
  return result;
}

let failed = false;
const prompts = [];
for (let r = 0; r < opts.runs; r++) {
  const res = await once();
  prompts.push(res.promptMs);
  console.log(`run ${r + 1}/${opts.runs}: -smp ${res.smp}: prompt after ${res.promptMs} ms ` +
    `(kernel reached /init at ${res.kernelToInitS} s)`);
  if (r === 0) {
    console.log(`  banner: ${JSON.stringify(res.banner)}`);
    console.log(`  prompt: ${JSON.stringify(res.prompt)}`);
  }
  for (const c of res.checks) {
    if (!c.ok || r === 0) console.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail ? `: ${c.detail}` : ''}`);
    if (!c.ok) failed = true;
  }
}
if (opts.runs > 1) {
  const ok = prompts.filter((x) => x !== undefined).sort((a, b) => a - b);
  console.log(`boot-to-prompt over ${opts.runs} runs: min ${ok[0]} ms, median ${ok[ok.length >> 1]} ms, max ${ok[ok.length - 1]} ms`);
}
process.exit(failed ? 1 : 0);
