// Human output of the client commands: aligned tables, key/value blocks, sizes and ages.

export interface Column { header: string; align?: 'left' | 'right' }

/**
 * Columns separated by three spaces, each as wide as its widest cell; the last column is
 * not padded, so lines carry no trailing blanks. Widths count UTF-16 units, which is right
 * for everything the API returns that goes in a table (names are [a-z0-9._-]).
 */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => columns.map((c, i) => {
    const cell = cells[i] ?? '';
    const last = i === columns.length - 1;
    if (c.align === 'right') return cell.padStart(widths[i]);
    return last ? cell : cell.padEnd(widths[i]);
  }).join('   ').trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n') + '\n';
}

/** "Key:   value" lines with the values aligned; undefined values are left out. */
export function formatFields(fields: readonly (readonly [string, string | undefined])[]): string {
  const shown = fields.filter((f): f is readonly [string, string] => f[1] !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length + 1));
  return shown.map(([k, v]) => `${(k + ':').padEnd(width)}  ${v.replace(/\n/g, '\n' + ' '.repeat(width + 2))}`).join('\n') + '\n';
}

/** MiB as `tshv run --memory` takes it: 256 -> "256M", 2048 -> "2G". */
export function formatMiB(mib: number): string {
  return mib % 1024 === 0 && mib > 0 ? `${mib / 1024}G` : `${mib}M`;
}

/** Bytes in the largest binary unit that keeps one decimal honest: "15.6G", "512M", "900K". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  const text = u === 0 || v >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1);
  return text + units[u];
}

/** A duration the way `ps`/`docker ps` users read it: "42s", "5m", "3h 12m", "2d 4h". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}
