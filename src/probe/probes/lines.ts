import type { Readable } from "node:stream";

/**
 * Splits a child's output into lines as it streams, never holding more than
 * one line (capped at `maxLine` characters; a longer line is cut and its
 * rest dropped): a tool that floods its output cannot grow our memory.
 */
export function onLines(stream: Readable, maxLine: number, handle: (line: string) => void): Promise<void> {
  let pending = "";
  let dropping = false;
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    let from = 0;
    for (let newline = chunk.indexOf("\n", from); newline >= 0; newline = chunk.indexOf("\n", from)) {
      if (!dropping) handle((pending + chunk.slice(from, newline)).replace(/\r$/, ""));
      pending = "";
      dropping = false;
      from = newline + 1;
    }
    if (dropping) return;
    pending += chunk.slice(from);
    if (pending.length > maxLine) {
      handle(pending.slice(0, maxLine));
      pending = "";
      dropping = true;
    }
  });
  return new Promise((resolve) => {
    stream.on("end", () => {
      if (pending !== "" && !dropping) handle(pending);
      resolve();
    });
    stream.on("error", () => resolve());
  });
}
