/**
 * Measuring helpers: timed loops, a bounded pool of calls in flight, the bare-spawn floor,
 * and resident memory from /proc.
 */
import { summarize, type Summary } from "./stats.ts";

/** Runs `fn` `runs` times in a row (after `warmups` untimed runs); wall ms per call. */
export async function timed(
  runs: number,
  fn: () => Promise<unknown>,
  options: { warmups?: number; gapMs?: number; samples?: boolean } = {},
): Promise<Summary & { samples?: number[] }> {
  for (let i = 0; i < (options.warmups ?? 3); i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return options.samples ? { ...summarize(samples), samples } : summarize(samples);
}

/**
 * Times `fn` and its `floor` in alternation, call for call (after warm-ups of both), so
 * that both see the same machine: a shared 2-core VM drifts by 20 % within minutes, and a
 * floor measured a minute earlier would make the ratio a measure of that drift.
 */
export async function paired(
  runs: number,
  floor: () => Promise<unknown>,
  fn: () => Promise<unknown>,
  options: { warmups?: number; gapMs?: number } = {},
): Promise<{ floor: Summary; subject: Summary }> {
  const gap = () => options.gapMs ? new Promise((r) => setTimeout(r, options.gapMs)) : undefined;
  for (let i = 0; i < (options.warmups ?? 3); i++) {
    await floor();
    await fn();
  }
  const floors: number[] = [];
  const subjects: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const [call, samples] of [[floor, floors], [fn, subjects]] as const) {
      await gap();
      const start = performance.now();
      await call();
      samples.push(performance.now() - start);
    }
  }
  return { floor: summarize(floors), subject: summarize(subjects) };
}

/**
 * For figures whose calls must follow each other with nothing between (back to back):
 * half the floor's runs before, all of `fn`'s, the other half after, which cancels a
 * steady drift of the machine.
 */
export async function bracketed(
  runs: number,
  floor: () => Promise<unknown>,
  fn: () => Promise<unknown>,
): Promise<{ floor: Summary; subject: Summary }> {
  const before = await timed(runs >> 1, floor, { samples: true });
  const subject = await timed(runs, fn);
  const after = await timed(runs - (runs >> 1), floor, { samples: true });
  return { floor: summarize([...before.samples!, ...after.samples!]), subject };
}

export interface Throughput {
  calls: number;
  inFlight: number;
  seconds: number;
  callsPerSecond: number;
  latency: Summary;
  /**
   * CPU per call in ms: of the spawning processes themselves (`pids`), and of the children
   * they reaped (`each`: of each of `pids` itself, in order). 10 ms clock ticks summed over
   * the round: about 0.1 ms resolution per call.
   */
  cpuMs: { spawner: number; children: number; each: number[] };
  /**
   * Share of the machine's CPU time that was idle during the round, in percent (all cores,
   * `/proc/stat`): with every run CPU-bound, what is idle is lost to waiting, not to work.
   */
  idlePercent: number;
}

/** Idle and total CPU time of the whole machine so far, in ticks (`/proc/stat`). */
function machineTicks(): { idle: number; total: number } {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0]!;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is inside user already)
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  return { idle: ticks[3]! + ticks[4]!, total };
}

/** The kernel's USER_HZ: /proc times are in these ticks (100 on Linux everywhere). */
const TICKS_PER_SECOND = 100;

/** CPU ms used by a process itself, and by its reaped children (/proc/PID/stat). */
export function cpuOf(pid: number): { self: number; children: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  const ms = (ticks: number) => ticks * 1000 / TICKS_PER_SECOND;
  // From field 3 on: utime, stime, cutime, cstime are fields 14-17.
  return { self: ms(f[11]! + f[12]!), children: ms(f[13]! + f[14]!) };
}

/**
 * `calls` calls of `fn`, `inFlight` at a time; calls per second, per-call latency, and CPU
 * per call of `pids` (the processes that spawn the children; this one by default).
 */
