/**
 * Process groups of sandbox children: resident memory, killing, and the sweep of groups
 * left behind by a conductor that crashed. Linux `/proc` only.
 */

/** The env var that ties a child to the conductor that started it: `<pid>.<start ticks>`. */
export const OWNER_ENV = "CONDUCTOR_OWNER";

/** util-linux `setsid`, when the machine has it. */
const SETSID = ["/usr/bin/setsid", "/bin/setsid"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

/**
 * Spawns a process as the leader of a new session and process group (pgid = pid), so that
 * one kill reaches everything it starts. Through a launcher that calls setsid and execs in
 * place (same pid): the conductor's own (`session_launcher.ts`) when given, else
 * util-linux `setsid`; Deno's `detached: true`, the last resort, costs the conductor
 * 1.5-2 ms of blocking fork per spawn. A launcher that cannot be started (deleted with its
 * cache folder, say) ran nothing: the spawn falls back.
 */
export function spawnGroupLeader(
  command: string,
  options: Deno.CommandOptions,
  launcher?: string,
): Deno.ChildProcess {
  const args = options.args ?? [];
  if (launcher) {
    try {
      return new Deno.Command(launcher, { ...options, args: [command, ...args] }).spawn();
    } catch {
      // fall back below
    }
  }
  if (!SETSID) return new Deno.Command(command, { ...options, detached: true }).spawn();
  return new Deno.Command(SETSID, { ...options, args: ["--", command, ...args] }).spawn();
}

/**
 * Sends SIGKILL to a whole process group; a group already gone is fine. With
 * `leaderAlive` (the caller knows the leader has not exited), a missing group means the
 * child has not called setsid yet (its first half millisecond): kill it by pid instead.
 */
export function killGroup(pgid: number, leaderAlive = false): void {
  try {
    Deno.kill(-pgid, "SIGKILL");
  } catch (error) {
    // ESRCH surfaces as NotFound; anything else is a real failure worth knowing.
    if (!(error instanceof Deno.errors.NotFound) && !(error instanceof TypeError)) throw error;
    if (!leaderAlive) return;
    try {
      Deno.kill(pgid, "SIGKILL");
    } catch { /* gone meanwhile */ }
  }
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** Fields of /proc/PID/stat from field 3 (state) on; `undefined` when the process is gone. */
function statFields(pid: number): string[] | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces and parentheses: split after the last ")".
  return stat ? stat.slice(stat.lastIndexOf(")") + 2).split(" ") : undefined;
}

/** The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat). */
export function processStartTicks(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** This conductor's identity, to be put in each child's env under OWNER_ENV. */
export function ownerToken(pid: number = Deno.pid): string {
  return `${pid}.${processStartTicks(pid) ?? "0"}`;
}

/** The pids of a process and all its descendants, through /proc/PID/task/TID/children. */
export function processTree(root: number): number[] {
  const seen = [root];
  for (let i = 0; i < seen.length && seen.length < 4096; i++) {
    const pid = seen[i]!;
    let tasks: Iterable<Deno.DirEntry>;
    try {
      tasks = Deno.readDirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      const children = readText(`/proc/${pid}/task/${task.name}/children`);
      if (!children) continue;
      for (const child of children.trim().split(" ")) {
        const n = Number(child);
        if (n > 0 && !seen.includes(n)) seen.push(n);
      }
    }
  }
  return seen;
}

/** Resident memory of one process in bytes (0 when it is gone). */
export function rssBytes(pid: number): number {
  const status = readText(`/proc/${pid}/status`);
  const m = status && /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Resident memory of a process and its descendants, in bytes. */
export function treeRssBytes(root: number): number {
  let total = 0;
  for (const pid of processTree(root)) total += rssBytes(pid);
  return total;
}

/**
 * Kills the process groups of children whose conductor is gone: processes whose argv
 * names `bootstrapPath` and whose OWNER_ENV names a process that no longer exists (or a
 * different process with the same pid). Children of live conductors are left alone.
 * @returns the pids of the groups killed
 */
export function sweepOrphans(bootstrapPath: string): number[] {
  const killed: number[] = [];
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return killed;
  }
  for (const entry of entries) {
    const pid = Number(entry.name);
    if (!(pid > 0) || pid === Deno.pid) continue;
    const cmdline = readText(`/proc/${pid}/cmdline`);
    if (!cmdline?.includes(bootstrapPath)) continue;
    const environ = readText(`/proc/${pid}/environ`) ?? "";
    const owner = environ.split("\0").find((kv) => kv.startsWith(OWNER_ENV + "="));
    if (!owner) continue;
    const [ownerPid, ownerStart] = owner.slice(OWNER_ENV.length + 1).split(".");
    if (processStartTicks(Number(ownerPid)) === ownerStart) continue; // owner alive
    if (statFields(pid)?.[2] !== String(pid)) continue; // not a group leader we started
    killGroup(pid);
    killed.push(pid);
  }
  return killed;
}
