// The floor the gate and the report are measured against in `npm run bench:scale` (issue 20): a
// cold node process that merely stream-parses a results file (a line at a time, JSON.parse each,
// the sha256 of the bytes as the gate takes it) and keeps nothing. Prints the line count.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

const file = process.argv[2] ?? "";
const hash = createHash("sha256");
const stream = createReadStream(file);
stream.on("data", (chunk) => hash.update(chunk));
let lines = 0;
for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
  if (line === "") continue;
  JSON.parse(line);
  lines++;
}
process.stdout.write(`${lines} lines, sha256 ${hash.digest("hex").slice(0, 12)}\n`);
