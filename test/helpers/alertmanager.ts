// A real Alertmanager on loopback for tests: no cluster, its own storage, a receiver that tells no one.
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stopChild } from "./children.ts";
import { freePort } from "./listeners.ts";

export interface TestAlertmanager {
  readonly url: string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited (its storage is no longer written). */
  stop(): Promise<void>;
}

/** Starts prometheus-alertmanager with its files in `dir`; resolves once /-/ready answers (throws after 10 s). */
export async function startAlertmanager(dir: string): Promise<TestAlertmanager> {
  const port = await freePort("127.0.0.1");
  const url = `http://127.0.0.1:${port}`;
  await writeFile(join(dir, "am.yml"), "route: { receiver: r }\nreceivers: [ { name: r } ]\n");
  const am = spawn(
    "prometheus-alertmanager",
    [`--config.file=${join(dir, "am.yml")}`, `--storage.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address="],
    { stdio: "ignore" },
  );
  const stop = (): Promise<void> => stopChild(am);
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return { url, stop };
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error("Alertmanager did not start within 10 s");
}
