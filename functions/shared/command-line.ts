/**
 * What every command line of the project shares: strict argument parsing
 * (node:util parseArgs), `--help` / `-h`, and one meaning per exit code.
 *
 *   0  done
 *   1  a migration, a check or a step failed (or a rollback was not confirmed)
 *   2  usage: an unknown flag, a missing value, a bad argument or environment variable
 *   3  cannot connect to the database
 *
 * `--help` and every usage error stop before anything is touched: no database
 * connection, no file written.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DatabaseUnreachableError } from '../database/reachability';
import { ConfigurationError, ID_TYPES, type IdType } from './config';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_CANNOT_CONNECT = 3;

/** The exit codes, as every usage text ends. */
export const EXIT_CODES_HELP = 'Exit codes: 0 done, 1 failed, 2 usage (bad flag or environment variable), 3 cannot connect to the database.';

/** A command line that cannot be run as given: printed with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The value of an `--id-type` flag (README: Id types): undefined when not given, a UsageError when not an id type. */
export function idTypeFlag(value: string | undefined): IdType | undefined {
  if (value === undefined) return undefined;
  const idType = ID_TYPES.find((t) => t === value);
  if (!idType) throw new UsageError(`--id-type must be one of ${ID_TYPES.join(', ')}, not '${value}'.`);
  return idType;
}

class HelpRequested extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;
const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** parseArgs' complaint in one sentence, without its hint about positionals after `--`. */
function usageProblem(error: Error & { code?: string }): string {
  const first = error.message.split('\n')[0]!;
  const unknown = /^Unknown option '([^']+)'/.exec(first);
  if (unknown) return `Unknown option '${unknown[1]}'.`;
  const missing = /^Option '(-[^' ]+)(?:, (--[^' ]+))?[^']*' argument missing/.exec(first);
  if (missing) return `Option '${missing[2] ?? missing[1]}' needs a value.`;
  const ambiguous = /^Option '([^']+)' argument is ambiguous/.exec(first);
  if (ambiguous) return `Option '${ambiguous[1]}' needs a value (one starting with '-' goes as ${ambiguous[1]}=<value>).`;
  return first.endsWith('.') ? first : `${first}.`;
}

export interface CommandLineSpec<O extends Options> {
  readonly options: O;
  /** How many positional arguments it takes (default none), and their names for messages. */
  readonly positionals?: { readonly min: number; readonly max: number; readonly names?: readonly string[] };
}

/**
 * Parses `argv` strictly against `spec`. Throws UsageError for an unknown flag, a
 * missing or extra value, or a wrong number of positionals; `--help` ends the
 * command (runCommandLine prints the usage and exits 0).
 */
export function parseCommandLine<const O extends Options>(spec: CommandLineSpec<O>, argv: readonly string[] = process.argv.slice(2)) {
  const positionals = spec.positionals ?? { min: 0, max: 0 };
  const config = { args: [...argv], options: { ...spec.options, ...HELP } as O & typeof HELP, strict: true as const, allowPositionals: true as const };
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    throw new UsageError(usageProblem(error as Error & { code?: string }));
  }
  if ((parsed.values as { help?: boolean }).help) throw new HelpRequested();
  const count = parsed.positionals.length;
  if (count > positionals.max) throw new UsageError(`Unexpected argument '${parsed.positionals[positionals.max]}'.`);
  if (count < positionals.min) {
    const names = positionals.names?.slice(count, positionals.min).map((name) => `<${name}>`);
    throw new UsageError(names?.length ? `Missing ${names.join(' ')}.` : `Missing argument${positionals.min - count > 1 ? 's' : ''}.`);
  }
  return parsed;
}

/**
 * Ends the process for help, a usage error, invalid configuration or an unreachable database,
 * with its exit code and one message; returns for anything else.
 */
export function exitForCommandLineError(usage: string, error: unknown): void {
  const text = `${usage.trimEnd()}\n\n${EXIT_CODES_HELP}\n`;
  if (error instanceof HelpRequested) {
    process.stdout.write(text);
    process.exit(EXIT_OK);
  }
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n\n${text}`);
    process.exit(EXIT_USAGE);
  }
  if (error instanceof ConfigurationError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
  if (error instanceof DatabaseUnreachableError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(EXIT_CANNOT_CONNECT);
  }
}

/**
 * Runs a command line: `main` returns its exit code (or undefined for a process that goes on
 * serving). Help, usage errors, invalid configuration and an unreachable database end it with
 * their own code and one message (exitForCommandLineError); anything else with 1.
 */
export function runCommandLine(usage: string, main: () => Promise<number | undefined>, failurePrefix: string): void {
  main().then(
    (code) => {
      if (code !== undefined) process.exit(code);
    },
    (error: unknown) => {
      exitForCommandLineError(usage, error);
      process.stderr.write(`${failurePrefix}: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(EXIT_FAILED);
    },
  );
}
