// The host facilities the inner layers (src/hypervisor, src/vmbus and the host side of
// src/cpu they use) may rely on, declared by hand: ECMAScript's own (shared memory,
// Atomics) come from lib es2022, and these two come from any JavaScript host, browser or
// Node. Their tsconfigs load no Node or DOM types, so anything else is a compile error.

declare namespace WebAssembly {
  interface Memory {
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
  }
}

/** High-resolution milliseconds (the Web's and Node's performance.now). */
declare const performance: { now(): number };
