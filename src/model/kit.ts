/**
 * The machinery the inventory is read with, for the project's other YAML files (the check
 * catalog, a stack's settings): bounded reading, the YAML pass with positions, the scan for
 * hidden characters, the schema combinators and scalars, findings and "did you mean". A second
 * entry point beside index.ts (the inventory's contract, ADR 0002), so that a file the inventory
 * does not contain is still read the inventory's way and its findings look the same.
 */
export { type Finding, FindingSink, formatFinding, type Location, sortFindings } from "./finding.ts";
export { isPlainFile, readSource } from "./read.ts";
export { parseSource } from "./parse.ts";
export { scanText, scanValues } from "./scan.ts";
export { type Origin, SourceFile, Sources } from "./source.ts";
export { closest, didYouMean } from "./suggest.ts";
export * from "./schema/core.ts";
export * from "./schema/scalars.ts";
