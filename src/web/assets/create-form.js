// The "New virtual machine" form: checks the rules of POST /api/vms before sending, and
// shows the service's own 400 message next to the field it names.

import { ApiError } from './core/api.js';
import { FIELDS, fieldOf, parseCreateForm } from './core/vm-form.js';
import { byId, isOff, setEnabled } from './dom.js';

/** @typedef {import('./core/api.js').Api} Api */
/** @typedef {import('./core/api.js').Vm} Vm */

export class CreateForm {
  /**
   * @param {{
   *   api: () => Api,
   *   onCreated: (vm: Vm) => void,
   *   onCancel: () => void,
   *   onError: (e: unknown) => boolean,
   * }} hooks onError handles what is not the form's business (401) and says whether it did
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.section = byId('create');
    this.form = /** @type {HTMLFormElement} */ (byId('create-form'));
    this.formError = byId('create-error');
    this.submit = /** @type {HTMLButtonElement} */ (this.form.querySelector('button[type=submit]'));
    this.form.addEventListener('submit', (e) => { e.preventDefault(); void this.send(); });
    byId('create-cancel').addEventListener('click', () => hooks.onCancel());
    this.form.addEventListener('keydown', (e) => { if (e.key === 'Escape') hooks.onCancel(); });
    // An error goes away once the field is edited; the next submit checks again.
    this.form.addEventListener('input', (e) => {
      const name = /** @type {HTMLInputElement} */ (e.target).name;
      if (FIELDS.includes(name)) this.showError(name, '');
    });
  }

  /** Shows the form, focused on its first field. */
  open() {
    this.section.hidden = false;
    byId('f-name').focus();
  }

  close() {
    this.section.hidden = true;
  }

  /** Back to the defaults, without errors. */
  reset() {
    this.form.reset();
    this.showErrors({});
    this.formError.textContent = '';
  }

  /** @returns {Record<string, string>} */
  values() {
    /** @type {Record<string, string>} */
    const raw = {};
    for (const [k, v] of new FormData(this.form)) raw[k] = String(v);
    return raw;
  }

  /**
   * @param {string} field a form field (= API field) name
   * @param {string} message '' clears it
   */
  showError(field, message) {
    const out = document.getElementById(`f-${field}-error`);
    if (out) out.textContent = message;
    for (const input of this.form.querySelectorAll(`[name="${field}"]`)) {
      if (message) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
    // The advanced fields live in a <details>: open it when one of them is wrong.
    const details = document.querySelector(`[name="${field}"]`)?.closest('details');
    if (message && details) details.open = true;
  }

  /** @param {Record<string, string>} errors */
  showErrors(errors) {
    for (const f of FIELDS) this.showError(f, errors[f] ?? '');
    const first = FIELDS.find((f) => errors[f]);
    if (first) /** @type {HTMLElement | null} */ (this.form.querySelector(`[name="${first}"]`))?.focus();
  }

  async send() {
    if (isOff(this.submit)) return; // already sending
    this.formError.textContent = '';
    const { body, errors } = parseCreateForm(this.values());
    this.showErrors(errors);
    if (Object.keys(errors).length > 0) return;
    setEnabled(this.submit, false);
    this.form.setAttribute('aria-busy', 'true');
    try {
      const vm = await this.hooks.api().createVm(body);
      this.reset();
      this.hooks.onCreated(vm);
    } catch (e) {
      if (this.hooks.onError(e)) return;
      // On create, the only conflict is a name already taken (docs/api.md "Errors").
      const field = e instanceof ApiError ? fieldOf(e.field) ?? (e.status === 409 ? 'name' : null) : null;
      const message = e instanceof Error ? e.message : String(e);
      if (field) this.showErrors({ [field]: message });
      else this.formError.textContent = message;
    } finally {
      setEnabled(this.submit, true);
      this.form.removeAttribute('aria-busy');
    }
  }
}
