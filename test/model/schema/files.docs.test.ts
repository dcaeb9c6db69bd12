// docs/inventory.md documents every field of every file: walk the schemas
// (the single source of the format) and look for each leaf field's path.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Schema } from "../../../src/model/schema/core.ts";
import { committeeFile, districtFile, electionFile, operatorsFile, serversFile, waiversFile } from "../../../src/model/schema/files.ts";

function leaves(schema: Schema<unknown>, path: string): string[] {
  if ("item" in schema) {
    const item = schema.item as Schema<unknown>;
    // A list of scalars is documented as one field; a list of mappings by its fields.
    return "fields" in item ? leaves(item, `${path}[]`) : [path];
  }
  if ("fields" in schema) {
    const fields = schema.fields as readonly (readonly [string, { schema: Schema<unknown> }])[];
    return fields.flatMap(([name, field]) => leaves(field.schema, path === "" ? name : `${path}.${name}`));
  }
  return [path];
}

describe("docs/inventory.md", () => {
  const files = { electionFile, operatorsFile, serversFile, districtFile, waiversFile, committeeFile };
  it.each(Object.entries(files))("documents every field of %s", async (_name, schema) => {
    const doc = await readFile(join(import.meta.dirname, "../../../docs/inventory.md"), "utf8");
    const paths = leaves(schema, "");
    expect(paths.length).toBeGreaterThan(2);
    expect(paths.filter((p) => !doc.includes(`\`${p}\``))).toEqual([]);
  });
});
