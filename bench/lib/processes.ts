import { fork, spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/**
 * Every child process the runner starts goes through here, so that all of them are killed, by
 * PID, when the run ends, fails, or is interrupted.
 */

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Run TypeScript with the repo's tsx loader in the process itself (its PID is the server's). */
const TSX = ["--import", "tsx"];
/**
 * Servers run from the compiled build (`npm run build`, as `npm start` does), not through tsx:
 * tsx keeps function names by defining `name` on every closure it creates, which costs a few
 * hundred bytes per closure and would be measured as per-connection memory.
 */
export const compiled = (script: string) => `${REPO_ROOT}dist/${script.replace(/\.ts$/, ".js")}`;
const OUTPUT_TAIL_LINES = 30;

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Last lines of stdout and stderr, to show when it fails. */
  output(): string;
  /** Resolves when the process exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ManagedProcess>();

/** Preloaded into every server: it stops when our IPC channel closes (see the file). */
const EXIT_WITH_RUNNER = ["--import", compiled("bench/lib/exit-with-runner.ts")];

/**
 * Starts the compiled `<script>` with an IPC channel, whose closing (the runner died)
 * sends the server SIGTERM. `nodeArgs` go before the script (e.g. `--cpu-prof`).
 */
export function startScript(name: string, script: string, env: Record<string, string>, nodeArgs: readonly string[] = []): ManagedProcess {
  return startServer(name, process.execPath, [...EXIT_WITH_RUNNER, ...nodeArgs, compiled(script)], env, "ipc");
}

/**
 * Starts an executable (the Go servers) with its stdin a pipe from the runner and
 * `BENCH_EXIT_ON_STDIN_EOF=1`: the pipe closes when the runner dies, and the server then exits,
 * as the node servers do when their IPC channel closes.
 */
export function startBinary(name: string, path: string, env: Record<string, string>): ManagedProcess {
  return startServer(name, path, [], { ...env, BENCH_EXIT_ON_STDIN_EOF: "1" }, "stdin");
}

/** A server process in the repo root, on the runner's environment plus `env`, told of the runner's death through `link`. */
function startServer(name: string, file: string, args: readonly string[], env: Record<string, string>, link: "ipc" | "stdin"): ManagedProcess {
  const child = spawn(file, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: link === "ipc" ? ["ignore", "pipe", "pipe", "ipc"] : ["pipe", "pipe", "pipe"],
  });
  return manage(name, child);
}

/** Forks the load generator: `node --import tsx bench/load.ts`, talking over IPC. */
export function forkGenerator(nodeArgs: readonly string[] = []): ManagedProcess {
  const child = fork(`${REPO_ROOT}bench/load.ts`, [], {
    cwd: REPO_ROOT,
    execArgv: [...TSX, ...nodeArgs],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  return manage("load generator", child);
}

function manage(name: string, child: ChildProcess): ManagedProcess {
  if (child.pid === undefined) throw new Error(`${name}: could not start`);
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    tail.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - OUTPUT_TAIL_LINES));
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      running.delete(managed);
      resolve({ code, signal });
    }),
  );
  const managed: ManagedProcess = {
    name,
    child,
    pid: child.pid,
    exited,
    output: () => tail.join("\n"),
    async stop(graceMs = 3_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(managed);
  return managed;
}

/** Kills every process still running, at once, with SIGKILL (for exits and interrupts). */
export function killAllNow(): void {
  for (const managed of running) {
    try {
      process.kill(managed.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  running.clear();
}

/** Stops every process still running, gracefully. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((managed) => managed.stop()));
}

/**
 * Children die with the runner: on exit, on Ctrl-C, on SIGTERM, on a crash. After a signal,
 * `cleanUp` gets up to 3 seconds (removing the run's Redis keys).
 */
export function killChildrenOnExit(cleanUp: () => Promise<void>): void {
  process.on("exit", killAllNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every child process\n`);
      killAllNow();
      const timeout = new Promise((resolve) => setTimeout(resolve, 3_000));
      void Promise.race([cleanUp().catch(() => {}), timeout]).then(() => process.exit(130));
    });
  }
}

/** A port free right now on 127.0.0.1 (bound on port 0, read back, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Polls `url` until it answers 200, the process exits, or `timeoutMs` passes. */
export async function waitUntilReady(managed: ManagedProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void managed.exited.then((status) => (exit = status));
  while (Date.now() < deadline) {
    if (exit) {
      const status = exit.signal ?? `code ${exit.code}`;
      throw new Error(`${managed.name} exited (${status}) before it was ready:\n${managed.output() || "(no output)"}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${managed.name} was not ready at ${url} within ${timeoutMs} ms:\n${managed.output()}`);
}
