// A VM's console in the page: xterm.js over the WebSocket GET /api/vms/{vm}/console.
// The service sends the last 64 KiB of output on connect, then live output, as binary
// frames; every frame the page sends is console input (docs/api.md "Endpoints").

// xterm.js as the service serves it from node_modules (docs/api.md "Static files"): the
// UMD builds, which as classic scripts define globalThis.Terminal and .FitAddon.
const XTERM_URL = '/vendor/xterm.js';
const FIT_URL = '/vendor/addon-fit.js';

/** Close codes of the console socket (docs/api.md). */
export const CLOSE_UNKNOWN_VM = 4404;
export const CLOSE_NOT_RUNNING = 4409;

/** @typedef {import('@xterm/xterm').Terminal} Terminal */
/** @typedef {import('@xterm/addon-fit').FitAddon} FitAddon */
/**
 * @typedef {{
 *   Terminal: typeof import('@xterm/xterm').Terminal,
 *   FitAddon: typeof import('@xterm/addon-fit')
 * }} XtermGlobals
 */

/** @param {string} src */
function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

/** @type {Promise<XtermGlobals> | null} */
let loading = null;

/** Loads xterm.js the first time a console is shown. */
function loadXterm() {
  loading ??= Promise.all([loadScript(XTERM_URL), loadScript(FIT_URL)])
    .then(() => /** @type {XtermGlobals} */ (/** @type {unknown} */ (globalThis)))
    .catch((e) => { loading = null; throw e; }); // try again next time
  return loading;
}

export class VmConsole {
  /**
   * @param {HTMLElement} container where the terminal goes
   * @param {(text: string) => void} setStatus shows the connection's state
   * @param {(code: number) => void} onClose the socket closed (not by disconnect())
   */
  constructor(container, setStatus, onClose) {
    this.container = container;
    this.setStatus = setStatus;
    this.onClose = onClose;
    /** @type {Terminal | null} */
    this.term = null;
    /** @type {FitAddon | null} */
    this.fit = null;
    /** @type {WebSocket | null} */
    this.socket = null;
    /** From connect() until the socket closes or disconnect(): a connection is wanted. */
    this.active = false;
    /** Counts disconnects, so a connect() that waited for xterm.js knows it is stale. */
    this.attempt = 0;
    /** xterm.js's screen reader mode: an accessible copy of the rows and announced output. */
    this.screenReaderMode = false;
    this.encoder = new TextEncoder();
  }

  /** Creates the terminal (once); the container must be displayed. */
  async open() {
    if (this.term) return this.term;
    const { Terminal, FitAddon: fitModule } = await loadXterm();
    if (this.term) return this.term;
    const term = new Terminal({
      convertEol: false,      // the guest's tty sends CR LF itself
      cursorBlink: true,
      disableStdin: true,     // until a socket is open
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      screenReaderMode: this.screenReaderMode,
      theme: { background: '#11161d', foreground: '#d8dee6', cursor: '#f2f5f8', selectionBackground: '#3b5a80' },
    });
    const fit = new fitModule.FitAddon();
    term.loadAddon(fit);
    // Tab completes in the guest's shell; Shift+Tab is left to the browser so keyboard
    // users can leave the terminal (WCAG 2.1.2, no keyboard trap).
    term.attachCustomKeyEventHandler((e) => !(e.key === 'Tab' && e.shiftKey));
    term.onData((data) => this.send(this.encoder.encode(data)));
    term.onBinary((data) => this.send(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)));
    term.open(this.container);
    term.textarea?.setAttribute('aria-describedby', 'console-help');
    this.term = term;
    this.fit = fit;
    this.refit();
    let pending = false;
    new ResizeObserver(() => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; this.refit(); });
    }).observe(this.container);
    return term;
  }

  refit() {
    if (this.fit && this.container.clientWidth > 0 && this.container.clientHeight > 0) this.fit.fit();
  }

  /**
   * Connects to a VM's console, replacing any earlier connection; the screen starts
   * afresh since the service replays the scrollback.
   * @param {string} url the console's WebSocket URL (with the token)
   */
  async connect(url) {
    this.disconnect();
    const attempt = this.attempt;
    this.active = true;
    this.setStatus('Connecting…');
    let term;
    try {
      term = await this.open();
    } catch (e) {
      if (attempt === this.attempt) { this.active = false; this.setStatus(`The terminal did not load: ${e instanceof Error ? e.message : e}`); }
      return;
    }
    if (attempt !== this.attempt) return; // disconnected or connected elsewhere meanwhile
    const socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    let fresh = true;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      term.options.disableStdin = false;
      this.setStatus('Connected');
    };
    socket.onmessage = (e) => {
      if (this.socket !== socket) return;
      if (fresh) { term.reset(); fresh = false; }
      term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
    };
    socket.onclose = (e) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.active = false;
      term.options.disableStdin = true;
      this.onClose(e.code);
    };
  }

  /** Closes the connection, keeping what the terminal shows. */
  disconnect() {
    this.attempt++;
    this.active = false;
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000);
    if (this.term) this.term.options.disableStdin = true;
  }

  /** Clears the screen and scrollback (another VM was selected). */
  clear() {
    this.term?.reset();
  }

  focus() {
    this.term?.focus();
  }

  /** @param {boolean} on */
  setScreenReaderMode(on) {
    this.screenReaderMode = on;
    if (this.term) this.term.options.screenReaderMode = on;
  }

  /** @param {Uint8Array} bytes */
  send(bytes) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(bytes);
  }
}
