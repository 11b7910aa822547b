// The compile thread of a VM (docs/cpu.md "Translation"): its harts ask it for translations
// of hot blocks and go on interpreting, so compiling never stops a processor. It reads the
// code from the VM's shared memory, compiles what has queued up into one module
// (compiler.ts), makes V8 compile every function of it (so the harts' first calls find code
// ready), and sends the module back to the hart that asked, which instantiates it in its
// own thread. One thread serves all harts of a VM.
//
// This file is both the worker's entry point (run in a Worker) and, for the thread that
// starts it, CompileThread and compileChannel.
import { Worker, MessageChannel, isMainThread, parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { RegionCompiler, type CompiledBatch } from './compiler.js';
import type { CompileChannel } from './translator.js';

/** Regions compiled into one module at most: bounds how long a hart waits for the first. */
const MAX_BATCH = 32;

interface ThreadData { memory: WebAssembly.Memory }
/** To the compile thread: a hart's port (once), then requests on that port. */
type Attach = { port: MessagePort };
type Request = { hosts: number[] };

/**
 * A VM's compile thread, seen from the thread that owns the VM. Harts get their ports at
 * once; the thread itself starts at start() (a VM starts it once it runs, so that it does
 * not compete with the VM's own threads while they start): requests wait in the ports.
 */
export class CompileThread {
  private worker?: Worker;
  private readonly waiting: MessagePort[] = [];

  constructor(private readonly memory: WebAssembly.Memory) {}

  /** A port for one hart (pass it to that hart's thread, then compileChannel there). */
  port(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    if (this.worker) this.attach(port1);
    else this.waiting.push(port1);
    return port2;
  }

  start(): void {
    if (this.worker) return;
    const data: ThreadData = { memory: this.memory };
    this.worker = new Worker(new URL(import.meta.url), { workerData: data });
    this.worker.unref();
    for (const p of this.waiting.splice(0)) this.attach(p);
  }

  async terminate(): Promise<void> {
    for (const p of this.waiting.splice(0)) p.close();
    await this.worker?.terminate();
  }

  private attach(port: MessagePort): void {
    const attach: Attach = { port };
    this.worker!.postMessage(attach, [port]);
  }
}

/** The hart's side of a port from CompileThread.port. */
export function compileChannel(port: MessagePort): CompileChannel {
  return {
    request: (hosts) => { const r: Request = { hosts }; port.postMessage(r); },
    receive: () => receiveMessageOnPort(port)?.message as CompiledBatch | undefined,
  };
}

// ---- the worker --------------------------------------------------------------------------

if (!isMainThread && parentPort && (workerData as ThreadData | undefined)?.memory instanceof WebAssembly.Memory) {
  const compiler = new RegionCompiler((workerData as ThreadData).memory);
  parentPort.on('message', (m: Attach) => {
    const port = m.port;
    port.on('message', (first: Request) => {
      // Everything this hart has asked for since: one module.
      const hosts = [...first.hosts];
      for (let more = receiveMessageOnPort(port); more && hosts.length < MAX_BATCH; more = receiveMessageOnPort(port)) {
        hosts.push(...(more.message as Request).hosts);
      }
      for (let i = 0; i < hosts.length; i += MAX_BATCH) for (const b of batches(hosts.slice(i, i + MAX_BATCH))) port.postMessage(b);
    });
  });
  const batches = (hosts: number[]): CompiledBatch[] => {
    try {
      return compiler.compile(hosts, true);
    } catch {
      // A translator bug: the blocks stay interpreted (the hart counts them as given up).
      return [{ regions: [], untranslatable: [], raced: hosts, bytes: 0, ms: 0 }];
    }
  };
}
