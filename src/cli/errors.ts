// What the tshv command's errors and exit codes are, shared by its commands.

/** Exit codes of `tshv exec` and `tshv run` (their --help lists them). */
export const ExecExit = { pass: 0, fail: 1, usage: 2, limit: 3, error: 4 } as const;

/** An error in how tshv was called: printed without a stack, exit code ExecExit.usage. */
export class UsageError extends Error {}
