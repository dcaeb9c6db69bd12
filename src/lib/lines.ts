/**
 * Text that arrives in chunks (a child's stdout, the engine's output), passed
 * on a whole line at a time as it comes: a chunk may end mid-line, and a sink
 * that ends every call with a line break (the CLI's Io) would otherwise break
 * a line in two. `end` passes on what is left after the last line break.
 */
export interface LineSplitter {
  write(chunk: string): void;
  end(): void;
}

export function lineSplitter(sink: (line: string) => void): LineSplitter {
  let pending = "";
  return {
    write(chunk) {
      const parts = (pending + chunk).split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) sink(line.endsWith("\r") ? line.slice(0, -1) : line);
    },
    end() {
      if (pending !== "") sink(pending);
      pending = "";
    },
  };
}
