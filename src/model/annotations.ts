import { type WorkflowCommand, workflowCommand } from "../lib/encode.ts";
import type { Finding } from "./finding.ts";

/**
 * A finding as a GitHub Actions workflow command, which the runner turns into
 * an inline annotation on that file and line of the pull request:
 * `::error file=inventory/districts/rey.yaml,line=41,col=7,title=reference.unknown (REY-0031)::…`.
 * Waived findings become notices: visible, never failing. The file, title and
 * message come from the inventory: workflowCommand escapes each as the
 * runner unescapes it, so none can end its part, add a property or start a
 * second command.
 */
export function githubAnnotation(f: Finding): WorkflowCommand {
  const level = f.waived !== undefined ? "notice" : f.severity === "error" ? "error" : "warning";
  const text = `${f.message}${f.hint === "" ? "" : ` → ${f.hint}`}${f.waived === undefined ? "" : ` [waived by ${f.waived}]`}`;
  return workflowCommand(level, { file: f.file, line: f.line, col: f.col, title: `${f.rule} (${f.item})` }, text);
}
