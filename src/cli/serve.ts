// The `tshv serve` command's action: runs the service, turns its errors into messages and
// exit codes (0 after a signal, 1 when it cannot start, 2 for bad flags).
import { serve, ServeError, ServeUsageError, type ServeFlags } from '../mgmt/service.js';

export async function serveCommand(flags: ServeFlags): Promise<void> {
  try {
    process.exitCode = await serve(flags);
  } catch (e) {
    const known = e instanceof ServeUsageError || e instanceof ServeError;
    process.stderr.write(`tshv serve: ${known ? (e as Error).message : (e as Error).stack}\n`);
    process.exitCode = e instanceof ServeUsageError ? 2 : 1;
  }
  process.exit();
}
