import { parseArgs } from "node:util";
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
  /**
   * Whether a person is there to answer: stdin and stdout are a terminal
   * (main() says; absent, no one is). Only then may a command ask before it
   * changes something (`up`, `destroy`); elsewhere it needs --yes.
   */
  readonly interactive?: boolean;
  /** Ask `question` and read the line answered; undefined when the input ended (main(): the terminal). */
  readonly ask?: (question: string) => Promise<string | undefined>;
  /**
   * When the command began, in ms since the epoch: main() gives the process's
   * start (node's start-up and loading count); absent (a test), the moment a
   * command asks (startedAt in reexec.ts).
   */
  readonly startedAt?: number;
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
    ...(io.interactive === undefined ? {} : { interactive: io.interactive }),
    ...(io.ask === undefined ? {} : { ask: io.ask }),
    ...(io.startedAt === undefined ? {} : { startedAt: io.startedAt }),
  };
}

/**
 * One option of a command, declared once: how it is parsed and the line of the usage that
 * explains it. The usage line is `--name PLACEHOLDER  description (default: DEFAULT)`.
 */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  /** A string option's value when it is not given: applied by parseCommandArgs, shown in the usage. */
  readonly default?: string;
  /** What the option does, as the usage says it (a line break continues it under the first line). */
  readonly description: string;
  /** The value's name in the usage: DIR, FILE, NAME… */
  readonly placeholder?: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S["type"] extends "boolean" ? boolean : S["type"] extends "string" ? string : string | boolean;

/** What parseArgs gives for `options`: a string or a boolean, undefined when not given unless it has a default. */
export type OptionValues<O extends OptionSpecs> = {
  readonly [K in keyof O]: O[K] extends { readonly default: string } ? ValueOf<O[K]> : ValueOf<O[K]> | undefined;
};

export interface ParsedArgs<O extends OptionSpecs = OptionSpecs> {
  readonly values: OptionValues<O>;
  readonly positionals: string[];
  /** The arguments as they were given (after the command's name): reexec runs the command again with them. */
  readonly argv: readonly string[];
  /** --help or -h. */
  readonly help: boolean;
}

export interface Command<O extends OptionSpecs = OptionSpecs> {
  /** The words that call it: `gate`, `rehearsal devices start`. */
  readonly name: string;
  /** The usage line, the options (generated from `options`) and notes, shown by `--help`. */
  readonly usage: string;
  readonly options: O;
  /** Whether the command takes positional arguments. */
  readonly positionals?: boolean;
  run(args: ParsedArgs<O>, io: Io): Promise<ExitCode>;
}

/**
 * A command made of sub-commands (`amadegi rehearsal up`): the next word names one of them,
 * parsed by the same machinery as a command (resolveCommand, parseCommandArgs).
 */
export interface CommandGroup {
  readonly name: string;
  readonly usage: string;
  readonly subcommands: readonly Subcommand[];
}

/** A sub-command of a group: the word that calls it, its summary for the group's usage, and it. */
export interface Subcommand {
  readonly name: string;
  /** What the group's usage says of it (it may go on over more lines). */
  readonly summary: string;
  readonly command: Command | CommandGroup;
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
  load(): Promise<Command | CommandGroup>;
}

export function isGroup(command: Command | CommandGroup): command is CommandGroup {
  return "subcommands" in command;
}

/** The usage's lines for `options`: `  --name[, -n] PLACEHOLDER  description (default: …)`, aligned. */
export function optionLines(options: OptionSpecs): string[] {
  const entries = Object.entries(options).map(([name, o]) => ({
    head: `--${name}${o.short === undefined ? "" : `, -${o.short}`}${o.placeholder === undefined ? "" : ` ${o.placeholder}`}`,
    o,
  }));
  const width = Math.max(0, ...entries.map((e) => e.head.length)) + 2;
  return entries.flatMap(({ head, o }) => {
    const text = o.default === undefined ? o.description : `${o.description} (default: ${o.default})`;
    const [first = "", ...more] = text.split("\n");
    return [`  ${head.padEnd(width)}${first}`, ...more.map((line) => `  ${" ".repeat(width)}${line}`)];
  });
}

/** `[--a A] [--b]`: every option, for a usage line no one wrote. */
export function synopsisOf(options: OptionSpecs): string {
  return Object.entries(options)
    .map(([name, o]) => `[--${name}${o.placeholder === undefined ? "" : ` ${o.placeholder}`}]`)
    .join(" ");
}

/**
 * A command from its declaration: the usage is `synopsis` (by default, every option), the text
 * `before` the options, a line per option, and the text `after` them (notes, exit codes).
 */
