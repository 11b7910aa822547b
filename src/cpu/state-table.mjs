// The one table of a virtual processor's state block.
//
// Each hart owns one state block in the VM's shared WebAssembly.Memory. The wasm core
// (src/cpu/core, AssemblyScript) and the TypeScript side (src/cpu/*.ts) both address it
// through offsets generated from this table by scripts/gen-layout.js, so the two sides
// cannot drift apart (the v86 lesson in ../shared/STYLE.md).
//
// Entry: [name, size in bytes, count, kind, comment]. Fields are laid out in order, each
// aligned to its size. All multi-byte fields are little-endian, as wasm memory is.
//
// Kind says what a saved VM keeps (src/cpu/hart-state.ts saves the SAVED fields by name,
// from the list gen-layout.js makes): SAVED is the hart's state, TRANSIENT lives only
// between two calls of the host (an exit being served, a request from another thread) or
// is the host's wiring of this run, not the guest's. Every entry must say which, so a new
// field cannot be left out of a saved VM unnoticed.
const SAVED = 'saved';
const TRANSIENT = 'transient';

export const STATE_FIELDS = [
  // Architectural registers.
  ['X', 8, 32, SAVED, 'integer registers x0..x31 (x0 is rewritten to 0 after every instruction)'],
  ['F', 8, 32, SAVED, 'floating-point registers f0..f31, NaN-boxed when holding singles'],
  ['PC', 8, 1, SAVED, 'program counter; valid whenever run() is not executing'],
  ['INSTRET', 8, 1, SAVED, 'instructions retired (also mcycle: one cycle per instruction)'],
  ['PRIV', 8, 1, SAVED, 'current privilege level: 0 U, 1 S, 3 M'],
  ['FCSR', 8, 1, SAVED, 'frm (bits 7:5) and fflags (bits 4:0)'],

  // Machine-level CSRs (privileged spec 1.12, chapter 3).
  ['MSTATUS', 8, 1, SAVED, 'mstatus; sstatus is a view of it'],
  ['MISA', 8, 1, SAVED, 'misa: RV64 IMAFDC + S + U'],
  ['MEDELEG', 8, 1, SAVED, 'exceptions delegated to S-mode'],
  ['MIDELEG', 8, 1, SAVED, 'interrupts delegated to S-mode'],
  ['MIE', 8, 1, SAVED, 'interrupt enables; sie is a view of it'],
  ['MIP', 8, 1, SAVED, 'software-writable pending bits (SSIP, STIP without Sstc, SEIP)'],
  ['MTVEC', 8, 1, SAVED, 'machine trap vector'],
  ['MSCRATCH', 8, 1, SAVED, 'mscratch'],
  ['MEPC', 8, 1, SAVED, 'mepc'],
  ['MCAUSE', 8, 1, SAVED, 'mcause'],
  ['MTVAL', 8, 1, SAVED, 'mtval'],
  ['MCOUNTEREN', 8, 1, SAVED, 'counters readable from S-mode'],
  ['MCOUNTINHIBIT', 8, 1, SAVED, 'mcountinhibit (stored; counters always count)'],
  ['MENVCFG', 8, 1, SAVED, 'menvcfg; bit 63 STCE enables Sstc'],
  ['MHARTID', 8, 1, SAVED, 'this hart id'],
  ['MTIMECMP', 8, 1, SAVED, 'machine timer compare (the CLINT register, kept here so the core can raise MTIP itself)'],
  ['PMPCFG', 8, 2, SAVED, 'pmpcfg0 and pmpcfg2 (RV64 has only the even ones)'],
  ['PMPADDR', 8, 16, SAVED, 'pmpaddr0..15'],

  // Supervisor-level CSRs (chapter 4).
  ['STVEC', 8, 1, SAVED, 'supervisor trap vector'],
  ['SSCRATCH', 8, 1, SAVED, 'sscratch'],
  ['SEPC', 8, 1, SAVED, 'sepc'],
  ['SCAUSE', 8, 1, SAVED, 'scause'],
  ['STVAL', 8, 1, SAVED, 'stval'],
  ['SATP', 8, 1, SAVED, 'satp: MODE (Bare, Sv39, Sv48), ASID, PPN'],
  ['SCOUNTEREN', 8, 1, SAVED, 'counters readable from U-mode'],
  ['SENVCFG', 8, 1, SAVED, 'senvcfg'],
  ['STIMECMP', 8, 1, SAVED, 'Sstc supervisor timer compare'],

  // LR/SC reservation (A extension, section 8.2).
  ['RESERVATION_ADDR', 8, 1, SAVED, 'guest-physical address reserved by LR, or -1'],
  ['RESERVATION_VALUE', 8, 1, SAVED, 'value LR read; SC succeeds only if memory still holds it'],

  // Exit record: written by run() before it returns an exit code (see exits.ts).
  ['EXIT_ADDR', 8, 1, TRANSIENT, 'MMIO: guest-physical address; HTIF: value written to tohost'],
  ['EXIT_VALUE', 8, 1, TRANSIENT, 'MMIO store: value written (zero-extended)'],
  ['EXIT_WIDTH', 8, 1, TRANSIENT, 'MMIO: access width in bytes (1, 2, 4, 8)'],
  ['EXIT_RD', 8, 1, TRANSIENT, 'MMIO load: destination register; bit 5 set = f register; bit 6 set = sign-extend'],
  ['EXIT_INST_LEN', 8, 1, TRANSIENT, 'length of the intercepted instruction (2 or 4), to step over it'],

  // Configuration, set by the host before run(). CFG_SBI is part of a guest hart's state
  // (bootGuestHart sets it, a restored hart never passes there); CFG_TOHOST wires an HTIF
  // test harness into this run only, and guest harts never have one.
  ['CFG_SBI', 8, 1, SAVED, 'non-zero: ecall from S-mode exits to the hypervisor (HYPERCALL) instead of trapping to M'],
  ['CFG_TOHOST', 8, 1, TRANSIENT, 'guest-physical address of the HTIF tohost word, or 0 for none'],

  // Shared with other threads (Atomics on the low 32 bits). IRQ_LINES is saved: it holds
  // an IPI's SSIP until the hart takes it, and the device lines as last driven.
  ['IRQ_LINES', 8, 1, SAVED, 'interrupt lines raised by the host, in mip bit positions (MSIP, MTIP, SEIP, MEIP)'],
  ['TLB_FLUSH_REQ', 8, 1, TRANSIENT, 'non-zero: another thread asks this hart to flush its TLB before running on'],
  ['STOP_REQ', 8, 1, TRANSIENT, 'non-zero: another thread asks run() to return early (exit BUDGET)'],

  // Counters of the translation tier (docs/cpu.md "Translation"), for metrics: the core
  // counts the first three, the hart's translator (src/cpu/jit/translator.ts) the others.
  ['JIT_RUNS', 8, 1, TRANSIENT, 'calls of translated code from the dispatcher (lookup cache hits)'],
  ['JIT_MISSES', 8, 1, TRANSIENT, 'block entries the lookup cache had no translation for'],
  ['JIT_INVALIDATIONS', 8, 1, TRANSIENT, 'stores by this hart that made a translated page stale'],
  ['JIT_TRANSLATED', 8, 1, TRANSIENT, 'regions translated'],
  ['JIT_COMPILE_US', 8, 1, TRANSIENT, 'microseconds spent translating them (compile thread and hart)'],
  ['JIT_DROPPED', 8, 1, TRANSIENT, 'translations given up: code written while compiled, or a translator error'],
];

