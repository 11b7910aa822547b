// CPU use of a VM from its counters: GET /api/vms/{vm}/metrics gives each virtual
// processor's host CPU time (cpuSeconds; where the host cannot tell, its run time) in
// seconds since the VM started; the page samples it every second or two and charts the
// growth per wall-clock second, as a percentage of one host core (so a busy 4-vCPU VM can
// show up to 400%).

/**
 * @typedef {{ vcpus: { vp: number, runSeconds: number, cpuSeconds?: number }[] }} VmMetrics
 */

/**
 * @param {VmMetrics} metrics
 * @returns {number} CPU seconds summed over the virtual processors
 */
export function totalRunSeconds(metrics) {
  return metrics.vcpus.reduce((sum, vp) => {
    const s = vp.cpuSeconds && vp.cpuSeconds > 0 ? vp.cpuSeconds : vp.runSeconds;
    return sum + (Number.isFinite(s) ? s : 0);
  }, 0);
}

/** The last few CPU percentages of one VM, from successive samples. */
export class CpuHistory {
  /** @param {number} capacity how many points to keep */
  constructor(capacity = 30) {
    this.capacity = capacity;
    /** @type {number[]} */
    this.values = [];
    /** @type {{ atMs: number, run: number } | null} */
    this.last = null;
  }

  /**
   * Adds a sample; returns the new percentage, or null for the first sample after a
   * (re)start, when there is nothing to compare with.
   * @param {number} atMs when the sample was taken (a monotonic clock, milliseconds)
   * @param {VmMetrics} metrics
   * @returns {number | null}
   */
  add(atMs, metrics) {
    const run = totalRunSeconds(metrics);
    const prev = this.last;
    this.last = { atMs, run };
    // Counters start again from zero when the VM restarts: begin a new series.
    if (prev === null || run < prev.run || atMs <= prev.atMs) return null;
    const percent = ((run - prev.run) / ((atMs - prev.atMs) / 1000)) * 100;
    this.values.push(percent);
    if (this.values.length > this.capacity) this.values.shift();
    return percent;
  }

  /** @returns {number | null} the latest percentage */
  get latest() {
    return this.values.length > 0 ? this.values[this.values.length - 1] : null;
  }

  reset() {
    this.values = [];
    this.last = null;
  }
}

/**
 * Points of a line chart, newest at the right edge, for an SVG polyline.
 * @param {readonly number[]} values
 * @param {number} capacity how many values span the width
 * @param {number} width
 * @param {number} height
 * @param {number} max the value drawn at the top edge (larger values are clipped)
 * @returns {string} "x,y x,y ..." ('' for no values; one value is a short level line)
 */
export function chartPoints(values, capacity, width, height, max) {
  if (values.length === 0) return '';
  const step = width / Math.max(1, capacity - 1);
  const shown = values.length === 1 ? [values[0], values[0]] : values;
  const x0 = width - (shown.length - 1) * step;
  return shown.map((v, i) => {
    const y = height - (Math.min(Math.max(v, 0), max) / max) * height;
    return `${round(x0 + i * step)},${round(y)}`;
  }).join(' ');
}

/** @param {number} n */
function round(n) {
  return Math.round(n * 10) / 10;
}
