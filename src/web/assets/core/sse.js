// A server-sent events parser (HTML Living Standard §9.2.6 "Interpreting an event
// stream"). The page reads /api/events with fetch() rather than EventSource because
// EventSource cannot send the Authorization header.

/** @typedef {{ type: string, data: string, id: string }} SseMessage */

export class SseParser {
  /** @param {(message: SseMessage) => void} onMessage */
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.buffer = '';
    this.data = /** @type {string[]} */ ([]);
    this.type = '';
    this.lastId = '';
    this.sawCr = false;
  }

  /**
   * Feeds decoded text; lines may be split anywhere between calls.
   * @param {string} text
   */
  push(text) {
    // A CR at the end of the last chunk may be the first half of CRLF.
    if (this.sawCr && text.startsWith('\n')) text = text.slice(1);
    this.sawCr = text.endsWith('\r');
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  /** @param {string} line */
  line(line) {
    if (line === '') { this.dispatch(); return; }
    if (line.startsWith(':')) return; // a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.type = value;
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    // "retry" and unknown fields are ignored: the page has its own reconnect policy.
  }

  dispatch() {
    if (this.data.length > 0) this.onMessage({ type: this.type || 'message', data: this.data.join('\n'), id: this.lastId });
    this.data = [];
    this.type = '';
  }
}
