/**
 * `deno task bench`: every figure beside its floor, measured in the same run, with the
 * ratio and the target. Writes the same figures to bench/results/latest.json.
 *
 * Each ratio's floor is measured in alternation with its figure, call for call (or round
 * for round for throughput): this machine's speed drifts by 20 % within minutes.
 *
 * Floors: a bare `deno run --no-prompt` of the same code spawned from Deno (latency,
 * throughput, memory), a bare run importing the same cached npm package, a direct SDK
 * client call to the same upstream (code mode), and, for MCP throughput beside the bare
 * floor, an SDK server that spawns bare runs (`mcp_floor_server.ts`: what MCP itself costs
 * on the same cores, apart from the sandbox). Throughput rounds also show where the CPU
 * went per call: the conductor (with the MCP client, over MCP) and its children, beside the
 * bare spawner and its children.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { resolveConfig } from "../src/config.ts";
import { BOOTSTRAP_PATH } from "../src/execution_plan.ts";
import { installDependencies } from "../src/installer.ts";
import { Sandbox } from "../src/sandbox.ts";
import { openWorkspace, packageCacheDir } from "../src/workspace.ts";
import {
  bareRun,
  bracketed,
  childPidsWith,
  memoryOf,
  paired,
  type PairedThroughput,
  pairedThroughput,
  peakOf,
  settledRssKb,
  type Throughput,
  throughput,
  timed,
} from "./measure.ts";
import { roundDeep, type Summary } from "./stats.ts";
import { fixtureUpstream } from "../tests/fixtures/upstream.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "40" }, quick: { type: "boolean", default: false } },
});
const RUNS = Number(values.runs);
const MANY = values.quick ? 100 : 1000;
/** Throughput: alternating rounds of the subject and its floor, and calls per round. */
const TP_ROUNDS = values.quick ? 3 : 7;
const TP_CALLS = values.quick ? 40 : 100;
const GAP_MS = 30; // think time between calls, as an assistant has (and much more)
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text));
const note = (text: string) => Deno.stderr.writeSync(encoder.encode(`bench: ${text}\n`));

interface Row {
  figure: string;
  median: number;
  p95?: number;
  floor?: number;
  ratio?: number;
  target?: string;
  unit: string;
  /** The lowest and highest ratio over a figure's rounds (throughput). */
  spread?: [number, number];
}
const rows: Row[] = [];
const results: Record<string, unknown> = {};

/** A figure measured in alternation with its floor (see `paired`). */
function pairedRow(
  figure: string,
  pair: { floor: Summary; subject: Summary },
  target?: string,
): void {
  latencyRow(figure, pair.subject, pair.floor, target);
}

function latencyRow(figure: string, s: Summary, floor?: Summary, target?: string): void {
  const row: Row = { figure, median: s.median, p95: s.p95, unit: "ms" };
  if (floor) Object.assign(row, { floor: floor.median, ratio: s.median / floor.median });
  if (target) row.target = target;
  rows.push(row);
  results[figure] = {
    ...s,
    ...(floor ? { floorMedian: floor.median, ratio: s.median / floor.median } : {}),
  };
}

/** A throughput figure: the median round beside the floor's, the median ratio of rounds. */
function throughputRow(figure: string, pair: PairedThroughput, target?: string): void {
  rows.push({
    figure,
    median: pair.subject.callsPerSecond,
    floor: pair.floor.callsPerSecond,
    ratio: pair.ratio,
    spread: [Math.min(...pair.ratios), Math.max(...pair.ratios)],
    unit: "calls/s",
    ...(target ? { target } : {}),
  });
}

/**
 * Where a throughput round's CPU went, per call, beside the bare spawner's: the processes
 * that plan and spawn (`spawner`), and the sandbox children they reaped; and how much of
 * the machine stayed idle (CPU no run could use: a starved pipeline, not a slow one).
 * `each`: names of the spawning processes, for a row of each one's own share.
 */
