/**
 * What each resource type does on create, update, delete and diff, as pulumi-command 1.2.1's
 * controllers do (provider/pkg/provider/local/commandController.go, remote/commandController.go,
 * remote/copyController.go) under pulumi-go-provider's infer rules:
 * - outputs are the inputs as checked (secret where the input was) plus stdout and stderr, which are
 *   NOT made secret because an input is: only `additionalSecretOutputs` does that (infer's default
 *   secret flow links an output to the input of the same name only); `connection` is always secret;
 * - in a preview nothing runs: stdout/stderr are unknown on create, and on an update that changes inputs;
 * - update runs `update`, else `create`, else nothing, with the previous stdout/stderr in the environment;
 * - a failed create or update leaves no partial state: the engine keeps what it had;
 * - a change of `triggers` replaces (create the new, then delete the old, unless deleteBeforeReplace);
 * - CopyToRemote copies again only when the source's hash or remotePath changed, and deletes nothing.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { COPY_TO_REMOTE, inputKeys, LOCAL_COMMAND, REMOTE_COMMAND } from "./check.ts";
import { runLocal } from "./local.ts";
import { copyToRemote, runRemote } from "./remote.ts";
import { connectionOf } from "./ssh.ts";
import { type Diff, diffInputs, hashedAsset, inputsOf, isObject, type Props, reveal, same, UNKNOWN, type Value } from "./wire.ts";

export interface Context {
  readonly urn: string;
  /** A line of a command's output, for the engine's log. */
  readonly log: (line: string) => void;
  readonly running: Set<ChildProcess>;
}

const REPLACE_ON_CHANGES: ReadonlySet<string> = new Set(["triggers"]);

/** pulumi-go-provider's resource.NewUniqueHex(prefix, 8, 0): the prefix and 16 random hex digits. */
export function uniqueId(prefix: string): string {
  return `${prefix}${randomBytes(8).toString("hex")}`;
}

function nameOf(urn: string): string {
  return urn.split("::").at(-1) ?? "";
}

function str(v: Value | undefined): string | undefined {
  const r = reveal(v);
  return typeof r === "string" ? r : undefined;
}

function strings(v: Value | undefined): string[] | undefined {
  const r = reveal(v);
  return Array.isArray(r) ? r.filter((e): e is string => typeof e === "string") : undefined;
}

function env(v: Value | undefined): Record<string, string> | undefined {
  const r = reveal(v);
  return isObject(r) ? Object.fromEntries(Object.entries(r).filter((e): e is [string, string] => typeof e[1] === "string")) : undefined;
}

/** Run one of the resource's commands with its inputs; the previous outputs go to PULUMI_COMMAND_STDOUT/STDERR. */
async function runCommand(type: string, command: string, props: Props, previous: { stdout: string; stderr: string } | undefined, ctx: Context) {
  const common = {
    command,
    ...(str(props.stdin) === undefined ? {} : { stdin: str(props.stdin) ?? "" }),
    ...(env(props.environment) === undefined ? {} : { environment: env(props.environment) ?? {} }),
    ...(previous === undefined ? {} : { previous }),
    ...(typeof props.addPreviousOutputInEnv === "boolean" ? { addPreviousOutputInEnv: props.addPreviousOutputInEnv } : {}),
    ...(str(props.logging) === undefined ? {} : { logging: str(props.logging) ?? "" }),
    onLine: ctx.log,
    running: ctx.running,
  };
  if (type === LOCAL_COMMAND) {
    const interpreter = strings(props.interpreter);
    const dir = str(props.dir);
    return runLocal({ ...common, ...(interpreter === undefined ? {} : { interpreter }), ...(dir === undefined ? {} : { dir }) });
  }
  return runRemote(connectionOf(reveal(props.connection)), common);
}

function previousOf(state: Props): { stdout: string; stderr: string } {
  return { stdout: str(state.stdout) ?? "", stderr: str(state.stderr) ?? "" };
}

export async function create(type: string, urn: string, inputs: Props, preview: boolean, ctx: Context): Promise<{ id: string; outs: Props }> {
  if (type === COPY_TO_REMOTE) {
    if (preview) return { id: "", outs: inputs };
    await copyToRemote(connectionOf(reveal(inputs.connection)), reveal(inputs.source) ?? null, str(inputs.remotePath) ?? "", ctx.running);
    return { id: uniqueId(""), outs: inputs };
  }
  const id = uniqueId(nameOf(urn));
  if (preview) return { id, outs: { ...inputs, stdout: UNKNOWN, stderr: UNKNOWN } };
  const command = str(inputs.create);
  if (command === undefined) return { id, outs: { ...inputs, stdout: "", stderr: "" } };
  const out = await runCommand(type, command, inputs, undefined, ctx);
  return { id, outs: { ...inputs, stdout: out.stdout, stderr: out.stderr } };
}

export async function update(type: string, state: Props, news: Props, preview: boolean, ctx: Context): Promise<Props> {
  if (type === COPY_TO_REMOTE) {
    if (preview) return news;
    if (hashedAsset(reveal(news.source)) !== hashedAsset(reveal(state.source)) || str(news.remotePath) !== str(state.remotePath)) {
      await copyToRemote(connectionOf(reveal(news.connection)), reveal(news.source) ?? null, str(news.remotePath) ?? "", ctx.running);
    }
    return news;
  }
  const previous = previousOf(state);
  if (preview) {
    const changed = inputKeys(type).some((k) => !same(news[k], state[k]));
    return { ...news, stdout: changed ? UNKNOWN : previous.stdout, stderr: changed ? UNKNOWN : previous.stderr };
  }
  const command = str(news.update) ?? str(news.create);
  if (command === undefined) return { ...news, ...previous };
  const out = await runCommand(type, command, news, previous, ctx);
  return { ...news, stdout: out.stdout, stderr: out.stderr };
}

export async function remove(type: string, state: Props, ctx: Context): Promise<void> {
  if (type === COPY_TO_REMOTE) return;
  const command = str(state.delete);
  if (command === undefined) return;
  await runCommand(type, command, state, previousOf(state), ctx);
}

/** The diff of the old inputs (the engine's, else the state's input properties) and the new. */
export function diff(type: string, state: Props, news: Props, oldInputs: Props | undefined, ignoreChanges: readonly string[]): Diff {
  const olds = oldInputs ?? inputsOf(state, inputKeys(type));
  return diffInputs(olds, news, REPLACE_ON_CHANGES, ignoreChanges);
}

export const RESOURCE_TYPES: readonly string[] = [LOCAL_COMMAND, REMOTE_COMMAND, COPY_TO_REMOTE];
