// `tshv host ...`: the host a `tshv serve` makes (GET /api/host).
import type { Command } from 'commander';
import { apiAction, apiCommand, printJson } from './api-command.js';
import { formatBytes, formatDuration, formatFields } from './table.js';

/** GET /api/host (docs/api.md). */
export interface ApiHost {
  hostname: string;
  version: string;
  cpus: number;
  memoryBytes: number;
  uptimeSeconds: number;
  vms: { total: number; running: number };
}

export function addHostCommands(program: Command): void {
  const host = program
    .command('host')
    .description('the host of a running tshv service (tshv serve)');

  apiAction(apiCommand(host, 'info', 'the host: name, tshv version, processors, memory, uptime, VM counts', `
  tshv host info
  tshv host info --json | jq .vms.running
  TSHV_URL=http://10.0.0.5:7070 TSHV_TOKEN=$(cat token) tshv host info`), async (ctx) => {
    const h = await ctx.api.get<ApiHost>('/api/host');
    if (ctx.flags.json) return printJson(h);
    process.stdout.write(hostFields(h, ctx.api.service.url));
  });
}

/** The `host info` text. */
export function hostFields(h: ApiHost, url: string): string {
  return formatFields([
    ['Host', h.hostname],
    ['Service', url],
    ['Version', `tshv ${h.version}`],
    ['CPUs', String(h.cpus)],
    ['Memory', formatBytes(h.memoryBytes)],
    ['Uptime', formatDuration(h.uptimeSeconds)],
    ['VMs', `${h.vms.total} (${h.vms.running} running)`],
  ]);
}
