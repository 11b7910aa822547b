// The table of VMs. Rows are kept per VM and updated in place, so live updates do not
// move the keyboard focus or the scroll position.

import { chartPoints } from './core/cpu.js';
import { formatMiB, formatPercent } from './core/format.js';
import { el, setState } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const CHART_W = 72;
const CHART_H = 20;

/**
 * @typedef {import('./core/api.js').Vm} Vm
 * @typedef {import('./core/cpu.js').CpuHistory} CpuHistory
 * @typedef {{
 *   tr: HTMLTableRowElement, name: HTMLButtonElement, state: HTMLElement, vcpus: HTMLElement,
 *   memory: HTMLElement, area: SVGPolygonElement, line: SVGPolylineElement, cpuText: HTMLElement
 * }} Row
 */

export class VmList {
  /**
   * @param {HTMLTableSectionElement} tbody
   * @param {HTMLElement} empty shown when there are no VMs
   * @param {(id: string) => void} onSelect
   */
  constructor(tbody, empty, onSelect) {
    this.tbody = tbody;
    this.empty = empty;
    this.onSelect = onSelect;
    /** @type {Map<string, Row>} */
    this.rows = new Map();
    // A click anywhere on a row selects it; the name button is the keyboard's way.
    tbody.addEventListener('click', (e) => {
      const tr = /** @type {HTMLElement} */ (e.target).closest('tr');
      if (tr?.dataset.id) onSelect(tr.dataset.id);
    });
  }

  /** @param {string} id */
  makeRow(id) {
    const tr = el('tr');
    tr.dataset.id = id;
    const th = el('th');
    th.scope = 'row';
    const name = el('button', 'vm-name');
    name.type = 'button';
    th.append(name);
    const stateCell = el('td');
    const state = el('span', 'state');
    stateCell.append(state);
    const vcpus = el('td', 'num');
    const memory = el('td', 'num');
    const cpu = el('td', 'cpu');
    const cpuCell = el('div', 'cpu-cell');
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', `0 0 ${CHART_W} ${CHART_H}`);
    svg.setAttribute('width', String(CHART_W));
    svg.setAttribute('height', String(CHART_H));
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const area = document.createElementNS(SVG, 'polygon');
    const line = document.createElementNS(SVG, 'polyline');
    svg.append(area, line);
    const cpuText = el('span', 'cpu-text');
    cpuCell.append(svg, cpuText);
    cpu.append(cpuCell);
    tr.append(th, stateCell, vcpus, memory, cpu);
    /** @type {Row} */
    const row = { tr, name, state, vcpus, memory, area, line, cpuText };
    this.rows.set(id, row);
    return row;
  }

  /**
   * @param {Vm[]} vms in display order
   * @param {string | null} selectedId
   */
  render(vms, selectedId) {
    const seen = new Set();
    let before = /** @type {Element | null} */ (this.tbody.firstElementChild);
    for (const vm of vms) {
      seen.add(vm.id);
      const row = this.rows.get(vm.id) ?? this.makeRow(vm.id);
      row.name.textContent = vm.name;
      if (vm.id === selectedId) row.name.setAttribute('aria-current', 'true');
      else row.name.removeAttribute('aria-current');
      row.tr.classList.toggle('selected', vm.id === selectedId);
      setState(row.state, vm.state);
      row.vcpus.textContent = String(vm.vcpus);
      row.memory.textContent = formatMiB(vm.memoryMiB);
      // Move only rows that are out of place: moving a focused element would blur it.
      if (before !== row.tr) this.tbody.insertBefore(row.tr, before);
      before = row.tr.nextElementSibling;
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) { row.tr.remove(); this.rows.delete(id); }
    }
    this.empty.hidden = vms.length > 0;
  }

  /**
   * @param {string} id
   * @param {CpuHistory | undefined} history
   * @param {number} vcpus the chart's top is every vCPU busy
   */
  renderCpu(id, history, vcpus) {
    const row = this.rows.get(id);
    if (!row) return;
    const latest = history?.latest ?? null;
    const points = history ? chartPoints(history.values, history.capacity, CHART_W, CHART_H, 100 * Math.max(1, vcpus)) : '';
    row.line.setAttribute('points', points);
    // The area under the line: the same points, closed along the bottom edge.
    const first = points.slice(0, points.indexOf(','));
    row.area.setAttribute('points', points ? `${first},${CHART_H} ${points} ${CHART_W},${CHART_H}` : '');
    row.cpuText.textContent = latest === null ? '–' : formatPercent(latest);
  }

  /** @param {string} id */
  focus(id) {
    this.rows.get(id)?.name.focus();
  }
}
