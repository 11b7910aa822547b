// SBI as the hypercall ABI (ARCHITECTURE.md path 1; RISC-V Supervisor Binary Interface
// Specification v2.0). A guest S-mode ecall exits the core with EXIT_HYPERCALL; this module
// decodes the call from a0..a7 (a7 = extension, a6 = function), validates its arguments
// and only then invokes the operation on the partition (seL4's decode-then-invoke), and
// writes the result to a0 (error) and a1 (value), per §3 "Binary Encoding".

export const SBI_SUCCESS = 0n;
export const SBI_ERR_FAILED = -1n;
export const SBI_ERR_NOT_SUPPORTED = -2n;
export const SBI_ERR_INVALID_PARAM = -3n;
export const SBI_ERR_INVALID_ADDRESS = -5n;
export const SBI_ERR_ALREADY_AVAILABLE = -6n;

// Extension ids (§3 and the chapters of each extension).
export const EXT_BASE = 0x10n;
export const EXT_TIME = 0x54494d45n;   // "TIME"
export const EXT_IPI = 0x735049n;      // "sPI"
export const EXT_RFENCE = 0x52464e43n; // "RFNC"
export const EXT_HSM = 0x48534dn;      // "HSM"
export const EXT_SRST = 0x53525354n;   // "SRST"
export const EXT_DBCN = 0x4442434en;   // "DBCN"
// Legacy extensions (§5), one function each.
const LEGACY_SET_TIMER = 0x00n, LEGACY_PUTCHAR = 0x01n, LEGACY_GETCHAR = 0x02n;
const LEGACY_CLEAR_IPI = 0x03n, LEGACY_SHUTDOWN = 0x08n;
/** EIDs 0x00-0x0F are the legacy range, implemented or reserved (§5). */
const LEGACY_LAST = 0x0fn;

/** SBI spec version 2.0 (§4.1: major in bits 30:24, minor in 23:0). */
const SPEC_VERSION = 2n << 24n;
/** Implementation id: not one of the registered ones (§4.9), "ts" for tshv. */
export const IMPL_ID = 0x7473n;
const IMPL_VERSION = 1n;

export enum RfenceKind { FenceI, SfenceVma }

/** What the SBI implementation needs from the virtual processor and its partition. */
export interface SbiHost {
  readonly vpIndex: number;
  readonly vpCount: number;
  reg(n: number): bigint;
  setReg(n: number, v: bigint): void;
  /** TIME: program the supervisor timer (stimecmp) and clear any pending timer interrupt. */
  setTimer(deadline: bigint): void;
  /** IPI: set SSIP on the harts. */
  sendIpi(harts: number[]): void;
  clearIpi(): void;
  /** RFENCE: make the harts fence and wait until they have. */
  remoteFence(harts: number[], kind: RfenceKind): void;
  /** HSM: start a stopped hart at addr in S-mode with a0 = hartid, a1 = opaque. */
  hartStart(hart: number, addr: bigint, opaque: bigint): bigint;
  hartStop(): bigint;
  hartStatus(hart: number): bigint;
  /** HSM default retentive suspend: behave like WFI. */
  suspend(): void;
  /** SRST and legacy shutdown. */
  systemReset(type: number, reason: number): void;
  /** True when [addr, addr + len) is guest RAM (console buffers must be). */
  isRam(addr: bigint, len: bigint): boolean;
  /** DBCN: bytes written (read), or a negative SBI error code such as SBI_ERR_FAILED. */
  consoleWrite(addr: bigint, len: bigint): bigint;
  consoleRead(addr: bigint, len: bigint): bigint;
  consolePutchar(byte: number): void;
}

const A0 = 10, A1 = 11, A2 = 12, A3 = 13, A6 = 16, A7 = 17;

/** Handles the SBI call in the host's registers. */
export function handleSbi(host: SbiHost): void {
  const eid = host.reg(A7), fid = host.reg(A6);
  const [error, value] = dispatch(host, eid, fid);
  host.setReg(A0, error);
  if (eid > LEGACY_LAST) host.setReg(A1, value); // legacy calls return a0 only (§5)
}

function dispatch(h: SbiHost, eid: bigint, fid: bigint): [bigint, bigint] {
  const a = (i: number) => h.reg(A0 + i);
  switch (eid) {
    case EXT_BASE: return base(fid, a(0));
    case EXT_TIME:
      if (fid !== 0n) return [SBI_ERR_NOT_SUPPORTED, 0n];
      h.setTimer(a(0));
      return [SBI_SUCCESS, 0n];
    case EXT_IPI: {
      if (fid !== 0n) return [SBI_ERR_NOT_SUPPORTED, 0n];
      const harts = hartMask(h, a(0), a(1));
      if (!harts) return [SBI_ERR_INVALID_PARAM, 0n];
      h.sendIpi(harts);
      return [SBI_SUCCESS, 0n];
    }
    case EXT_RFENCE: {
      // §8: 0 remote_fence_i, 1 remote_sfence_vma, 2 remote_sfence_vma_asid; 3..6 are for
      // the hypervisor extension, which tshv's harts do not have.
      if (fid > 2n) return [SBI_ERR_NOT_SUPPORTED, 0n];
      const harts = hartMask(h, a(0), a(1));
      if (!harts) return [SBI_ERR_INVALID_PARAM, 0n];
      h.remoteFence(harts, fid === 0n ? RfenceKind.FenceI : RfenceKind.SfenceVma);
      return [SBI_SUCCESS, 0n];
    }
    case EXT_HSM: return hsm(h, fid, a(0), a(1), a(2));
    case EXT_SRST: {
      if (fid !== 0n) return [SBI_ERR_NOT_SUPPORTED, 0n];
      const type = a(0), reason = a(1);
      // §10.1: types 0 shutdown, 1 cold reboot, 2 warm reboot; reasons 0 none, 1 failure.
      if (type > 2n || reason > 1n) return [SBI_ERR_INVALID_PARAM, 0n];
      h.systemReset(Number(type), Number(reason));
      return [SBI_SUCCESS, 0n];
    }
    case EXT_DBCN: return debugConsole(h, fid, a(0), a(1), a(2));
    case LEGACY_SET_TIMER: h.setTimer(a(0)); return [SBI_SUCCESS, 0n];
    case LEGACY_PUTCHAR: h.consolePutchar(Number(a(0) & 0xffn)); return [SBI_SUCCESS, 0n];
    case LEGACY_GETCHAR: return [-1n, 0n]; // no input through the legacy console
    case LEGACY_CLEAR_IPI: h.clearIpi(); return [SBI_SUCCESS, 0n];
    case LEGACY_SHUTDOWN: h.systemReset(0, 0); return [SBI_SUCCESS, 0n];
    default: return [SBI_ERR_NOT_SUPPORTED, 0n];
  }
}