function cpuRows(
  label: string,
  pair: { floor: Throughput; subject: Throughput },
  spawner: string,
  each: string[] = [],
): void {
  const { floor, subject } = pair;
  for (const [part, name] of [["spawner", spawner], ["children", "children"]] as const) {
    rows.push({
      figure: `${label}: CPU per call, ${name}`,
      median: subject.cpuMs[part],
      floor: floor.cpuMs[part],
      ratio: subject.cpuMs[part] / floor.cpuMs[part],
      unit: "ms",
    });
  }
  each.forEach((name, i) =>
    rows.push({
      figure: `${label}: CPU per call, ${name}`,
      median: subject.cpuMs.each[i]!,
      unit: "ms",
    })
  );
  rows.push({
    figure: `${label}: machine idle`,
    median: subject.idlePercent,
    floor: floor.idlePercent,
    unit: "%",
  });
}

const dir = await Deno.makeTempDir({ prefix: "conductor-bench-" });
const one = join(dir, "one.ts");
await Deno.writeTextFile(one, "1+1\n");
// The default configuration, audit log included: what a user runs.
const baseConfig = { workspacesDir: join(dir, "ws") };
const config = resolveConfig(baseConfig);
const cold = new Sandbox(config);
await cold.init();
const ok = async (p: ReturnType<Sandbox["execute"]>) => {
  const r = await p;
  if (r.status !== "success") {
    throw new Error(`bench run failed: ${JSON.stringify(r).slice(0, 500)}`);
  }
  return r;
};

// 1. Floor and the library API, cold and prewarmed. Every ratio's floor is measured in
// alternation with it; the prewarmed figures leave the think time an assistant leaves
// between calls (GAP_MS) before each call, floor and subject alike.
note("floor and library API");
const bare = () => bareRun(one);
latencyRow("bare deno run 1+1 (floor)", await timed(RUNS, bare));
pairedRow(
  "library, cold, same conversation",
  await paired(RUNS, bare, () => ok(cold.execute({ code: "1+1", conversationId: "b" }))),
  "<= 1.10x",
);
pairedRow(
  "library, cold, new conversation",
  await paired(RUNS, bare, () => ok(cold.execute({ code: "1+1" }, { ephemeral: true }))),
);
const warm = new Sandbox(config, { prewarm: true });
await warm.init();
pairedRow(
  "library, prewarmed, same conversation",
  await paired(RUNS, bare, () => ok(warm.execute({ code: "1+1", conversationId: "w" })), {
    gapMs: GAP_MS,
  }),
  "<= 0.25x",
);
await warm.refill();
pairedRow(
  "library, prewarmed, new conversation",
  await paired(RUNS, bare, () => ok(warm.execute({ code: "1+1" })), { gapMs: GAP_MS }),
  "<= 0.25x",
);
pairedRow(
  "library, prewarmed, back to back (no gap)",
  await bracketed(RUNS, bare, () => ok(warm.execute({ code: "1+1", conversationId: "w2" }))),
);

// 2. Throughput with 8 in flight: alternating rounds of each; the ratio is the median of
// the rounds' own ratios, the spread their lowest and highest.
note("throughput");
const libTp = await pairedThroughput(
  TP_ROUNDS,
  TP_CALLS,
  8,
  bare,
  () => ok(warm.execute({ code: "1+1" })),
);
const bareTp = libTp.floor;
rows.push({ figure: "bare, 8 in flight (floor)", median: bareTp.callsPerSecond, unit: "calls/s" });
throughputRow("library, 8 in flight", libTp, ">= 0.90x");
cpuRows("library, 8 in flight", libTp, "conductor");
// Under load the pool must never be slower than cold spawning: the same load with the
// pool off is the floor here.
const poolTp = await pairedThroughput(
  TP_ROUNDS,
  TP_CALLS,
  8,
  () => ok(cold.execute({ code: "1+1" })),
  () => ok(warm.execute({ code: "1+1" })),
);
throughputRow("library, 8 in flight, prewarm on vs off", poolTp, ">= 1.00x (about)");
// Its idle children would otherwise die (expire) during the MCP rounds, which count this
// process's CPU and children too.
await warm.close();
results.throughput = { bare: bareTp, library: libTp.subject, prewarmOff: poolTp.floor };

