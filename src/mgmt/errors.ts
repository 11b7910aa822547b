// The errors of the management service: each carries its HTTP status and the body fields
// of docs/api.md ("field" for bad input, "state" for an action illegal in a VM's state).
import type { VmState } from './lifecycle.js';

export class ApiError extends Error {
  constructor(readonly status: 400 | 401 | 404 | 409 | 500, message: string, readonly extra: { field?: string; state?: VmState } = {}) {
    super(message);
  }

  body(): { error: string; field?: string; state?: VmState } { return { error: this.message, ...this.extra }; }
}

export const badInput = (field: string, message: string) => new ApiError(400, message, { field });
export const notFound = (ref: string) => new ApiError(404, `no VM with the id or name "${ref}"`);
export const conflict = (message: string, state: VmState) => new ApiError(409, message, { state });
