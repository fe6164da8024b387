/**
 * A conductor that dies without cleaning up takes its running children with it (the session
 * launcher's death signal); what is left anyway (a child's own processes, children started
 * without the launcher) is killed by the next conductor's sweep on start, which never
 * touches the children of a conductor that is alive.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { OWNER_ENV, ownerToken, spawnGroupLeader, sweepOrphans } from "../src/process_group.ts";
import { installSessionLauncher } from "../src/session_launcher.ts";
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
const waitWhile = async (check: () => boolean, ms: number) => {
  for (let waited = 0; waited < ms && check(); waited += 10) {
    await new Promise((r) => setTimeout(r, 10));
  }
};

Deno.test({
  name: "a conductor killed with SIGKILL takes its running child with it",
  ignore: Deno.build.os !== "linux" || Deno.build.arch !== "x86_64", // the launcher's platform
  fn: async () => {
    await using ts = await testSandbox();
    const crasher = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "-A", CRASHER, ts.dir, sharedDenoDir()],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = crasher.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/\n/.test(text)) text += (await reader.read()).value ?? "";
    const child = Number(text.trim());
    assert.ok(alive(child), "the crashing conductor's child runs (an endless loop)");
    crasher.kill("SIGKILL");
    await crasher.status;
    reader.releaseLock();
    await crasher.stdout.cancel().catch(() => {});
    // No sweep here: the kernel sends the child SIGKILL as its parent dies. (A sandbox of a
    // test running in parallel may sweep it too; without the death signal it would spin on.)
    await waitWhile(() => alive(child), 2000);
    assert.ok(!alive(child), "the child died with its conductor");
  },
});

Deno.test("sweepOrphans() kills the children of a conductor that died, and only those", async () => {
  await using ts = await testSandbox();
  // A live conductor's child (this process's) must survive the sweep.
  const mine = ts.sandbox.execute({
    code: "while (true) {}",
    conversationId: "mine",
    limits: { timeoutMs: 20_000 },
  });
  // An orphan as a conductor that died leaves one: the leader of its own group (a shell
  // and its sleep) whose argv names the bootstrap and whose owner token names a process that
  // is gone. Its own path, so that the sweeps of sandboxes starting in parallel leave it to
  // this one. (Started by this process, so the death signal does not end it.)
  const marker = `${ts.dir}/bootstrap.js`;
  const gone = new Deno.Command("/bin/true").spawn();
  const deadOwner = ownerToken(gone.pid);
  await gone.status;
  const orphanProcess = spawnGroupLeader("/bin/sh", {
    args: ["-c", "sleep 30; exit 0", marker],
    env: { [OWNER_ENV]: deadOwner },
    clearEnv: true,
    stdout: "null",
    stderr: "null",
  }, await installSessionLauncher(sharedDenoDir()));
  const orphan = orphanProcess.pid;
  const cmdline = () => Deno.readTextFileSync(`/proc/${orphan}/cmdline`);
  await waitWhile(() => !cmdline().includes(marker), 5000);
  assert.ok(alive(orphan) && cmdline().includes(marker), "the orphan runs");

  assert.deepEqual(sweepOrphans(marker), [orphan]);
  await orphanProcess.status;
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