// The CLI end to end: a developer's `conductor exec -e "1+1"` (start-up, config, one run).
const cliExec = async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-all", MAIN, "exec", "--config", cliConfig, "-e", "1+1"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!out.success) throw new Error(`conductor exec failed: exit ${out.code}`);
};
const cliConfig = join(dir, "cli.jsonc");
await Deno.writeTextFile(
  cliConfig,
  JSON.stringify({ ...baseConfig, workspacesDir: join(dir, "cli-ws") }),
);
pairedRow("CLI conductor exec -e 1+1, end to end", await paired(10, bare, cliExec));

// 3. Child memory.
note("child memory");
const sleeper = join(dir, "sleep.ts");
await Deno.writeTextFile(sleeper, "await new Promise((r) => setTimeout(r, 300));\n");
const bareChild = new Deno.Command(Deno.execPath(), {
  args: ["run", "--no-prompt", "--no-config", sleeper],
  stdout: "null",
  stderr: "null",
}).spawn();
const bareDone = bareChild.status;
const barePeak = await peakOf(() => bareChild.pid, bareDone);
const boxPeak = await peakOf(
  () => childPidsWith(BOOTSTRAP_PATH)[0],
  ok(
    cold.execute({ code: "await new Promise((r) => setTimeout(r, 300)); 1", conversationId: "m" }),
  ),
);
rows.push({
  figure: "child peak RSS",
  median: boxPeak / 1024,
  floor: barePeak / 1024,
  ratio: boxPeak / barePeak,
  unit: "MB",
});
results.childPeakRssKb = { sandbox: boxPeak, bare: barePeak };

// 4. npm: a cached package, and a repeated install.
note("npm import (installs npm:is-number@7.0.0 once)");
const ws = await openWorkspace(config.workspacesDir, "npm");
const installed = await installDependencies(config, ws, ["npm:is-number@7.0.0"]);
if (installed.status !== "installed" && installed.status !== "skipped") {
  note(`npm figures skipped: ${installed.message}`);
} else {
  const importer = join(dir, "npm.ts");
  await Deno.writeTextFile(importer, 'import isNumber from "npm:is-number@7.0.0";\nisNumber(1);\n');
  const env = {
    PATH: Deno.env.get("PATH") ?? "",
    // The workspace's own cache, where its install put the package.
    DENO_DIR: packageCacheDir(ws),
    NPM_CONFIG_REGISTRY: config.npmRegistry,
  };
  const npm = await paired(RUNS, () => bareRun(importer, env), () =>
    ok(
      cold.execute({
        code: 'import isNumber from "is-number";\nisNumber(1)',
        conversationId: "npm",
      }),
    ));
  latencyRow("bare run importing a cached npm package (floor)", npm.floor);
  pairedRow("library, cold, importing it", npm);
  const skip = await timed(RUNS, async () => {
    const r = await installDependencies(config, ws, ["npm:is-number@7.0.0"]);
    if (r.status !== "skipped") throw new Error(`expected skipped, got ${r.status}`);
  });
  latencyRow("repeated install (skipped, no child)", skip, undefined, "< 5 ms");
}

// 5. MCP over stdio with the SDK client.
note("MCP stdio");
/** The conductor's MCP server, or `program` (the MCP floor), started as README.md says. */
async function startServer(program?: string[]) {
  const configPath = join(dir, "conductor.jsonc");
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({ ...baseConfig, workspacesDir: join(dir, "mcp-ws") }),
  );
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    // The launch flags of README.md and .cursor/mcp.json.
    args: [
      "run",
      "--no-prompt",
      "--allow-all",
      "--v8-flags=--max-semi-space-size=4,--no-concurrent-recompilation,--optimize-for-size,--max-opt=2",
      ...(program ?? [MAIN, "serve", "--config", configPath]),
    ],
    stderr: "ignore",
  });
  const client = new Client({ name: "bench", version: "1" });
  const start = performance.now();
  await client.connect(transport);
  return { client, transport, ms: performance.now() - start };
}
const startups: number[] = [];
for (let i = 0; i < 5; i++) {
  const s = await startServer();
  startups.push(s.ms);
  await s.client.close();
}
startups.sort((a, b) => a - b);
rows.push({
  figure: "MCP server startup + initialize",
  median: startups[2]!,
  unit: "ms",
  target: "< 200 ms",
});
results.mcpStartupMs = startups;
const mcp = await startServer();
const pid = mcp.transport.pid!;
const call = (code: string, conversationId?: string) =>
  mcp.client.callTool({
    name: "run_deno_code",
    arguments: { code, ...(conversationId ? { conversationId } : {}) },
  });
