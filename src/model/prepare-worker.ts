// A thread of `parallel.ts`: claims files from the back of the list and
// prepares each (`prepareFile`), replying with it compacted, its typed arrays
// transferred, not copied; "done" when it meets the loader's thread. Started
// only by `Preparers`; it reads nothing but the files it is given.
import { enableCompileCache } from "node:module";
import { parentPort, workerData } from "node:worker_threads";
import type { PrepareReply, PrepareWork } from "./parallel.ts";

const work = workerData as PrepareWork;
if (work.compileCache !== undefined) {
  try {
    enableCompileCache(work.compileCache);
  } catch {
    // Without the cache the modules load a little slower, nothing else.
  }
}
const { FindingSink } = await import("./finding.ts");
const { prepareFile } = await import("./prepare.ts");
const { claimFromBack } = await import("./parallel.ts");

claimFromBack(work, (id) => {
  const file = work.files[id];
  if (file === undefined) return;
  const sink = new FindingSink();
  let reply: PrepareReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const prepared = prepareFile(file.path, file.role, sink);
    const compact = prepared.source?.toCompact();
    transfer = compact?.transfer ?? [];
    reply = { id, absent: prepared.absent, parsed: prepared.parsed, source: compact?.compact, collected: sink.collected() };
  } catch {
    // An error of the project's family: the loader's thread prepares this file again and throws it there.
    reply = { id, again: true };
  }
  parentPort?.postMessage(reply, transfer);
});
parentPort?.postMessage("done");
