import { EVENT_ID, parseEvents, YAMLException } from "js-yaml";
import type { FindingSink } from "./finding.ts";
import type { SourceFile } from "./source.ts";

/**
 * Stage 2, parse: one event parse per file. Anything the inventory does not
 * use is refused here, before any walk: extra documents, anchors and aliases
 * (so an alias bomb is one finding, never an expansion), explicit tags.
 * Nesting is capped well above the deepest inventory shape.
 */
export const MAX_DEPTH = 32;

export function parseSource(file: SourceFile, sink: FindingSink): boolean {
  try {
    file.events = parseEvents(file.text, { maxDepth: MAX_DEPTH, filename: file.path });
  } catch (error) {
    if (!(error instanceof YAMLException)) throw error;
    const at = file.position(error.mark?.position ?? 0);
    if (error.reason.includes("maxDepth")) {
      sink.add(
        "yaml.too-deep",
        at,
        "-",
        `nesting deeper than ${MAX_DEPTH} levels`,
        "an inventory file is at most a few levels deep; this is not an inventory file",
      );
    } else {
      sink.add("yaml.syntax", at, "-", `YAML syntax error: ${error.reason}`, "fix the YAML at this position (check indentation, quotes and colons)");
    }
    return false;
  }
  let ok = true;
  if (file.documents > 1) {
    const second = file.events.findIndex((e, i) => i > 0 && e.type === EVENT_ID.DOCUMENT);
    sink.add(
      "yaml.multi-document",
      file.at(second + 1),
      "-",
      "a second YAML document (after ---)",
      "keep one document per file; split the rest into another file",
    );
    ok = false;
  }
  // In document order, so that when a bomb's findings are capped, the first ones listed are the first in the file.
  const refused = [
    ...file.aliases.map((i) => ({ i, what: "alias" as const })),
    ...file.anchors.map((i) => ({ i, what: "anchor" as const })),
    ...file.tags.map((i) => ({ i, what: "tag" as const })),
  ];
  refused.sort((a, b) => a.i - b.i);
  for (const { i, what } of refused) {
    ok = false;
    if (what === "alias") {
      sink.add(
        "yaml.alias",
        file.at(i),
        "-",
        "an alias (*name): aliases are not allowed in the inventory",
        "write the value out in full, so the file reads literally in a review",
      );
    } else if (what === "anchor") {
      sink.add("yaml.alias", file.at(i), "-", "an anchor (&name): anchors are not allowed in the inventory", "remove the anchor and write each value out");
    } else {
      const event = file.events[i];
      const start = event !== undefined && "tagStart" in event ? event.tagStart : 0;
      const end = event !== undefined && "tagEnd" in event ? event.tagEnd : 0;
      sink.add(
        "yaml.tag",
        file.position(start),
        "-",
        `an explicit tag ${file.text.slice(start, Math.min(end, start + 30))}`,
        "remove the tag; field types come from the schema",
      );
    }
  }
  if (file.documents === 0 || isEmptyDocument(file)) {
    sink.add(
      "input.empty",
      file.position(0),
      "-",
      `${file.path} holds no data (only comments or an empty document)`,
      "write its top-level keys (see docs/inventory.md)",
    );
    return false;
  }
  return ok;
}

function isEmptyDocument(file: SourceFile): boolean {
  const root = file.events[1];
  return root?.type === EVENT_ID.SCALAR && root.valueStart < 0;
}
