// Metrics: JSON for tools (GET /api/vms/{vm}/metrics, GET /api/metrics) and Prometheus
// text (GET /metrics). Both read Vm.stats() of the VMs that have a partition; the counters
// count from the start of the VM's current run.
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { VmStats } from '../parent/vm.js';
import type { Host } from './host.js';
import type { TranslationCounters } from '../cpu/state-blocks.js';
import { HostMetricsSchema, VmMetricsSchema, VmParamsSchema, errors } from './schemas.js';

export interface VmMetrics {
  vcpus: { vp: number; runSeconds: number; cpuSeconds: number; instructions: number; translation: TranslationCounters }[];
  exits: Record<string, number>;
  io: { disks: { name: string; reads: number; writes: number; readBytes: number; writtenBytes: number; flushes: number; errors: number }[] };
  memoryBytes: number;
}

export function vmMetrics(stats: VmStats | undefined): VmMetrics {
  if (!stats) return { vcpus: [], exits: {}, io: { disks: [] }, memoryBytes: 0 };
  const exits: Record<string, number> = {};
  for (const vp of stats.vps) for (const [reason, n] of Object.entries(vp.exits)) exits[reason] = (exits[reason] ?? 0) + n;
  return {
    vcpus: stats.vps.map(({ vp, runSeconds, cpuSeconds, instructions, translation }) => ({ vp, runSeconds, cpuSeconds, instructions, translation })),
    exits,
    io: { disks: stats.disks.map(({ name, reads, writes, readBytes, writtenBytes, flushes, errors }) => ({ name, reads, writes, readBytes, writtenBytes, flushes, errors })) },
    memoryBytes: stats.memoryBytes,
  };
}

/** The Prometheus registry: per-VM counters refreshed from Vm.stats() at each scrape, and the process defaults. */
class PrometheusMetrics {
  readonly registry = new Registry();
  private readonly vpRunSeconds = this.counter('tshv_vp_run_seconds_total', 'Time virtual processors spent running guest code, in seconds', ['vm', 'vp']);
  private readonly vpCpuSeconds = this.counter('tshv_vp_cpu_seconds_total', 'Host CPU time of virtual processor threads, in seconds', ['vm', 'vp']);
  private readonly vpInstructions = this.counter('tshv_vp_instructions_total', 'Instructions retired by virtual processors', ['vm', 'vp']);
  private readonly jit = {
    runs: this.counter('tshv_vp_jit_runs_total', 'Calls of translated guest code (translation lookup hits)', ['vm', 'vp']),
    misses: this.counter('tshv_vp_jit_misses_total', 'Block entries with no translation in the lookup cache', ['vm', 'vp']),
    invalidations: this.counter('tshv_vp_jit_invalidations_total', 'Guest stores that made translated code stale', ['vm', 'vp']),
    translated: this.counter('tshv_vp_jit_translated_total', 'Regions of guest code translated to WebAssembly', ['vm', 'vp']),
    compileSeconds: this.counter('tshv_vp_jit_compile_seconds_total', 'Time spent translating guest code, in seconds', ['vm', 'vp']),
    dropped: this.counter('tshv_vp_jit_dropped_total', 'Translations given up (code written while compiled)', ['vm', 'vp']),
  } satisfies Record<keyof TranslationCounters, Counter>;
  private readonly vpExits = this.counter('tshv_vp_exits_total', 'Virtual processor exits to the hypervisor, by reason', ['vm', 'reason']);
  private readonly disk = {
    reads: this.counter('tshv_disk_reads_total', 'Disk read requests completed', ['vm', 'disk']),
    writes: this.counter('tshv_disk_writes_total', 'Disk write requests completed', ['vm', 'disk']),
    readBytes: this.counter('tshv_disk_read_bytes_total', 'Bytes read from disks', ['vm', 'disk']),
    writtenBytes: this.counter('tshv_disk_written_bytes_total', 'Bytes written to disks', ['vm', 'disk']),
    flushes: this.counter('tshv_disk_flushes_total', 'Disk flush requests completed', ['vm', 'disk']),
    errors: this.counter('tshv_disk_errors_total', 'Disk requests that failed', ['vm', 'disk']),
  };
  private readonly memory = new Gauge({ name: 'tshv_vm_memory_bytes', help: 'Guest RAM of running VMs', labelNames: ['vm'], registers: [this.registry] });
  private readonly vms = new Gauge({ name: 'tshv_vms', help: 'VMs on this host, by state', labelNames: ['state'], registers: [this.registry] });

