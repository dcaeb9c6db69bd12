import type { Finding } from "./finding.ts";

/**
 * A finding as a GitHub Actions workflow command, which the runner turns into
 * an inline annotation on that file and line of the pull request:
 * `::error file=inventory/districts/rey.yaml,line=41,col=7,title=reference.unknown (REY-0031)::…`.
 * Waived findings become notices: visible, never failing.
 */
export function githubAnnotation(f: Finding): string {
  const level = f.waived !== undefined ? "notice" : f.severity === "error" ? "error" : "warning";
  const title = `${f.rule} (${f.item})`;
  const text = `${f.message}${f.hint === "" ? "" : ` → ${f.hint}`}${f.waived === undefined ? "" : ` [waived by ${f.waived}]`}`;
  return `::${level} file=${property(f.file)},line=${f.line},col=${f.col},title=${property(title)}::${data(text)}`;
}

/** The message part: %, CR and LF are escaped (GitHub's toolkit does the same). */
function data(text: string): string {
  return text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

/** A property value: also `:` and `,`, which would end it. */
function property(text: string): string {
  return data(text).replace(/:/g, "%3A").replace(/,/g, "%2C");
}
