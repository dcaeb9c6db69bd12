import { describe, expect, it } from "vitest";
import { lineSplitter } from "../../src/lib/lines.ts";

describe("lineSplitter", () => {
  it("passes on whole lines however the chunks cut them, and the rest at the end", () => {
    const lines: string[] = [];
    const split = lineSplitter((line) => lines.push(line));
    split.write("Previewing upd");
    expect(lines).toEqual([]);
    split.write("ate (rehearsal):\n    + pulumi:pulumi:Stack\r\n\n  + a");
    expect(lines).toEqual(["Previewing update (rehearsal):", "    + pulumi:pulumi:Stack", ""]);
    split.write("madegi:pki:Pki pki create");
    split.end();
    expect(lines).toEqual(["Previewing update (rehearsal):", "    + pulumi:pulumi:Stack", "", "  + amadegi:pki:Pki pki create"]);
    split.end();
    expect(lines).toHaveLength(4);
  });
});