export function defineCommand<const O extends OptionSpecs>(spec: {
  readonly name: string;
  readonly synopsis?: string | readonly string[];
  readonly before?: string | readonly string[];
  readonly options: O;
  readonly after?: string | readonly string[];
  readonly positionals?: boolean;
  run(args: ParsedArgs<O>, io: Io): Promise<ExitCode>;
}): Command<O> {
  const lines = (text: string | readonly string[] | undefined): string[] => (text === undefined ? [] : typeof text === "string" ? [text] : [...text]);
  const synopsis = lines(spec.synopsis ?? `amadegi ${spec.name} ${synopsisOf(spec.options)}`.trimEnd());
  const head = synopsis.map((line, i) => (i === 0 ? `Usage: ${line}` : `       ${line}`));
  const sections = [head, lines(spec.before), optionLines(spec.options), lines(spec.after)].filter((s) => s.length > 0);
  return {
    name: spec.name,
    usage: sections.map((s) => s.join("\n")).join("\n\n"),
    options: spec.options,
    ...(spec.positionals === undefined ? {} : { positionals: spec.positionals }),
    run: spec.run,
  };
}

/** Lines `  name  summary`, aligned, a summary's further lines under its first. */
function listLines(items: readonly { readonly name: string; readonly summary: string }[]): string[] {
  const width = Math.max(0, ...items.map((c) => c.name.length)) + 2;
  return items.flatMap((c) => {
    const [first = "", ...more] = c.summary.split("\n");
    return [`  ${c.name.padEnd(width)}${first}`, ...more.map((line) => `  ${" ".repeat(width)}${line}`)];
  });
}

/**
 * A group from its sub-commands: its usage lists each (a sub-group's own as `devices start`)
 * with its summary, between `synopsis` and `after`.
 */
export function defineGroup(spec: {
  readonly name: string;
  readonly synopsis: readonly string[];
  readonly subcommands: readonly Subcommand[];
  readonly after?: readonly string[];
}): CommandGroup {
  const listed = spec.subcommands.flatMap((s) =>
    isGroup(s.command) ? s.command.subcommands.map((t) => ({ name: `${s.name} ${t.name}`, summary: t.summary })) : [s],
  );
  const head = spec.synopsis.map((line, i) => (i === 0 ? `Usage: ${line}` : `       ${line}`));
  const sections = [head, listLines(listed), [...(spec.after ?? [])]].filter((s) => s.length > 0);
  return { name: spec.name, subcommands: spec.subcommands, usage: sections.map((s) => s.join("\n")).join("\n\n") };
}

/** The declarations as parseArgs takes them, with --help. */
function parseOptions(specs: OptionSpecs): Record<string, { type: "string" | "boolean"; short?: string; default?: string }> {
  const options: Record<string, { type: "string" | "boolean"; short?: string; default?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [name, o] of Object.entries(specs)) {
    options[name] = { type: o.type, ...(o.short === undefined ? {} : { short: o.short }), ...(o.default === undefined ? {} : { default: o.default }) };
  }
  return options;
}

/** What a group's next word must be, and what it was: a usage error. */
function noSubcommand(group: CommandGroup, got: string | undefined, cause?: unknown): UsageError {
  return new UsageError(`${group.name} needs one of ${group.subcommands.map((c) => c.name).join(", ")}${got === undefined ? "" : `, not "${got}"`}`, {
    hint: `see \`amadegi ${group.name} --help\``,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Down the groups by the leading words (`rehearsal devices start …`) to the command they name and
 * the arguments left for it; `--help` where a sub-command's name is due stops at that group. A
 * word that names no sub-command is a usage error naming the ones there are.
 */
export function resolveCommand(
  target: Command | CommandGroup,
  argv: readonly string[],
): { command: Command; argv: readonly string[] } | { group: CommandGroup; help: true } {
  let at = target;
  let rest = argv;
  while (isGroup(at)) {
    const [word, ...more] = rest;
    if (word === "--help" || word === "-h") return { group: at, help: true };
    const sub = at.subcommands.find((c) => c.name === word);
    if (sub === undefined) throw noSubcommand(at, word);
    if (!isGroup(sub.command) && !(sub.command.positionals ?? false)) {
      // A word after a sub-command that takes none names no sub-command either: said as the group says it.
      const extra = parseArgs({ args: more, options: parseOptions(sub.command.options), strict: false, allowPositionals: true }).positionals;
      if (extra.length > 0) throw noSubcommand(at, [sub.name, ...extra].join(" "));
    }
    at = sub.command;
    rest = more;
  }
  return { command: at, argv: rest };
}

/**
 * Parse a command's arguments strictly: an unknown option is a usage error naming it. Given a
 * group, the leading words name the sub-command whose arguments the rest are (resolveCommand).
 */
export function parseCommandArgs<O extends OptionSpecs>(command: Command<O>, argv: readonly string[]): ParsedArgs<O>;
export function parseCommandArgs(command: Command | CommandGroup, argv: readonly string[]): ParsedArgs;
export function parseCommandArgs(target: Command | CommandGroup, given: readonly string[]): ParsedArgs {
  const resolved = resolveCommand(target, given);
  if ("help" in resolved) return { values: {}, positionals: [], argv: given, help: true };
  const { command, argv } = resolved;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: parseOptions(command.options),
      allowPositionals: command.positionals ?? false,
      strict: true,
    });
    const { help, ...rest } = values;
    return { values: rest, positionals, argv, help: help === true };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), {
      hint: `see \`amadegi ${command.name} --help\``,
      cause: error,
    });
  }
}
