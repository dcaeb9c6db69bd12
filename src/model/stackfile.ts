import { EVENT_ID } from "js-yaml";
import { type Finding, FindingSink, sortFindings } from "./finding.ts";
import { parseSource } from "./parse.ts";
import { readSource } from "./read.ts";
import { INVALID, Reader, type Schema } from "./schema/core.ts";

/**
 * One key under `config:` of a stack settings file (`stacks/Pulumi.<stack>.yaml`),
 * read and checked with positions by the inventory's own machinery, without
 * the Pulumi engine. Provisioning (environment, inventory) and probing
 * (`amadegi:probe`) read their keys through here.
 */
export interface StackKey<T> {
  /** Absent when the key is not in the file or did not pass its schema (see findings). */
  readonly value?: T;
  readonly findings: Finding[];
}

/**
 * `missing`: the finding when the key is absent (a required key), or undefined
 * when absence is fine. The caller checks the file exists and names the stack.
 */
export function readStackKey<T>(file: string, key: string, schema: Schema<T>, missing?: { readonly message: string; readonly hint: string }): StackKey<T> {
  const sink = new FindingSink();
  const source = readSource(file, sink);
  if (source === undefined || !parseSource(source, sink)) return { findings: sortFindings(sink.close()) };
  const root = source.events[1];
  const config = source.find(1, ["config"]);
  const node = root?.type === EVENT_ID.MAPPING && config !== 1 ? source.find(config, [key]) : -1;
  if (node <= config || config === 1 || source.events[node] === undefined) {
    if (missing !== undefined) sink.add("schema.missing-field", source.at(config === 1 ? 1 : config), "-", missing.message, missing.hint);
    return { findings: sortFindings(sink.close()) };
  }
  const reader = new Reader(source, sink);
  reader.item = key;
  reader.i = node;
  const value = schema.read(reader);
  const findings = sortFindings(sink.close());
  return value === INVALID ? { findings } : { value, findings };
}
