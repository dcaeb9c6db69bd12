import { getCompileCacheDir } from "node:module";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { CollectedFindings, FindingSink } from "./finding.ts";
import { type Prepared, prepareFile } from "./prepare.ts";
import type { FileRole } from "./read.ts";
import { type CompactSource, SourceFile } from "./source.ts";

/**
 * Stages 1–2 of many files on another thread (ADR 0017). Reading, scanning
 * and parsing a national inventory's 1,200 district files is three quarters
 * of `validate`, and each file's is independent of every other's. A thread
 * claims files from the back of the list while the loader's thread claims
 * them from the front, prepares them itself and reads every file's schema,
 * in the files' order. A thread's reply is its file compacted (the text and
 * typed arrays, transferred without a copy) and its findings, which the
 * loader's sink absorbs as if they had been found there (`absorb`): the
 * findings are the same as with no thread at all.
 *
 * Nothing is lost to a thread: a thread that fails, or a file whose
 * preparation threw, is prepared again on the loader's thread.
 */

/**
 * Fewer district files than this are prepared on the loader's thread alone:
 * a thread's start (its modules, a cold parser) costs about what it saves on
 * 200 files (`bench:inventory`'s inventory at 4,900, 10,000 and 20,000
 * stations, ADR 0017).
 */
export const THREADS_FROM_FILES = 256;

/**
 * How many threads prepare `files` district files besides the loader's: one
 * on two cores or more (a second made validate slower: three threads on two
 * cores), none for a small inventory.
 */
export function threadsFor(files: number): number {
  return files >= THREADS_FROM_FILES && availableParallelism() >= 2 ? 1 : 0;
}

export type PrepareReply =
  | {
      readonly id: number;
      readonly again?: undefined;
      readonly absent: boolean;
      readonly parsed: boolean;
      readonly source: CompactSource | undefined;
      readonly collected: CollectedFindings;
    }
  | { readonly id: number; readonly again: true };

const WORKER = new URL("./prepare-worker.ts", import.meta.url);

/** In `claims`: who prepares each file. */
const FREE = 0;
const HERE = 1;
const THREAD = 2;

export class Preparers {
  private readonly files: readonly { readonly path: string; readonly role: FileRole }[];
  private readonly workers: Worker[] = [];
  private readonly replies = new Map<number, PrepareReply>();
  private readonly waiting = new Map<number, () => void>();
  /** Per file, shared with the threads: FREE, or claimed HERE or by a THREAD (Atomics.compareExchange). */
  private readonly claims: Int32Array;
  private failed = false;

  /**
   * Start `threads` threads. They claim files from the back of the list while
   * the loader's thread claims them from the front, until the two meet: no
   * file waits for a thread that is still starting, the loader's thread never
   * idles, and the work divides itself as fast as each thread goes.
   */
  constructor(files: readonly { readonly path: string; readonly role: FileRole }[], threads: number) {
    this.files = files;
    this.claims = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, files.length)));
    const next = new Int32Array(new SharedArrayBuffer(4));
    next[0] = files.length;
    const workerData: PrepareWork = { files, claims: this.claims, next, compileCache: getCompileCacheDir() };
    for (let t = 0; t < threads; t++) {
      let worker: Worker;
      try {
        worker = new Worker(WORKER, { workerData });
      } catch {
        // No thread to be had here (a host that forbids them): the loader's thread prepares every file.
        break;
      }
      let done = false;
      worker.on("message", (reply: PrepareReply | "done") => {
        if (reply === "done") {
          done = true;
          return;
        }
        this.replies.set(reply.id, reply);
        this.wake(reply.id);
      });
      worker.on("error", () => this.fail());
      worker.on("exit", () => {
        if (!done) this.fail();
      });
      this.workers.push(worker);
    }
  }

  /**
   * File `id` of the list (taken in order), prepared, with its findings added
   * to `sink`: from its thread's reply, or here when no thread claimed it or
   * its thread could not give one.
   */
  async take(id: number, sink: FindingSink): Promise<Prepared> {
    const file = this.files[id];
    if (file === undefined) throw new RangeError(`no file ${id}`);
    if (Atomics.compareExchange(this.claims, id, FREE, HERE) === FREE) return prepareFile(file.path, file.role, sink);
    if (!this.replies.has(id) && !this.failed) await new Promise<void>((resolve) => this.waiting.set(id, resolve));
    const reply = this.replies.get(id);
    this.replies.delete(id);
    if (reply === undefined || reply.again === true) return prepareFile(file.path, file.role, sink);
    sink.absorb(reply.collected);
    return { absent: reply.absent, parsed: reply.parsed, source: reply.source === undefined ? undefined : SourceFile.fromCompact(reply.source) };
  }

  /** Stop the threads; files not taken yet are dropped. */
  close(): void {
    this.failed = true;
    this.replies.clear();
    // A thread still preparing claims nothing more.
    for (let id = 0; id < this.claims.length; id++) Atomics.compareExchange(this.claims, id, FREE, HERE);
    for (const worker of this.workers) {
      worker.removeAllListeners("exit");
      void worker.terminate();
    }
  }

  private wake(id: number): void {
    const resolve = this.waiting.get(id);
    this.waiting.delete(id);
    resolve?.();
  }

  /** A thread failed or ended early: whoever waits gets no reply, and prepares the file here. */
  private fail(): void {
    this.failed = true;
    for (const id of [...this.waiting.keys()]) this.wake(id);
  }
}

/** What a thread is given: the files, the claims, and the next file from the back (shared). */
export interface PrepareWork {
  readonly files: readonly { readonly path: string; readonly role: FileRole }[];
  readonly claims: Int32Array;
  readonly next: Int32Array;
  readonly compileCache: string | undefined;
}

/** A thread's loop: claim the next file from the back, until one is claimed already (the loader's thread is there). */
export function claimFromBack(work: PrepareWork, prepare: (id: number) => void): void {
  for (;;) {
    const id = Atomics.sub(work.next, 0, 1) - 1;
    if (id < 0 || Atomics.compareExchange(work.claims, id, FREE, THREAD) !== FREE) return;
    prepare(id);
  }
}
