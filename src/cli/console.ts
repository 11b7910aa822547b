// `tshv vm console`: this terminal on a VM's console, over the service's WebSocket
// (GET /api/vms/{vm}/console: binary frames both ways, the last 64 KiB of output first).
import { ClientError, ClientExit, startHint, vmPath, type ApiClient } from './client.js';
import type { ClientFlags } from './api-command.js';
import type { ApiVm } from './api-types.js';

export interface ConsoleFlags extends ClientFlags { linger: string }

const CTRL_A = 0x01;
const CTRL_RIGHT_BRACKET = 0x1d; // telnet's and virsh's escape

const HELP = '\r\nC-]      detach (the VM keeps running)\r\nC-a x    detach\r\nC-a h    print this help\r\nC-a C-a  send C-a to the guest\r\n';

/**
 * The detach keys of an interactive console, across chunk boundaries: Ctrl-] detaches,
 * Ctrl-A X detaches, Ctrl-A H asks for help, Ctrl-A Ctrl-A sends one Ctrl-A, and Ctrl-A
 * before any other key is dropped with it (as `tshv run` does).
 */
export class ConsoleKeys {
  private escape = false;

  /** The bytes for the guest, and what the user asked of the client, if anything. */
  feed(chunk: Uint8Array): { send: Uint8Array; detach: boolean; help: boolean } {
    const out: number[] = [];
    let help = false;
    for (const b of chunk) {
      if (this.escape) {
        this.escape = false;
        const k = String.fromCharCode(b).toLowerCase();
        if (k === 'x') return { send: Uint8Array.from(out), detach: true, help };
        if (k === 'h') help = true;
        else if (b === CTRL_A) out.push(CTRL_A);
        continue;
      }
      if (b === CTRL_RIGHT_BRACKET) return { send: Uint8Array.from(out), detach: true, help };
      if (b === CTRL_A) { this.escape = true; continue; }
      out.push(b);
    }
    return { send: Uint8Array.from(out), detach: false, help };
  }
}

/** The streams a console is attached to: the process's, or test streams. */
export interface ConsoleIo { stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }

/** The WebSocket URL of a VM's console. */
export function consoleUrl(serviceUrl: string, vmId: string): string {
  return serviceUrl.replace(/^http/, 'ws') + vmPath(vmId, 'console');
}

/**
 * Attaches stdin/stdout to the VM's console until the user detaches, stdin ends (pipe
 * mode, after --linger seconds of quiet) or the service closes the console. Resolves when
 * done; rejects with a ClientError for the exit code.
 */
export async function attachConsole(api: ApiClient, vm: ApiVm, flags: ConsoleFlags, io: ConsoleIo = process): Promise<void> {
  const linger = Number(flags.linger);
  if (!(linger >= 0)) throw new ClientError(`--linger must be a number of seconds, got "${flags.linger}"`, ClientExit.usage);
  // Loaded here, not at start-up: every other tshv command would pay for it.
  const { default: WebSocket } = await import('ws');
  const { stdin, stdout, stderr } = io;
  const interactive = (stdin as NodeJS.ReadStream).isTTY === true;
  const headers: Record<string, string> = api.service.token ? { authorization: `Bearer ${api.service.token}` } : {};
  const ws = new WebSocket(consoleUrl(api.service.url, vm.id), { headers, perMessageDeflate: false });

  return new Promise<void>((resolve, reject) => {
    let detaching = false;
    let opened = false;
    let lingerTimer: NodeJS.Timeout | undefined;
    let failure: ClientError | undefined;
    const keys = new ConsoleKeys();

    const detach = () => {
      if (detaching) return;
      detaching = true;
      clearTimeout(lingerTimer);
      ws.close(1000, 'detached');
    };
    const release = () => {
      clearTimeout(lingerTimer);
      stdin.off('data', onInput);
      stdin.off('end', onEnd);
      if (interactive) (stdin as NodeJS.ReadStream).setRawMode(false);
      stdin.pause();
    };
    const armLinger = () => {
      clearTimeout(lingerTimer);
      lingerTimer = setTimeout(detach, linger * 1000);
    };

    const onInput = (chunk: Buffer) => {
      if (detaching) return;
      if (!interactive) { ws.send(chunk); return; }
      const k = keys.feed(chunk);
      if (k.send.length) ws.send(k.send);
      if (k.help) stderr.write(HELP);
      if (k.detach) { stderr.write('\r\n'); detach(); }
    };
    let stdinEnded = false;
    const onEnd = () => { stdinEnded = true; armLinger(); };

    ws.on('open', () => {
      opened = true;
      if (interactive) {
        (stdin as NodeJS.ReadStream).setRawMode(true);
        stderr.write(`tshv: attached to ${vm.name}'s console; Ctrl-] detaches, Ctrl-A H for help\r\n`);
      }
      stdin.on('data', onInput);
      stdin.on('end', onEnd);
      stdin.resume();
    });
    ws.on('message', (data: Buffer) => {
      stdout.write(data);
      if (stdinEnded && !detaching) armLinger();
    });
    ws.on('unexpected-response', (_req, res) => {
      // The service refused the upgrade with an HTTP error: read its JSON message.
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => { text += s; });
      res.on('end', () => {
        failure = api.refusal(res.statusCode ?? 0, text, 'GET', consoleUrl(api.service.url, vm.id));
        ws.terminate();
      });
    });
    ws.on('error', (e) => {
      if (failure) return;
      if (!opened) { failure = api.unreachable(Object.assign(new Error(e.message), { cause: e })); return; }
      failure = new ClientError(`the console connection failed: ${e.message}`, ClientExit.unreachable);
    });
    ws.on('close', (code: number, reasonBytes: Buffer) => {
      release();
      if (failure) { reject(failure); return; }
      const reason = reasonBytes.toString();
      // The VM went away or stopped between the client's look-up and the connection.
      const why = reason ? ` (${reason})` : '';
      if (code === 4404) { reject(new ClientError(`no VM ${vm.name}${why}`, ClientExit.notFound)); return; }
      if (code === 4409) { reject(new ClientError(`${vm.name} is not running${why}; start it with: tshv vm start ${vm.name}`, ClientExit.failed)); return; }
      if (detaching) { if (interactive) stderr.write(`tshv: detached from ${vm.name}\n`); resolve(); return; }
      if (code === 1006) {
        reject(new ClientError(`lost the connection to the service at ${api.service.url}; ${startHint(api.service.dataDir)}`, ClientExit.unreachable));
        return;
      }
      // The service ended the console: the VM stopped. Say how, if it can be known.
      api.get<ApiVm>(vmPath(vm.id)).then(
        (v) => stderr.write(`${interactive ? '\r\n' : ''}tshv: ${v.name}'s console closed (${v.state}${v.stateReason ? `: ${v.stateReason}` : ''})\n`),
        () => stderr.write(`tshv: ${vm.name}'s console closed${reason ? ` (${reason})` : ''}\n`),
      ).finally(resolve);
    });
  });
}
