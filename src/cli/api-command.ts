// What every client command shares: the options that find the service, --json, the help
// footer, and one place where failures become a message and an exit code.
import type { Command } from 'commander';
import { ApiClient, ClientError, ClientExit, findService, type ServiceFlags } from './client.js';

export interface ClientFlags extends ServiceFlags { json?: boolean }

/** What an action gets: the API, its flags and its positional arguments. */
export interface ActionContext<F extends ClientFlags = ClientFlags> {
  api: ApiClient;
  flags: F;
  args: string[];
  /** The command as the user typed it ("tshv vm start"), for messages. */
  name: string;
}

export const SERVICE_HELP = `
Finding the service: --url URL (or $TSHV_URL) with the token in $TSHV_TOKEN, else the
data directory's service.json and token: --data-dir DIR, $TSHV_DATA_DIR, or
$XDG_DATA_HOME/tshv (~/.local/share/tshv). Start a service with: tshv serve

Exit codes: 0 done, 1 the service refused or failed (its message is printed), 2 bad usage
(also options of vm create that the service rejects), 3 cannot reach the service, 4 no such VM.`;

/** Adds a subcommand of the API; `details` and `examples` go in its --help. */
export function apiCommand(parent: Command, nameAndArgs: string, description: string, examples: string, details = ''): Command {
  const trim = (text: string) => text.replace(/^\n+|\n+$/g, '');
  return parent
    .command(nameAndArgs)
    .description(description)
    .addHelpText('after', `${details ? `\n${trim(details)}\n` : ''}\nExamples:\n${trim(examples)}\n${SERVICE_HELP}`);
}

/**
 * Adds --json and the service options (after the command's own) and runs fn as the
 * action; a ClientError prints "tshv vm start: message" and sets its exit code.
 */
export function apiAction<F extends ClientFlags>(cmd: Command, fn: (ctx: ActionContext<F>) => Promise<void>): Command {
  cmd
    .option('--json', 'print the API\'s JSON answer instead of text (for scripts)')
    .option('--url <url>', 'the service\'s URL, e.g. http://127.0.0.1:7070 (token from $TSHV_TOKEN)')
    .option('--data-dir <dir>', 'find the service through this data directory\'s service.json and token');
  return cmd.action(async () => {
    const name = commandName(cmd);
    try {
      const flags = cmd.opts<F>();
      const api = new ApiClient(findService(flags));
      await fn({ api, flags, args: cmd.processedArgs as string[], name });
      process.exitCode ??= ClientExit.ok;
    } catch (e) {
      if (!(e instanceof ClientError)) throw e;
      process.stderr.write(`${name}: ${e.message}\n`);
      process.exitCode = e.exit;
    }
  });
}

/** A usage error detected by the client itself (exit 2). */
export function usageError(message: string): ClientError {
  return new ClientError(message, ClientExit.usage);
}

/** JSON for scripts: pretty, one trailing newline; nothing for an empty answer. */
export function printJson(value: unknown): void {
  if (value !== undefined) process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

function commandName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
