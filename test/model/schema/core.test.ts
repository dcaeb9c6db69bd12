// The schema library on its own: reading by field type, findings with the item id.
import { parseEvents } from "js-yaml";
import { describe, expect, it } from "vitest";
import { FindingSink } from "../../../src/model/finding.ts";
import { boolean, type Infer, INVALID, list, number, object, oneOf, optional, Reader, required, text, withDefault } from "../../../src/model/schema/core.ts";
import { SourceFile } from "../../../src/model/source.ts";

const thing = object(
  {
    id: required(text(), "an id"),
    size: withDefault(number({ min: 0, max: 10, integer: true }), 1, "a size"),
    kind: optional(oneOf(["a", "b"] as const), "a or b"),
    on: withDefault(boolean(), false, "on"),
    tags: withDefault(list(text()), [], "tags"),
  },
  { id: "id" },
);

function read(yaml: string): { value: Infer<typeof thing> | typeof INVALID; findings: { rule: string; item: string; line: number; col: number }[] } {
  const file = new SourceFile("t.yaml", yaml);
  file.events = parseEvents(yaml, {});
  const sink = new FindingSink();
  const reader = new Reader(file, sink);
  reader.i = 1;
  const value = thing.read(reader);
  return { value, findings: sink.close().map((f) => ({ rule: f.rule, item: f.item, line: f.line, col: f.col })) };
}

describe("schema core", () => {
  it("reads a value, filling defaults", () => {
    expect(read("id: x\nkind: b\n").value).toEqual({ id: "x", size: 1, kind: "b", on: false, tags: [] });
  });

  it("names the item even when its id comes after the bad field", () => {
    expect(read("size: 11\nid: late\n").findings).toEqual([{ rule: "schema.bad-value", item: "late", line: 1, col: 7 }]);
  });

  it.each([
    ["size: 1.5\nid: x\n", "schema.wrong-type", 1, 7],
    ["size: '3'\nid: x\n", "schema.wrong-type", 1, 7],
    ["on: yes\nid: x\n", "schema.wrong-type", 1, 5],
    ["tags: x\nid: x\n", "schema.wrong-type", 1, 7],
    ["id: x\nkind: c\n", "schema.bad-value", 2, 7],
    ["id: x\nid: y\n", "yaml.duplicate-key", 2, 1],
    ["? [a]\n: 1\nid: x\n", "schema.wrong-type", 1, 3],
  ])("%j → %s at %i:%i", (yaml, rule, line, col) => {
    const { value, findings } = read(yaml);
    expect(value).toBe(INVALID);
    expect(findings.map((f) => [f.rule, f.line, f.col])).toEqual([[rule, line, col]]);
  });

  it("takes `key:` with nothing after it as an empty list", () => {
    expect(read("id: x\ntags:\n").value).toMatchObject({ tags: [] });
  });
});
