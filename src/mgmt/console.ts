// The WebSocket console of a VM (GET /api/vms/{vm}/console): on connect the last 64 KiB
// of the current run's output, then live output; every frame a client sends is console
// input. Output of a run is kept from its start (a guest reboot or restart begins a new
// run) so a client that connects late still sees the boot and the prompt. Input is held
// back, not buffered without end: once a VM has INPUT_PAUSE_BYTES waiting for the guest,
// the sockets that wrote it are no longer read until the guest has taken it (TCP then
// stops the client), and a client that gets past INPUT_MAX_BYTES anyway is cut off.
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { Host } from './host.js';
import { VmParamsSchema } from './schemas.js';
import { LIVE_STATES, isLegal, legalStates } from './lifecycle.js';

export const SCROLLBACK_BYTES = 64 * 1024;
/** A client this far behind (bytes queued in its socket) is cut off rather than buffered without end. */
const MAX_BUFFERED = 8 * 1024 * 1024;

/** The largest frame a client may send (the WebSocket server's maxPayload). */
export const CONSOLE_FRAME_BYTES = 1 << 20;
/** Console input a VM may have waiting for the guest before the sockets that send more are no longer read. */
export const INPUT_PAUSE_BYTES = 64 * 1024;
/**
 * Console input a VM never holds more of: a frame that would take it past this ends its
 * client (CLOSE_INPUT_OVERRUN). Only frames read before a socket was paused can get here,
 * the one that crossed INPUT_PAUSE_BYTES and the rest of that socket read, so a client
 * would have to be quick indeed.
 */
export const INPUT_MAX_BYTES = INPUT_PAUSE_BYTES + 2 * CONSOLE_FRAME_BYTES;

/** WebSocket close codes (4000-4999 are the application's). */
export const CLOSE_UNKNOWN_VM = 4404;
export const CLOSE_NOT_RUNNING = 4409;
export const CLOSE_INPUT_OVERRUN = 4429;

/** The last `capacity` bytes written, in chunks as they came. */
export class Scrollback {
  private chunks: Uint8Array[] = [];
  private size = 0;

  constructor(private readonly capacity = SCROLLBACK_BYTES) {}

  push(data: Uint8Array): void {
    if (data.length >= this.capacity) {
      this.chunks = [data.slice(data.length - this.capacity)];
      this.size = this.capacity;
      return;
    }
    this.chunks.push(data);
    this.size += data.length;
    while (this.size - this.chunks[0].length >= this.capacity) this.size -= this.chunks.shift()!.length;
  }

  /** The last `capacity` bytes (the oldest chunk may be cut). */
  contents(): Uint8Array {
    const all = Buffer.concat(this.chunks);
    return all.length > this.capacity ? all.subarray(all.length - this.capacity) : all;
  }

  clear(): void { this.chunks = []; this.size = 0; }
}

export function registerConsole(app: FastifyInstance, host: Host): void {
  const scrollback = new Map<string, Scrollback>();
  const sockets = new Map<string, Set<WebSocket>>();
  /** Per VM, the clients no longer read until its pending input has gone into the guest. */
  const paused = new Map<string, Set<WebSocket>>();
  const resume = (id: string) => {
    for (const ws of paused.get(id) ?? []) ws.resume();
    paused.delete(id);
  };
  host.on('input-drained', resume);
  // A socket's close can come after the service has closed its store (at shutdown): not recorded then.
  let closing = false;
  app.addHook('preClose', async () => { closing = true; });

  host.on('console', (id, data) => {
    let sb = scrollback.get(id);
    if (!sb) scrollback.set(id, sb = new Scrollback());
    sb.push(data);
    for (const ws of sockets.get(id) ?? []) {
      if (ws.bufferedAmount > MAX_BUFFERED) ws.close(1008, 'console client too slow');
      else ws.send(data);
    }
  });
  host.on('changed', (vm) => {
    if (vm.state === 'starting') scrollback.get(vm.id)?.clear(); // a new run
    if (!LIVE_STATES.includes(vm.state)) { // off, failed, saved: the run is over
      resume(vm.id); // the closing handshake needs the client's answer read
      for (const ws of sockets.get(vm.id) ?? []) ws.close(1000, `the VM is ${vm.state}`);
    }
  });
  host.on('removed', (id) => scrollback.delete(id));

  app.get<{ Params: { vm: string } }>('/api/vms/:vm/console', {
    websocket: true,
    config: { access: 'websocket' },
    schema: {
      operationId: 'openVmConsole',
      summary: 'The VM console over a WebSocket: binary frames both ways (input to the guest, output from it)',
      description: 'On connect: the last 64 KiB of output of the current run, then live output. Input the guest has not taken ' +
        'yet is held back: past 64 KiB the socket is not read until the guest has taken it. Closes with 4404 (no such VM), ' +
        `4409 (VM not ${legalStates('console')}), 4429 (input overrun), 1000 when the VM stops, 1008 when the client falls 8 MiB behind. ` +
        '?token= may replace the Authorization header.',
      tags: ['console'],
      params: VmParamsSchema,
    },
  }, (ws, req) => {
    let id: string;
    try {
      const vm = host.get(req.params.vm);
      id = vm.id;
      if (!isLegal('console', vm.state)) { ws.close(CLOSE_NOT_RUNNING, `the VM is ${vm.state}`); return; }
    } catch {
      ws.close(CLOSE_UNKNOWN_VM, 'no such VM');
      return;
    }
    const history = scrollback.get(id)?.contents();
    if (history?.length) ws.send(history);
    let set = sockets.get(id);
    if (!set) sockets.set(id, set = new Set());
    set.add(ws);
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      if (ws.readyState !== ws.OPEN) return; // cut off: what it sent after is dropped
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (!bytes.length) return;
      if (host.pendingInput(id) + bytes.length > INPUT_MAX_BYTES) {
        ws.close(CLOSE_INPUT_OVERRUN, 'console input overrun: the guest is not taking it this fast');
        ws.resume();
        return;
      }
      host.write(id, bytes);
      if (host.pendingInput(id) > INPUT_PAUSE_BYTES && !ws.isPaused) {
        ws.pause();
        let held = paused.get(id);
        if (!held) paused.set(id, held = new Set());
        held.add(ws);
      }
    });
    ws.on('close', (code, reason) => {
      set.delete(ws);
      if (!set.size) sockets.delete(id);
      paused.get(id)?.delete(ws);
      if (!closing && host.exists(id)) {
        host.record(id, [{ type: 'console-closed', message: `console client disconnected (${code}${reason.length ? ` ${reason.toString()}` : ''})` }]);
      }
    });
  });
}
