import { createInterface } from "node:readline";
import { logText } from "../lib/encode.ts";
import { errorLines, UsageError } from "../lib/errors.ts";
import { ExitCode } from "../lib/exit.ts";
import { type Command, type CommandGroup, guardedIo, type Io, parseCommandArgs, resolveCommand } from "./command.ts";
import { commands } from "./commands/index.ts";

/**
 * A stream whose reader went away (`amadegi validate | head`) is not an error
 * of the command: stop writing to it and let the command finish, so its exit
 * code still says what it found.
 */
function writer(stream: NodeJS.WriteStream): (text: string) => void {
  let closed = false;
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    closed = true;
  });
  return (text) => {
    if (!closed) stream.write(text.endsWith("\n") ? text : `${text}\n`);
  };
}

/**
 * A question on the terminal, the answer one line. Ctrl-C there (readline
 * reads the key, no signal is sent) is made the SIGINT it would have been, so
 * the command stops as it does for one while the engine runs.
 */
async function ask(question: string): Promise<string | undefined> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await new Promise<string | undefined>((resolve) => {
      rl.once("close", () => resolve(undefined));
      rl.once("SIGINT", () => {
        resolve(undefined);
        process.kill(process.pid, "SIGINT");
      });
      rl.question(question, resolve);
    });
  } finally {
    rl.close();
  }
}

const defaultIo: Io = {
  out: writer(process.stdout),
  err: writer(process.stderr),
  cwd: process.cwd(),
  env: process.env,
  interactive: process.stdin.isTTY === true && process.stdout.isTTY === true,
  ask,
  startedAt: performance.timeOrigin,
};

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "amadegi — readiness of election infrastructure",
    "",
    "Usage: amadegi <command> [options]",
    "",
    "Commands:",
    ...lines,
    "",
    "Exit codes: 0 ready/valid, 1 not ready/findings, 2 could not run, 130 interrupted (Ctrl-C).",
    "Run `amadegi <command> --help` for a command's options.",
  ].join("\n");
}

/** The command called `name`, its module loaded; undefined when there is none. */
export async function findCommand(name: string): Promise<Command | CommandGroup | undefined> {
  return commands.find((c) => c.name === name)?.load();
}

/** Run the CLI and return its exit code; never calls process.exit. */
export async function main(argv: string[], given: Io = defaultIo): Promise<ExitCode> {
  // Every line any command writes passes the workflow-command guard, tests' Io included.
  const io = guardedIo(given);
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(overview());
    return name === undefined ? ExitCode.CANNOT_RUN : ExitCode.OK;
  }
  const found = await findCommand(name);
  if (found === undefined) {
    io.err(logText(`amadegi: no command "${name}"; commands: ${commands.map((c) => c.name).join(", ")}`));
    return ExitCode.CANNOT_RUN;
  }
  try {
    // A group's sub-command is found the way a command is, then parsed as any command is.
    const resolved = resolveCommand(found, rest);
    if ("help" in resolved) {
      io.out(resolved.group.usage);
      return ExitCode.OK;
    }
    const { command } = resolved;
    const args = parseCommandArgs(command, resolved.argv);
    if (args.help) {
      io.out(command.usage);
      return ExitCode.OK;
    }
    return await command.run(args, io);
  } catch (error) {
    // An error quotes the item it is about (a file name, a value read): a line for the message, each
    // detail and the hint, so a line break in what it quotes is shown, never a line of its own.
    io.err(errorLines(error).map(logText).join("\n"));
    if (!(error instanceof UsageError) && io.env.AMADEGI_DEBUG === "1" && error instanceof Error) {
      io.err(error.stack ?? "");
    }
    return ExitCode.CANNOT_RUN;
  }
}