function base(fid: bigint, arg: bigint): [bigint, bigint] {
  switch (fid) {
    case 0n: return [SBI_SUCCESS, SPEC_VERSION];
    case 1n: return [SBI_SUCCESS, IMPL_ID];
    case 2n: return [SBI_SUCCESS, IMPL_VERSION];
    case 3n: { // probe_extension
      const known = [EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST, EXT_DBCN,
        LEGACY_SET_TIMER, LEGACY_PUTCHAR, LEGACY_GETCHAR, LEGACY_CLEAR_IPI, LEGACY_SHUTDOWN];
      return [SBI_SUCCESS, known.includes(arg) ? 1n : 0n];
    }
    case 4n: case 5n: case 6n: return [SBI_SUCCESS, 0n]; // mvendorid, marchid, mimpid
    default: return [SBI_ERR_NOT_SUPPORTED, 0n];
  }
}

/**
 * The harts named by (hart_mask, hart_mask_base) (§3.2); undefined if one does not exist.
 * A base of -1 (all ones) means every hart.
 */
function hartMask(h: SbiHost, mask: bigint, maskBase: bigint): number[] | undefined {
  if (BigInt.asIntN(64, maskBase) === -1n) return Array.from({ length: h.vpCount }, (_, i) => i);
  const harts: number[] = [];
  for (let bit = 0n; bit < 64n; bit++) {
    if (((mask >> bit) & 1n) === 0n) continue;
    const hart = maskBase + bit;
    if (hart >= BigInt(h.vpCount)) return undefined;
    harts.push(Number(hart));
  }
  return harts;
}

function hsm(h: SbiHost, fid: bigint, a0: bigint, a1: bigint, a2: bigint): [bigint, bigint] {
  switch (fid) {
    case 0n: { // hart_start(hartid, start_addr, opaque)
      if (a0 >= BigInt(h.vpCount)) return [SBI_ERR_INVALID_PARAM, 0n];
      if (!h.isRam(a1, 2n) || (a1 & 1n) !== 0n) return [SBI_ERR_INVALID_ADDRESS, 0n];
      return [h.hartStart(Number(a0), a1, a2), 0n];
    }
    case 1n: return [h.hartStop(), 0n];
    case 2n: // hart_get_status(hartid)
      if (a0 >= BigInt(h.vpCount)) return [SBI_ERR_INVALID_PARAM, 0n];
      return [SBI_SUCCESS, h.hartStatus(Number(a0))];
    case 3n: { // hart_suspend(suspend_type, resume_addr, opaque); suspend_type is 32 bits (§3)
      const type = BigInt.asUintN(32, a0);
      if (type === 0n) { h.suspend(); return [SBI_SUCCESS, 0n]; } // default retentive
      // §9.4: default non-retentive is defined, but tshv has no non-retentive state to offer;
      // reserved types, and platform-specific ones it does not implement, are invalid.
      if (type === 0x8000_0000n) return [SBI_ERR_NOT_SUPPORTED, 0n];
      return [SBI_ERR_INVALID_PARAM, 0n];
    }
    default: return [SBI_ERR_NOT_SUPPORTED, 0n];
  }
}

/**
 * DBCN (§12): buffers are guest-physical and must lie in RAM. base_addr_lo holds the low XLEN
 * bits of the address and base_addr_hi the high XLEN bits (§12.1), so on RV64 the address is
 * base_addr_lo and a non-zero base_addr_hi names an address above 2^64, never accessible.
 */
function debugConsole(h: SbiHost, fid: bigint, n: bigint, lo: bigint, hi: bigint): [bigint, bigint] {
  switch (fid) {
    case 0n: case 1n: {
      if (n === 0n) return [SBI_SUCCESS, 0n];
      if (hi !== 0n || !h.isRam(lo, n)) return [SBI_ERR_INVALID_PARAM, 0n];
      const done = fid === 0n ? h.consoleWrite(lo, n) : h.consoleRead(lo, n);
      return done < 0n ? [done, 0n] : [SBI_SUCCESS, done];
    }
    case 2n: h.consolePutchar(Number(n & 0xffn)); return [SBI_SUCCESS, 0n];
    default: return [SBI_ERR_NOT_SUPPORTED, 0n];
  }
}