export async function throughput(
  calls: number,
  inFlight: number,
  fn: () => Promise<unknown>,
  pids: number[] = [Deno.pid],
): Promise<Throughput> {
  const latencies: number[] = [];
  let next = 0;
  const sum = (all: { self: number; children: number }[]) =>
    all.reduce((a, b) => ({ self: a.self + b.self, children: a.children + b.children }));
  const eachBefore = pids.map(cpuOf);
  const cpuBefore = sum(eachBefore);
  const machineBefore = machineTicks();
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next++ < calls) {
      const t = performance.now();
      await fn();
      latencies.push(performance.now() - t);
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  const eachAfter = pids.map(cpuOf);
  const cpuAfter = sum(eachAfter);
  const machineAfter = machineTicks();
  return {
    calls,
    inFlight,
    seconds,
    callsPerSecond: calls / seconds,
    latency: summarize(latencies),
    cpuMs: {
      spawner: (cpuAfter.self - cpuBefore.self) / calls,
      children: (cpuAfter.children - cpuBefore.children) / calls,
      each: eachAfter.map((after, i) => (after.self - eachBefore[i]!.self) / calls),
    },
    idlePercent: 100 * (machineAfter.idle - machineBefore.idle) /
      Math.max(1, machineAfter.total - machineBefore.total),
  };
}

/**
 * Throughput of `fn` against its floor in alternating rounds (floor, subject, floor, ...),
 * each round `calls` calls with `inFlight` at a time; the round with the median rate of
 * each side is reported.
 */
export async function pairedThroughput(
  rounds: number,
  calls: number,
  inFlight: number,
  floor: () => Promise<unknown>,
  fn: () => Promise<unknown>,
  pids?: number[],
): Promise<PairedThroughput> {
  const floors: Throughput[] = [];
  const subjects: Throughput[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Which goes first alternates, so that neither always runs on a warmer machine.
    const first = i % 2 ? fn : floor;
    const a = await throughput(calls, inFlight, first, first === fn ? pids : undefined);
    const b = await throughput(
      calls,
      inFlight,
      first === fn ? floor : fn,
      first === fn ? undefined : pids,
    );
    const [f, s] = first === fn ? [b, a] : [a, b];
    floors.push(f);
    subjects.push(s);
    ratios.push(s.callsPerSecond / f.callsPerSecond);
  }
  const medianRound = (all: Throughput[]) =>
    [...all].sort((a, b) => a.callsPerSecond - b.callsPerSecond)[all.length >> 1]!;
  const sorted = [...ratios].sort((a, b) => a - b);
  return {
    floor: medianRound(floors),
    subject: medianRound(subjects),
    ratio: sorted[sorted.length >> 1]!,
    ratios,
  };
}

/**
 * Rounds of a subject and its floor, alternated: the median round of each, and the median
 * of the rounds' own ratios (each round beside the floor measured next to it, so that the
 * machine's drift cancels out) with all of them.
 */
export interface PairedThroughput {
  floor: Throughput;
  subject: Throughput;
  ratio: number;
  ratios: number[];
}

/** A bare `deno run --no-prompt --no-config FILE`, its output read to the end: the floor. */
export async function bareRun(file: string, env?: Record<string, string>): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--no-config", "--cached-only", file],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(env ? { env } : {}),
  }).spawn();
  const [status] = await Promise.all([
    child.status,
    child.stdout.pipeTo(new WritableStream()),
    child.stderr.pipeTo(new WritableStream()),
  ]);
  if (!status.success) throw new Error(`bare run of ${file} failed: exit ${status.code}`);
}

/** VmRSS and VmHWM of a process, in KiB (undefined when it is gone). */
export function memoryOf(pid: number): { rssKb: number; hwmKb: number } | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? NaN);
    return { rssKb: field("VmRSS"), hwmKb: field("VmHWM") };
  } catch {
    return undefined;
  }
}

/** VmRSS of a process in KiB after half a second of quiet (garbage collected, pages settled). */
export async function settledRssKb(pid: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 500));
  return memoryOf(pid)!.rssKb;
}

/** The highest VmHWM seen for the first process matching `find` while `running` runs. */
export async function peakOf(
  find: () => number | undefined,
  running: Promise<unknown>,
): Promise<number> {
  let done = false;
  running.finally(() => done = true);
  let peak = 0;
  while (!done) {
    const pid = find();
    const hwm = pid === undefined ? undefined : memoryOf(pid)?.hwmKb;
    if (hwm && hwm > peak) peak = hwm; // a dying process has no VmHWM line: NaN

    await new Promise((r) => setTimeout(r, 5));
  }
  return peak;
}

/** Pids whose cmdline contains `needle`, children of this process. */
export function childPidsWith(needle: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === Deno.pid && Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(needle)) {
        out.push(Number(e.name));
      }
    } catch { /* gone */ }
  }
  return out;
}