await new Promise((r) => setTimeout(r, 300));
const idleRss = memoryOf(pid)!.rssKb;
pairedRow(
  "MCP run_deno_code, sequential, prewarmed",
  await paired(RUNS, bare, () => call("1+1", "mcp"), { gapMs: GAP_MS }),
  "<= 0.30x",
);
pairedRow(
  "MCP run_deno_code, back to back",
  await bracketed(RUNS, bare, () => call("1+1", "mcp2")),
  "<= 1.15x",
);
for (const inFlight of [2, 8]) {
  let peak = 0;
  const sampler = setInterval(() => peak = Math.max(peak, memoryOf(pid)?.rssKb ?? 0), 20);
  // The client's CPU (this process) counts with the server's: the floor has neither.
  const pair = await pairedThroughput(
    TP_ROUNDS,
    TP_CALLS,
    inFlight,
    bare,
    () => call("1+1"),
    [Deno.pid, pid],
  );
  clearInterval(sampler);
  const [tp, floorTp] = [pair.subject, pair.floor];
  throughputRow(`MCP, ${inFlight} in flight`, pair, inFlight === 8 ? ">= 0.90x" : undefined);
  latencyRow(`MCP, ${inFlight} in flight, latency`, tp.latency, floorTp.latency);
  if (inFlight === 8) {
    cpuRows("MCP, 8 in flight", pair, "server + client", ["client (this process)", "server"]);
  }
  results[`mcpPeakRssKb${inFlight}`] = peak;
}
// The same load against the MCP floor: what the sandbox costs beyond MCP itself.
const floorServer = await startServer([
  fileURLToPath(new URL("./mcp_floor_server.ts", import.meta.url)),
  one,
]);
const floorCall = () =>
  floorServer.client.callTool({ name: "run_deno_code", arguments: { code: "1+1" } });
const overFloor = await pairedThroughput(TP_ROUNDS, TP_CALLS, 8, floorCall, () => call("1+1"));
await floorServer.client.close();
rows.push({
  figure: "MCP floor: SDK server spawning bare, 8 in flight",
  median: overFloor.floor.callsPerSecond,
  unit: "calls/s",
});
throughputRow("MCP, 8 in flight, vs the MCP floor", overFloor);
await mcp.client.close();

// Memory of a fresh server: after 10 executions, then after MANY and 2 x MANY more (8 in
// flight). Growth past the first MANY would be a leak; up to it, warm-up.
note(`MCP: ${2 * MANY} executions on a fresh server for the memory figures`);
const fresh = await startServer();
const freshPid = fresh.transport.pid!;
const freshCall = () =>
  fresh.client.callTool({ name: "run_deno_code", arguments: { code: "1+1" } });