// Software TLB: after the fields, at TLB_OFFSET. Three privilege sets (U, S, M) of three
// access kinds (load, store, fetch), each TLB_ENTRIES direct-mapped entries of 16 bytes:
// [tag: virtual page number, or -1] [addend: host offset minus virtual address].
export const TLB_OFFSET = 2048;
export const TLB_ENTRIES = 256;
export const TLB_ENTRY_BYTES = 16;
export const TLB_KINDS = 3;
export const TLB_SETS = 3;

// Translation lookup cache (src/cpu/jit, docs/cpu.md "Translation"): after the TLB, a
// direct-mapped table the dispatcher consults at each block entry, JIT_CACHE_ENTRIES
// entries of 16 bytes: [host offset of the entry pc][table index of its translation, 0 =
// none][code-page generation it was made at][times entered while untranslated].
export const JIT_CACHE_OFFSET = 0x9c00;
export const JIT_CACHE_ENTRIES = 1024;
export const JIT_CACHE_ENTRY_BYTES = 16;

// One state block per hart, this many bytes apart.
export const STATE_BLOCK_BYTES = 64 * 1024;

// Where things sit in the VM's shared WebAssembly.Memory (byte offsets).
//   0x0000_0000  reserved: the wasm core keeps no static data, this page stays zero
//   0x0001_0000  compressed-instruction expansion table: 65536 x u32 (RVC -> RV64 encoding)
//   0x0005_0000  hart state blocks, STATE_BLOCK_BYTES each, MAX_HARTS of them
//   0x000d_0000  written-page log: one bit per 4 KiB page of RAM, set when the page may
//                have been written since the VM's memory was made (docs/state.md)
//   0x0010_0000  guest RAM (guest-physical RAM_BASE maps here)
export const CTABLE_OFFSET = 0x10000;
export const STATE_BLOCKS_OFFSET = 0x50000;
export const MAX_HARTS = 8;
export const WRITTEN_LOG_OFFSET = 0xd0000;
export const RAM_OFFSET = 0x100000;

// Why run() returned: [name, code, meaning]. The exit record fields above say more.
export const EXITS = [
  ['EXIT_NONE', 0, 'still running (never returned)'],
  ['EXIT_BUDGET', 1, 'the instruction budget is spent, or STOP_REQ was set'],
  ['EXIT_HYPERCALL', 2, 'ecall from S-mode with CFG_SBI: SBI call in a0..a7, pc already past the ecall'],
  ['EXIT_MMIO_LOAD', 3, 'load outside RAM: EXIT_ADDR/WIDTH/RD; finish with mmioComplete(value) or mmioFault()'],
  ['EXIT_MMIO_STORE', 4, 'store outside RAM: EXIT_ADDR/WIDTH/VALUE; finish with mmioComplete(0) or mmioFault()'],
  ['EXIT_WFI', 5, 'WFI with no interrupt pending and enabled; pc is past the wfi'],
  ['EXIT_HTIF', 6, 'the guest stored a non-zero value to the HTIF tohost word (EXIT_ADDR holds it)'],
];
