/**
 * A conductor that crashed leaves children running; the next conductor kills them on
 * start, and never touches the children of a conductor that is alive.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { BOOTSTRAP_PATH } from "../src/execution_plan.ts";
import { sweepOrphans } from "../src/process_group.ts";
import { sharedDenoDir, testSandbox } from "./helpers.ts";

const CRASHER = fileURLToPath(new URL("./fixtures/crashing_conductor.ts", import.meta.url));
const alive = (pid: number) => {
  try {
    const state = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]?.[0];
    return state !== undefined && state !== "Z";
  } catch {
    return false;
  }
};

Deno.test("sweepOrphans() kills the children of a conductor that died, and only those", async () => {
  await using ts = await testSandbox();
  // A live conductor's child (this process's) must survive the sweep.
  const mine = ts.sandbox.execute({
    code: "while (true) {}",
    conversationId: "mine",
    limits: { timeoutMs: 20_000 },
  });

  const crasher = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "-A", CRASHER, ts.dir, sharedDenoDir()],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = crasher.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/\n/.test(text)) text += (await reader.read()).value ?? "";
  const orphan = Number(text.trim());
  assert.ok(alive(orphan), "the crashing conductor's child runs");
  crasher.kill("SIGKILL");
  await crasher.status;
  reader.releaseLock();
  await crasher.stdout.cancel().catch(() => {});
  // Killing the conductor does not kill its child: it is orphaned, until a sweep. (Tests run
  // in parallel, and every sandbox that starts sweeps: another one may get there first.)
  const orphaned = alive(orphan);
  const killed = sweepOrphans(BOOTSTRAP_PATH);
  if (orphaned && alive(orphan)) {
    assert.ok(killed.includes(orphan), `swept ${JSON.stringify(killed)}`);
  }
  for (let i = 0; i < 50 && alive(orphan); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(!alive(orphan), "the orphan is gone");

  await new Promise((r) => setTimeout(r, 100));
  const mineRunning = [...Deno.readDirSync("/proc")].some((e) => {
    try {
      return Deno.readLinkSync(`/proc/${e.name}/cwd`).startsWith(`${ts.dir}/mine`);
    } catch {
      return false;
    }
  });
  assert.ok(mineRunning, "this conductor's running child was left alone");
  for (const e of Deno.readDirSync("/proc")) {
    try {
      if (Deno.readLinkSync(`/proc/${e.name}/cwd`).startsWith(`${ts.dir}/mine`)) {
        Deno.kill(-Number(e.name), "SIGKILL");
      }
    } catch { /* gone */ }
  }
  assert.equal((await mine).status, "error");
});