const settledRss = () => settledRssKb(freshPid);
await throughput(10, 2, freshCall);
const rssAfter10 = await settledRss();
await throughput(MANY - 10, 8, freshCall);
const rssAfterMany = await settledRss();
await throughput(MANY, 8, freshCall);
const rssAfterTwice = await settledRss();
await fresh.client.close();
rows.push({ figure: "MCP server RSS idle", median: idleRss / 1024, unit: "MB" });
rows.push({
  figure: "MCP server RSS under 8 in flight (peak)",
  median: (results.mcpPeakRssKb8 as number) / 1024,
  unit: "MB",
});
rows.push({
  figure: `MCP server RSS after ${MANY} executions`,
  median: rssAfterMany / 1024,
  floor: rssAfter10 / 1024,
  ratio: rssAfterMany / rssAfter10,
  target: "<= 1.10x of after 10",
  unit: "MB",
});
// The floor: a bare Deno process spawning as many plain children grows too (its spawn and
// pipe machinery warming up), so the same ratio is shown for it.
const floorOut = await new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--no-prompt",
    "--allow-all",
    "--v8-flags=--max-semi-space-size=4,--no-concurrent-recompilation,--optimize-for-size,--max-opt=2",
    fileURLToPath(new URL("./spawn_floor.ts", import.meta.url)),
    one,
    String(MANY),
  ],
  stderr: "inherit",
}).output();
const spawnFloor = JSON.parse(new TextDecoder().decode(floorOut.stdout)) as {
  after10: number;
  afterMany: number;
};
rows.push({
  figure: `bare Deno spawner RSS after ${MANY} children`,
  median: spawnFloor.afterMany / 1024,
  floor: spawnFloor.after10 / 1024,
  ratio: spawnFloor.afterMany / spawnFloor.after10,
  target: "(floor: vs after 10)",
  unit: "MB",
});
rows.push({
  figure: `MCP server RSS after ${2 * MANY} executions`,
  median: rssAfterTwice / 1024,
  floor: rssAfterMany / 1024,
  ratio: rssAfterTwice / rssAfterMany,
  target: `growth vs after ${MANY}`,
  unit: "MB",
});
results.spawnFloorRssKb = spawnFloor;
results.mcpRssKb = {
  idle: idleRss,
  after10: rssAfter10,
  [`after${MANY}`]: rssAfterMany,
  [`after${2 * MANY}`]: rssAfterTwice,
};

// 6. Code mode: a tool call round trip from sandboxed code, against a direct SDK call.
note("code mode");
const upstream = fixtureUpstream("github");
const codeMode = new Sandbox(resolveConfig({ ...baseConfig, mcpServers: { github: upstream } }));
await codeMode.init();
const N = RUNS * 2;
const inChild = await ok(codeMode.execute({
  code: `const ms = []; for (let i = 0; i < ${
    N + 5
  }; i++) { const t = performance.now(); await tools.github.get_issue({ id: 1 }); ms.push(performance.now() - t); } ms.slice(5)`,
  allowedTools: ["github.get_issue"],
}));
const { summarize } = await import("./stats.ts");
const bridged = summarize(inChild.returnValue as number[]);
const direct = new Client({ name: "bench-direct", version: "1" });
await direct.connect(new StdioClientTransport(upstream));
const directCall = await timed(
  N,
  () => direct.callTool({ name: "get_issue", arguments: { id: 1 } }),
);
await direct.close();
await codeMode.close();
latencyRow("direct SDK tool call (floor)", directCall);
latencyRow("tool call from sandboxed code", bridged, directCall);
rows.push({
  figure: "bridge overhead per tool call",
  median: bridged.median - directCall.median,
  unit: "ms",
  target: "< 2 ms",
});

await cold.close();
await Deno.remove(dir, { recursive: true }).catch(() => {});

// Report.
const fmt = (n: number | undefined, digits = 1) => n === undefined ? "" : n.toFixed(digits);
const header = ["figure", "median", "p95", "unit", "floor", "ratio", "rounds", "target"];
const table = rows.map((r) => [
  r.figure,
  fmt(r.median),
  fmt(r.p95),
  r.unit,
  fmt(r.floor),
  r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`,
  r.spread ? `${r.spread[0].toFixed(2)}-${r.spread[1].toFixed(2)}` : "",
  r.target ?? "",
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  ");
out(
  `\nMCP Conductor bench (Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ${RUNS} runs per figure)\n\n`,
);
out(line(header) + "\n" + widths.map((w) => "-".repeat(w)).join("  ") + "\n");
for (const row of table) out(line(row) + "\n");
const file = fileURLToPath(new URL("./results/latest.json", import.meta.url));
await Deno.mkdir(fileURLToPath(new URL("./results/", import.meta.url)), { recursive: true });
await Deno.writeTextFile(
  file,
  JSON.stringify(
    roundDeep({
      date: new Date().toISOString(),
      deno: Deno.version.deno,
      runs: RUNS,
      rows,
      results,
    }),
    null,
    2,
  ) + "\n",
);
out(`\nwritten: ${file}\n`);
