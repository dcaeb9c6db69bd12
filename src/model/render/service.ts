import { LOG_DIR, rooted, RUN_DIR, socketPath, unitName, unitPath } from "./paths.ts";
import type { Listen, RenderedFile, ServerTarget, ServiceSpec } from "./types.ts";

/**
 * One daemon a role runs, described once; turned here into the POSIX sh that
 * starts, reloads and stops it on the server, in one of two ways:
 *
 * - **rehearsal** (root ≠ ""): the daemon is started directly, as root, with
 *   its root in its command line (the rehearsal's `down` finds and kills
 *   processes by the state directory in their command lines), its pid file
 *   under `<root>/run/amadegi/`;
 * - **production** (root ""): a systemd unit `amadegi-<name>.service`, rendered
 *   with the role's files, driven by `systemctl`.
 *
 * Either way `start` is idempotent: check the configuration, reload when
 * running (SIGHUP, or a restart when the files it reads changed and it cannot
 * reload), start otherwise, then wait up to 5 s until it listens where
 * `listens` says; any failure is a non-zero exit with one line on stderr.
 */
export interface DaemonSpec {
  /** The service's name (ServiceSpec.name). */
  readonly name: string;
  readonly description: string;
  /** Production paths of directories it needs before it starts (state, logs, pid). */
  readonly dirs: readonly string[];
  /** Checks its configuration without starting it: argv, paths already rooted. */
  readonly validate: readonly string[];
  /** The daemon: argv, paths already rooted. */
  readonly argv: readonly string[];
  /**
   * true: argv puts itself in the background and writes `pidFile` (nginx,
   * unbound, chronyd). false: it runs in the foreground; the rehearsal starts it
   * with `setsid -f`, systemd as Type=simple.
   */
  readonly forks: boolean;
  /** For a foreground daemon: it writes `pidFile` itself (else the start command writes it). */
  readonly writesPid?: boolean;
  /** Production path of its pid file. */
  readonly pidFile: string;
  /** Production path of the file its standard output and error go to in the rehearsal. */
  readonly log: string;
  /** A string of its command line that identifies it (a rooted path): a pid file's process without it is not ours. */
  readonly mark: string;
  /**
   * "hup": SIGHUP re-reads its configuration (unless `watch` changed: then a restart).
   * "restart": it cannot reload; restarted when `watch` changed, left alone otherwise.
   */
  readonly reload: "hup" | "restart";
  /** Production paths of files (besides its command line) whose change needs a restart. */
  readonly watch?: readonly string[];
  readonly listens: readonly Listen[];
  /** Production path of a unix socket that exists once it serves. */
  readonly socket?: string;
  /** Prints one line naming the binary's version. */
  readonly version: string;
  readonly unit?: UnitOptions;
  /**
   * Background work (the monitor's scrapes and rules): in the rehearsal it runs at REHEARSAL_NICE,
   * since there it shares one machine with the prober whose campaigns must not starve (in the field
   * it has a server of its own).
   */
  readonly background?: boolean;
  /** Shell run as root before it starts, after its directories exist (directly in the rehearsal; ExecStartPre=+ in production). */
  readonly prepare?: string;
}

export interface UnitOptions {
  /** Debian's own units for the same daemon: they would hold the same ports. */
  readonly conflicts?: readonly string[];
  readonly after?: readonly string[];
  readonly user?: string;
  readonly group?: string;
  readonly umask?: string;
  readonly capabilities?: readonly string[];
  /** Production paths it writes: everything else is read-only to it (ProtectSystem=strict). */
  readonly writes?: readonly string[];
  /** Commands run as root before it starts (after its directories exist). */
  readonly pre?: readonly string[];
}

/**
 * `alive PID`: it exists and is not a zombie (a zombie's pid still answers
 * kill -0). `running`: the pid file's process is alive and its command line
 * names `$mark` — a stale pid file's number may be anyone's now; sets `$p`.
 */