  constructor(private readonly host: Host) {
    collectDefaultMetrics({ register: this.registry });
  }

  private counter(name: string, help: string, labelNames: string[]): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** Sets every tshv_* series from the VMs as they are now (VMs that stopped drop out). */
  refresh(): void {
    const all = [this.vpRunSeconds, this.vpCpuSeconds, this.vpInstructions, this.vpExits, this.memory, ...Object.values(this.disk), ...Object.values(this.jit)];
    for (const m of all) m.reset();
    for (const [state, n] of Object.entries(this.host.stateCounts())) this.vms.set({ state }, n);
    for (const vm of this.host.list()) {
      const stats = this.host.stats(vm.id);
      if (!stats) continue;
      const m = vmMetrics(stats);
      for (const vp of m.vcpus) {
        this.vpRunSeconds.inc({ vm: vm.name, vp: vp.vp }, vp.runSeconds);
        this.vpCpuSeconds.inc({ vm: vm.name, vp: vp.vp }, vp.cpuSeconds);
        this.vpInstructions.inc({ vm: vm.name, vp: vp.vp }, vp.instructions);
        for (const [key, counter] of Object.entries(this.jit)) counter.inc({ vm: vm.name, vp: vp.vp }, vp.translation[key as keyof TranslationCounters]);
      }
      for (const [reason, n] of Object.entries(m.exits)) this.vpExits.inc({ vm: vm.name, reason }, n);
      for (const d of m.io.disks) for (const [key, counter] of Object.entries(this.disk)) counter.inc({ vm: vm.name, disk: d.name }, d[key as keyof typeof this.disk]);
      this.memory.set({ vm: vm.name }, m.memoryBytes);
    }
  }
}

export function registerMetrics(app: FastifyInstance, host: Host): void {
  const prometheus = new PrometheusMetrics(host);

  app.get<{ Params: { vm: string } }>('/api/vms/:vm/metrics', {
    schema: {
      operationId: 'getVmMetrics',
      summary: "A VM's counters since the start of its current run (empty when it is not running)",
      tags: ['metrics'],
      params: VmParamsSchema,
      response: { 200: VmMetricsSchema, ...errors(400, 401, 404) },
    },
  }, async (req) => vmMetrics(host.stats(host.get(req.params.vm).id)));

  app.get('/api/metrics', {
    schema: {
      operationId: 'getHostMetrics',
      summary: 'Host metrics: the service process and every VM with a partition',
      tags: ['metrics'],
      response: { 200: HostMetricsSchema, ...errors(401) },
    },
  }, async () => {
    const cpu = process.cpuUsage();
    const vms: Record<string, VmMetrics> = {};
    for (const vm of host.list()) {
      const stats = host.stats(vm.id);
      if (stats) vms[vm.id] = vmMetrics(stats);
    }
    return { cpuSeconds: (cpu.user + cpu.system) / 1e6, rssBytes: process.memoryUsage.rss(), heapBytes: process.memoryUsage().heapUsed, vms };
  });

  app.get('/metrics', {
    schema: {
      operationId: 'getPrometheusMetrics',
      summary: 'Prometheus metrics (text exposition format)',
      tags: ['metrics'],
      response: { 200: { description: 'Prometheus text', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors(401) },
    },
  }, async (_req, reply) => {
    prometheus.refresh();
    const text = await prometheus.registry.metrics();
    return reply.type(prometheus.registry.contentType).send(text);
  });
}
