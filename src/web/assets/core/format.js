// How numbers read on the page.

/**
 * @param {number} bytes
 * @returns {string} e.g. "256 MiB", "15.5 GiB"
 */
export function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  const digits = i === 0 || v >= 100 || Number.isInteger(v) ? 0 : 1;
  return `${v.toFixed(digits)} ${units[i]}`;
}

/**
 * A VM's memory, exactly as it was given: whole GiB as GiB, anything else in MiB.
 * @param {number} mib
 * @returns {string} "256 MiB", "2 GiB", "4094 MiB"
 */
export function formatMiB(mib) {
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`;
}

/**
 * @param {number} seconds
 * @returns {string} "42 s", "5 min", "3 h 12 min", "2 d 4 h"
 */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/**
 * CPU use as a percentage of one host core; below 10 % with one decimal.
 * @param {number} percent
 * @returns {string}
 */
export function formatPercent(percent) {
  return percent < 10 ? `${percent.toFixed(1)}%` : `${Math.round(percent)}%`;
}
