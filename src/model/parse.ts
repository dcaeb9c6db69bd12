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
      sink.add("yaml.too-deep", at, "-", `nesting deeper than ${MAX_DEPTH} levels`, "an inventory file is at most a few levels deep; this is not an inventory file");
    } else {
      sink.add("yaml.syntax", at, "-", `YAML syntax error: ${error.reason}`, "fix the YAML at this position (check indentation, quotes and colons)");
    }
    return false;
  }
  const events = file.events;
  let documents = 0;
  let ok = true;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (event === undefined) continue;
    if (event.type === EVENT_ID.DOCUMENT) {
      if (++documents === 2) {
        sink.add("yaml.multi-document", file.at(i + 1), "-", "a second YAML document (after ---)", "keep one document per file; split the rest into another file");
        ok = false;
      }
    } else if (event.type === EVENT_ID.ALIAS) {
      sink.add("yaml.alias", file.at(i), "-", "an alias (*name): aliases are not allowed in the inventory", "write the value out in full, so the file reads literally in a review");
      ok = false;
    } else if (event.type !== EVENT_ID.POP) {
      if (event.anchorStart >= 0) {
        sink.add("yaml.alias", file.at(i), "-", "an anchor (&name): anchors are not allowed in the inventory", "remove the anchor and write each value out");
        ok = false;
      }
      if (event.tagStart >= 0) {
        sink.add("yaml.tag", file.position(event.tagStart), "-", `an explicit tag ${file.text.slice(event.tagStart, Math.min(event.tagEnd, event.tagStart + 30))}`, "remove the tag; field types come from the schema");
        ok = false;
      }
    }
  }
  if (documents === 0 || isEmptyDocument(file)) {
    sink.add("input.empty", file.position(0), "-", `${file.path} holds no data (only comments or an empty document)`, "write its top-level keys (see docs/inventory.md)");
    return false;
  }
  return ok;
}

function isEmptyDocument(file: SourceFile): boolean {
  const root = file.events[1];
  return root?.type === EVENT_ID.SCALAR && root.valueStart < 0;
}