const RUNNING = [
  `alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat" 2>/dev/null; }`,
  `running() { [ -s "$pid" ] && p=$(cat "$pid") && alive "$p" && tr '\\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$mark"; }`,
];

/** How long `start` waits for a daemon to listen: 50 × 0.1 s. */
export const LISTEN_POLLS = 50;

const PATH_LINE = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH";

/** A word for sh: single-quoted unless it is plainly safe. */
export function sh(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

function argvLine(argv: readonly string[]): string {
  return argv.map(sh).join(" ");
}

function listenText(listens: readonly Listen[]): string {
  return listens.map((l) => `${l.proto} ${l.address}:${l.port}`).join(", ");
}

/** `ss` listing the sockets bound where `l` says, one line each; with `processes`, who holds them (when run as root). */
function ssBound(l: Listen, processes = false): string {
  return `ss -Hl${l.proto === "tcp" ? "t" : "u"}n${processes ? "p" : ""} ${sh(`src ${l.address}:${l.port}`)}`;
}

/** sh that lists the sockets bound where `listens` says, with their processes; empty when all are free. */
function boundSockets(listens: readonly Listen[]): string {
  return listens.map((l) => ssBound(l, true)).join("; ");
}

function listenTest(listens: readonly Listen[], socket: string | undefined): string {
  const tests = listens.map((l) => `${ssBound(l)} | grep -q .`);
  if (socket !== undefined) tests.push(`[ -S ${sh(socket)} ]`);
  return tests.length === 0 ? "true" : tests.join(" && ");
}

/** The ServiceSpec and, in production, the unit file of a daemon. */
export function daemon(spec: DaemonSpec, target: ServerTarget): { service: ServiceSpec; files: RenderedFile[] } {
  const production = target.root === "";
  return {
    service: {
      name: spec.name,
      start: production ? systemdStart(spec, target) : directStart(spec, target),
      stop: production ? systemdStop(spec) : directStop(spec, target),
      ...(spec.reload === "hup" ? { refresh: production ? systemdRefresh(spec) : directRefresh(spec, target) } : {}),
      version: spec.version,
      listens: spec.listens,
    },
    files: production ? [{ path: unitPath(spec.name), content: unitFile(spec), mode: 0o644 }] : [],
  };
}

function header(spec: DaemonSpec): string[] {
  return [`# amadegi: ${spec.name} (${spec.description})`, PATH_LINE, "exec </dev/null", `fail() { echo "${spec.name}: $*" >&2; exit 1; }`];
}

/** One line of what a command printed, for a failure message. */
const ONE_LINE = `printf '%s' "$out" | tr '\\n' ' ' | cut -c1-300`;

/**
 * V8's young generation for the rehearsal's node daemons (the check-in recorders; the devices'
 * responders too): one semi-space of 1 MiB instead of node's default, which a busy process fills
 * and keeps. Hundreds of them share the rehearsal's machine (ADR 0013, "The links' prober").
 */
export const REHEARSAL_NODE_HEAP = "--max-semi-space-size=1";

/** The niceness of background work in the rehearsal (DaemonSpec.background; the devices' responders too). */
export const REHEARSAL_NICE = 10;

function directStart(spec: DaemonSpec, target: ServerTarget): string {
  const pid = rooted(target, spec.pidFile);
  const log = rooted(target, spec.log);
  const stampFile = rooted(target, `${RUN_DIR}/${spec.name}.stamp`);
  const dirs = [...new Set([RUN_DIR, LOG_DIR, ...spec.dirs])].map((d) => sh(rooted(target, d)));
  const argv = argvLine(spec.background === true ? ["nice", "-n", String(REHEARSAL_NICE), ...spec.argv] : spec.argv);
  let launch: string;
  if (spec.forks) launch = `${argv} >>"$log" 2>&1 || fail "did not start: $(tail -n 1 "$log")"`;
  else if (spec.writesPid === true) launch = `setsid -f ${argv} >>"$log" 2>&1`;
  // The pid file is written by the shell that then becomes the daemon (exec keeps the pid).
  else launch = `setsid -f sh -c 'echo $$ >"$0"; exec "$@"' "$pid" ${argv} >>"$log" 2>&1`;
  // What it was started with: its command line and the files it cannot re-read. A running daemon
  // started otherwise is restarted (a SIGHUP re-reads files, never the command line); else signalled.
  const stamp =
    `{ printf '%s\\n' ${sh(argv)}; ` +
    `${(spec.watch ?? []).length === 0 ? "" : `cat ${(spec.watch ?? []).map((p) => sh(rooted(target, p))).join(" ")}; `}` +
    `} 2>/dev/null | cksum`;
  const lines = [
    ...header(spec),
    `pid=${sh(pid)}; log=${sh(log)}; mark=${sh(spec.mark)}`,
    ...RUNNING,
    `mkdir -p ${dirs.join(" ")}`,
    ...(spec.prepare === undefined
      ? []
      : [
          `( ${spec.prepare}
) || fail "could not prepare its start"`,
        ]),
    `out=$(${argvLine(spec.validate)} 2>&1) || fail "configuration check failed: $(${ONE_LINE})"`,
    ...freeWait(spec),
    `launch() { ${spec.listens.length === 0 ? "" : "free; "}rm -f "$pid"` +
      `${spec.socket === undefined ? "" : ` ${sh(socketPath(target, spec.socket))}`}; ${launch}; }`,
  ];
  const reload = `kill -HUP "$p" 2>/dev/null || fail "could not signal pid $p to reload"`;
  lines.push(
    `stamp=$(${stamp}); stampfile=${sh(stampFile)}`,
    "if running; then",
    `  if [ "$stamp" != "$(cat "$stampfile" 2>/dev/null)" ]; then`,
    `    kill -TERM "$p" 2>/dev/null || true`,
    `    n=0; while alive "$p"; do n=$((n+1)); [ "$n" -lt ${LISTEN_POLLS} ] || fail "pid $p did not stop for a restart"; sleep 0.1; done`,
    "    launch",
    ...(spec.reload === "hup" ? ["  else", `    ${reload}`] : []),
    "  fi",
    "else",
    "  launch",
    "fi",
    `printf '%s\\n' "$stamp" >"$stampfile"`,
  );
  lines.push(
    "n=0",
    `until ${listenTest(
      spec.listens.map((l) => l),
      spec.socket === undefined ? undefined : socketPath(target, spec.socket),
    )} && running; do`,
    // Dead, not merely "not running yet": while the starting shell execs the daemon, its command
    // line can read empty for an instant, and a loaded machine hits that window.
    `  if [ -s "$pid" ] && ! alive "$(cat "$pid")"; then fail "exited after starting: $(tail -n 1 "$log" 2>/dev/null)"; fi`,
    `  n=$((n+1)); [ "$n" -lt ${LISTEN_POLLS} ] || fail "${waitingFor(spec, target)} after 5 s: $(tail -n 1 "$log" 2>/dev/null)"`,
    "  sleep 0.1",
    "done",
  );
  return `${lines.join("\n")}\n`;
}

/**
 * `free`: wait until nothing holds the ports it will listen on, else fail naming who does. Its own
 * earlier process can hold them for an instant after it reads as gone: a multi-threaded daemon's
 * leader (blackbox_exporter, Prometheus) is a zombie while its other threads still exit and its
 * sockets stay open, a window a loaded machine widens (a restart under the full suite failed on
 * "bind: address already in use"). Anything else holding them would make the launch fail the same way,
 * and worse, the wait for it to listen below would see the holder's socket and report a start whose
 * daemon had already exited.
 */
function freeWait(spec: DaemonSpec): string[] {
  if (spec.listens.length === 0) return [];
  const bound = boundSockets(spec.listens);
  return [
    "free() {",
    `  f=0; while [ -n "$(${bound})" ]; do`,
    `    f=$((f+1)); [ "$f" -lt ${LISTEN_POLLS} ] || fail "cannot start: ${listenText(spec.listens)} held by another process after 5 s ` +
      `($({ ${bound}; } | tr -s ' \\n' ' ' | cut -c1-300)); stop it, or free the port"`,
    "    sleep 0.1",
    "  done",
    "}",
  ];
}

function waitingFor(spec: DaemonSpec, target: ServerTarget): string {
  const what = [
    spec.listens.length === 0 ? "" : `not listening on ${listenText(spec.listens)}`,
    spec.socket === undefined ? "" : `no socket ${socketPath(target, spec.socket)}`,
  ].filter((s) => s !== "");
  return what.length === 0 ? "not running" : what.join(", ");
}

function directStop(spec: DaemonSpec, target: ServerTarget): string {
  const lines = [
    ...header(spec),
    `pid=${sh(rooted(target, spec.pidFile))}; mark=${sh(spec.mark)}`,
    ...RUNNING,
    "if running; then",
    `  kill -TERM "$p" 2>/dev/null || true`,
    `  n=0; while alive "$p"; do n=$((n+1)); if [ "$n" -ge ${LISTEN_POLLS} ]; then kill -KILL "$p" 2>/dev/null || true; break; fi; sleep 0.1; done`,
    "fi",
    `rm -f "$pid" ${sh(rooted(target, `${RUN_DIR}/${spec.name}.stamp`))}${spec.socket === undefined ? "" : ` ${sh(socketPath(target, spec.socket))}`}`,
  ];
  return `${lines.join("\n")}\n`;
}

const SUDO = `SUDO=; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"`;

function systemdStart(spec: DaemonSpec, target: ServerTarget): string {
  const unit = unitName(spec.name);
  const lines = [
    ...header(spec),
    SUDO,
    `out=$($SUDO ${argvLine(spec.validate)} 2>&1) || fail "configuration check failed: $(${ONE_LINE})"`,
    `$SUDO systemctl daemon-reload || fail "systemctl daemon-reload failed"`,
    `$SUDO systemctl enable --quiet ${unit} || fail "could not enable ${unit}"`,
    ...systemdApply(spec, unit),
    "n=0",
    `until ${listenTest(spec.listens, spec.socket)}; do`,
    `  n=$((n+1)); [ "$n" -lt ${LISTEN_POLLS} ] || fail "${waitingFor(spec, target)} after 5 s (${unit}: $($SUDO systemctl is-active ${unit}))"`,
    "  sleep 0.1",
    "done",
  ];
  return `${lines.join("\n")}\n`;
}

/** Start when stopped; when running: reload, or restart when what it cannot re-read changed. */
function systemdApply(spec: DaemonSpec, unit: string): string[] {
  const failed = `fail "${unit} did not start: $($SUDO systemctl is-active ${unit})"`;
  if (spec.reload === "hup" && spec.watch === undefined) return [`$SUDO systemctl reload-or-restart ${unit} || ${failed}`];
  const stampFile = `${RUN_DIR}/${spec.name}.stamp`;
  const same = spec.reload === "hup" ? "reload-or-restart" : "start";
  return [
    `stamp=$({ printf '%s\\n' ${sh(argvLine(spec.argv))}; ` +
      `${(spec.watch ?? []).length === 0 ? "" : `cat ${(spec.watch ?? []).map(sh).join(" ")}; `}` +
      `} 2>/dev/null | cksum)`,
    `if [ "$stamp" = "$(cat ${stampFile} 2>/dev/null)" ]; then $SUDO systemctl ${same} ${unit} || ${failed}; ` +
      `else $SUDO systemctl restart ${unit} || ${failed}; fi`,
    `printf '%s\\n' "$stamp" | $SUDO tee ${stampFile} >/dev/null`,
  ];
}

/** If it runs (its pid file's process, named by `mark`): check the configuration, then SIGHUP. */
function directRefresh(spec: DaemonSpec, target: ServerTarget): string {
  return `${[
    ...header(spec),
    `pid=${sh(rooted(target, spec.pidFile))}; mark=${sh(spec.mark)}`,
    ...RUNNING,
    "if running; then",
    `  out=$(${argvLine(spec.validate)} 2>&1) || fail "configuration check failed: $(${ONE_LINE})"`,
    `  kill -HUP "$p" 2>/dev/null || fail "could not signal pid $p to reload"`,
    "fi",
  ].join("\n")}\n`;
}

/** If its unit is active: check the configuration, then `systemctl reload`. */
function systemdRefresh(spec: DaemonSpec): string {
  const unit = unitName(spec.name);
  return `${[
    ...header(spec),
    SUDO,
    `if $SUDO systemctl is-active --quiet ${unit}; then`,
    `  out=$($SUDO ${argvLine(spec.validate)} 2>&1) || fail "configuration check failed: $(${ONE_LINE})"`,
    `  $SUDO systemctl reload ${unit} || fail "could not reload ${unit}"`,
    "fi",
  ].join("\n")}\n`;
}

function systemdStop(spec: DaemonSpec): string {
  const unit = unitName(spec.name);
  const lines = [
    ...header(spec),
    SUDO,
    `if $SUDO systemctl cat ${unit} >/dev/null 2>&1; then $SUDO systemctl disable --now --quiet ${unit} || fail "could not stop ${unit}"; fi`,
  ];
  return `${lines.join("\n")}\n`;
}

/** A word for a systemd command line. */
function unitWord(word: string): string {
  const escaped = word.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  return /^[A-Za-z0-9_@+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function unitFile(spec: DaemonSpec): string {
  const u = spec.unit ?? {};
  const exec = (argv: readonly string[]): string => {
    const [program = "", ...rest] = argv;
    // systemd wants an absolute program; `env` finds it on PATH as the rehearsal's shell does.
    return [program.startsWith("/") ? program : `/usr/bin/env ${program}`, ...rest.map(unitWord)].join(" ");
  };
  const dirs = [...new Set([RUN_DIR, LOG_DIR, ...spec.dirs])];
  const lines = [
    "# Generated by amadegi from the inventory: do not edit.",
    "[Unit]",
    `Description=amadegi ${spec.name}: ${spec.description}`,
    `After=${["network-online.target", ...(u.after ?? [])].join(" ")}`,
    "Wants=network-online.target",
    ...(u.conflicts === undefined || u.conflicts.length === 0 ? [] : [`Conflicts=${u.conflicts.join(" ")}`]),
    "",
    "[Service]",
    `Type=${spec.forks ? "forking" : "simple"}`,
    ...(spec.forks ? [`PIDFile=${spec.pidFile}`] : []),
    ...(u.user === undefined ? [] : [`User=${u.user}`]),
    ...(u.group === undefined ? [] : [`Group=${u.group}`]),
    ...(u.umask === undefined ? [] : [`UMask=${u.umask}`]),
    ...(u.capabilities === undefined ? [] : [`AmbientCapabilities=${u.capabilities.join(" ")}`, `CapabilityBoundingSet=${u.capabilities.join(" ")}`]),
    // `+`: as root, whatever User= says, so the directories exist before the daemon needs them.
    `ExecStartPre=+/usr/bin/mkdir -p ${dirs.join(" ")}`,
    ...(u.pre ?? []).map((command) => `ExecStartPre=+${command}`),
    ...(spec.prepare === undefined ? [] : [`ExecStartPre=+/bin/sh -c ${JSON.stringify(spec.prepare)}`]),
    `ExecStartPre=${exec(spec.validate)}`,
    `ExecStart=${exec(spec.argv)}`,
    ...(spec.reload === "hup" ? ["ExecReload=/bin/kill -HUP $MAINPID"] : []),
    "Restart=on-failure",
    "RestartSec=2s",
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "ProtectHome=yes",
    "ProtectSystem=strict",
    `ReadWritePaths=${[...new Set([RUN_DIR, LOG_DIR, ...(u.writes ?? [])])].join(" ")}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ];
  return lines.join("\n");
}
