// Small DOM helpers shared by the page's views.

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * An element the page cannot work without.
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return /** @type {T} */ (e);
}

/**
 * A state badge: the word itself, colour only as a second cue.
 * @param {HTMLElement} badge
 * @param {string} state
 */
export function setState(badge, state) {
  badge.textContent = state;
  badge.dataset.state = state;
}

/**
 * Turns a button on or off with aria-disabled rather than `disabled`: a disabled button
 * drops the keyboard focus (to <body>) the moment it is switched off, for instance when
 * the Start button that was just pressed stops applying. Click handlers check isOff().
 * @param {HTMLButtonElement} button
 * @param {boolean} on
 */
export function setEnabled(button, on) {
  if (on) button.removeAttribute('aria-disabled');
  else button.setAttribute('aria-disabled', 'true');
}

/** @param {HTMLButtonElement} button */
export function isOff(button) {
  return button.getAttribute('aria-disabled') === 'true';
}
