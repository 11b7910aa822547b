// The WebSocket console of a VM (GET /api/vms/{vm}/console): on connect the last 64 KiB
// of the current run's output, then live output; every frame a client sends is console
// input. Output of a run is kept from its start (a guest reboot or restart begins a new
// run) so a client that connects late still sees the boot and the prompt.
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { Host } from './host.js';
import { VmParamsSchema } from './schemas.js';

export const SCROLLBACK_BYTES = 64 * 1024;
/** A client this far behind (bytes queued in its socket) is cut off rather than buffered without end. */
const MAX_BUFFERED = 8 * 1024 * 1024;

/** WebSocket close codes (4000-4999 are the application's). */
export const CLOSE_UNKNOWN_VM = 4404;
export const CLOSE_NOT_RUNNING = 4409;

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
    if (vm.state === 'off' || vm.state === 'failed') {
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
      description: 'On connect: the last 64 KiB of output of the current run, then live output. Closes with 4404 (no such VM), ' +
        '4409 (VM not starting, running or paused), 1000 when the VM stops. ?token= may replace the Authorization header.',
      tags: ['console'],
      params: VmParamsSchema,
    },
  }, (ws, req) => {
    let id: string;
    try {
      const vm = host.get(req.params.vm);
      id = vm.id;
      if (!['starting', 'running', 'paused'].includes(vm.state)) { ws.close(CLOSE_NOT_RUNNING, `the VM is ${vm.state}`); return; }
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
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (bytes.length) host.write(id, bytes);
    });
    ws.on('close', (code, reason) => {
      set.delete(ws);
      if (!set.size) sockets.delete(id);
      if (host.exists(id)) {
        host.record(id, [{ type: 'console-closed', message: `console client disconnected (${code}${reason.length ? ` ${reason.toString()}` : ''})` }]);
      }
    });
  });
}
