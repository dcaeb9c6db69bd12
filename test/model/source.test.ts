import { parseEvents } from "js-yaml";
import { describe, expect, it } from "vitest";
import { SourceFile, Sources } from "../../src/model/source.ts";

function source(text: string): SourceFile {
  const file = new SourceFile("f.yaml", text);
  file.events = parseEvents(text, {});
  return file;
}

describe("SourceFile", () => {
  it("maps offsets to 1-based line and column, CRLF as one break", () => {
    const lf = source("a: 1\nbb: 2\n");
    const crlf = source("a: 1\r\nbb: 2\r\n");
    expect(lf.position(5)).toEqual({ file: "f.yaml", line: 2, col: 1 });
    expect(crlf.position(6)).toEqual({ file: "f.yaml", line: 2, col: 1 });
    expect(crlf.position(10)).toEqual({ file: "f.yaml", line: 2, col: 5 });
  });

  it("finds a field by path, after the full events are released", () => {
    const file = source('items:\n  - id: x\n    name: "quoted"\n  - id: y\n    links: [a, b]\n');
    file.release();
    const sources = new Sources();
    sources.add(file);
    const root = { file: "f.yaml", node: 1 };
    expect(sources.locate(root, "items", 1, "links", 1)).toEqual({ file: "f.yaml", line: 5, col: 16 });
    expect(sources.locate(root, "items", 0, "name")).toEqual({ file: "f.yaml", line: 3, col: 11 }); // at the quote
    expect(sources.locateKey(root, "items", 0, "name")).toEqual({ file: "f.yaml", line: 3, col: 5 });
    // A path that does not exist stops at the deepest node that does.
    expect(sources.locate(root, "items", 0, "nope")).toEqual({ file: "f.yaml", line: 2, col: 5 });
  });
});
