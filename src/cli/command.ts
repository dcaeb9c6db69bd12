import { parseArgs, type ParseArgsConfig } from "node:util";
import { inertLine, type WorkflowCommand } from "../lib/encode.ts";
import { UsageError } from "../lib/errors.ts";
import type { ExitCode } from "../lib/exit.ts";

/** Where a command writes: injected so tests can read what a command printed. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /**
   * Writes a workflow command amadegi means to emit (validate's annotations)
   * to standard output as it is. main() provides it; without it, `out`.
   */
  readonly command?: (line: WorkflowCommand) => void;
}

/** Each line of text made inert, the line breaks kept (the runner ends a line at CR as well as LF). */
function inertText(text: string): string {
  return text
    .split(/(\r\n|\r|\n)/)
    .map((part, i) => (i % 2 === 0 ? inertLine(part) : part))
    .join("");
}

/**
 * The Io every command gets from main(): no line it writes to either stream
 * can be a GitHub Actions workflow command (inertLine), whatever data a
 * command put in it and wherever, since CI reads both streams as the log.
 * Only a WorkflowCommand, which workflowCommand() builds with every value
 * escaped, goes through `command` as it is. Renderers still encode their
 * data (logText): this guard is the floor, not the encoding.
 */
export function guardedIo(io: Io): Io {
  return {
    out: (text) => io.out(inertText(text)),
    err: (text) => io.err(inertText(text)),
    command: io.command ?? ((line) => io.out(line)),
    cwd: io.cwd,
    env: io.env,
  };
}

export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Command {
  readonly name: string;
  /** The usage line and the options, shown by `--help`. */
  readonly usage: string;
  readonly options: Options;
  /** Whether the command takes positional arguments. */
  readonly positionals?: boolean;
  run(args: ParsedArgs, io: Io): Promise<ExitCode>;
}

/**
 * A command as the overview lists it. Its module is imported only when the
 * command runs, so `amadegi validate` does not pay for loading the probes,
 * the reports or the Pulumi SDK.
 */
export interface CommandEntry {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  load(): Promise<Command>;
}

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

/** Parse a command's arguments strictly: an unknown option is a usage error naming it. */
export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...command.options, help: { type: "boolean", short: "h" } },
      allowPositionals: command.positionals ?? false,
      strict: true,
    });
    return { values, positionals };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), {
      hint: `see \`amadegi ${command.name} --help\``,
      cause: error,
    });
  }
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}
