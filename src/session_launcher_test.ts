import assert from "node:assert/strict";
import { join } from "node:path";
import { CHILD_NICE, installSessionLauncher, launcherBytes } from "./session_launcher.ts";
import { spawnGroupLeader } from "./process_group.ts";

const supported = Deno.build.os === "linux" && Deno.build.arch === "x86_64";

/** pid, process group, session and nice value of a process, from its /proc stat line. */
function ids(stat: string): { pid: string; pgid: string; sid: string; nice: number } {
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return {
    pid: stat.slice(0, stat.indexOf(" ")),
    pgid: rest[2]!,
    sid: rest[3]!,
    nice: Number(rest[16]),
  };
}

async function run(argv: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

Deno.test({
  name: "the session launcher starts a program as its own session and group leader, or nothing",
  ignore: !supported,
  fn: async (t) => {
    const dir = await Deno.makeTempDir();
    try {
      const launcher = await installSessionLauncher(dir);
      assert.equal(launcher, join(dir, "conductor-session-launcher"));
      assert.equal(await Deno.stat(launcher).then((i) => i.mode! & 0o777), 0o555);

      await t.step(
        "the program runs in place as the leader of a new session and group",
        async () => {
          const { code, stdout } = await run([launcher, "/bin/cat", "/proc/self/stat"]);
          assert.equal(code, 0);
          const { pid, pgid, sid } = ids(stdout);
          assert.equal(pgid, pid);
          assert.equal(sid, pid);
          assert.notEqual(sid, ids(await Deno.readTextFile("/proc/self/stat")).sid);
        },
      );
      await t.step("the program runs at nice CHILD_NICE, never at a higher priority", async () => {
        const own = ids(await Deno.readTextFile("/proc/self/stat")).nice;
        const { code, stdout } = await run([launcher, "/bin/cat", "/proc/self/stat"]);
        assert.equal(code, 0);
        assert.equal(ids(stdout).nice, Math.max(own, CHILD_NICE));
        // Started nicer than that, it stays so (as root, setpriority could raise it).
        const nicer = await run(["nice", "-n", "19", launcher, "/bin/cat", "/proc/self/stat"]);
        assert.equal(ids(nicer.stdout).nice, 19);
      });
      await t.step("argv and env reach the program exactly, and nothing else", async () => {
        const args = ["a b", "", "--", "é\n"];
        const printArgs = await run([
          launcher,
          "/bin/sh",
          "-c",
          'printf "%s|" "$@"',
          "sh",
          ...args,
        ]);
        assert.equal(printArgs.stdout, args.map((a) => `${a}|`).join(""));
        const env = await run([launcher, "/usr/bin/env"], { ONLY: "this one", EMPTY: "" });
        assert.deepEqual(env.stdout.trim().split("\n").sort(), ["EMPTY=", "ONLY=this one"]);
      });
      await t.step("a failure runs nothing and exits 127", async () => {
        assert.equal((await run([launcher])).code, 127, "no program");
        assert.equal((await run([launcher, join(dir, "missing")])).code, 127, "missing program");
        // A session leader cannot call setsid again: the inner launcher must refuse to run.
        const nested = await run([launcher, launcher, "/bin/echo", "ran"]);
        assert.equal(nested.code, 127);
        assert.equal(nested.stdout, "");
      });
      await t.step(
        "spawnGroupLeader uses it, and a group kill reaches the grandchildren",
        async () => {
          const child = spawnGroupLeader("/bin/sh", {
            args: ["-c", "sleep 30 & echo $!; wait"],
            stdout: "piped",
          }, launcher);
          const reader = child.stdout.getReader();
          const grandchild = Number(new TextDecoder().decode((await reader.read()).value).trim());
          assert.equal(
            ids(await Deno.readTextFile(`/proc/${grandchild}/stat`)).pgid,
            String(child.pid),
          );
          Deno.kill(-child.pid, "SIGKILL");
          await child.status;
          reader.releaseLock();
          await child.stdout.cancel();
          await new Promise((r) => setTimeout(r, 100));
          const state = await Deno.readTextFile(`/proc/${grandchild}/stat`).then(
            (s) => s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3),
            () => "gone",
          );
          assert.ok(state === "gone" || state === "Z", `grandchild state ${state}`);
        },
      );
      await t.step("the program dies with the process that started it (SIGKILL)", async () => {
        // A stand-in for the conductor: a shell that starts a long sleep through the launcher.
        const parent = new Deno.Command("/bin/sh", {
          args: ["-c", `"$0" /bin/sleep 30 & echo $!; wait`, launcher],
          stdout: "piped",
        }).spawn();
        const reader = parent.stdout.getReader();
        const sleeper = Number(new TextDecoder().decode((await reader.read()).value).trim());
        const running = async () => {
          const stat = await Deno.readTextFile(`/proc/${sleeper}/stat`).catch(() => "");
          return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
        };
        // Until the launcher has exec'd the sleep (its own argv names the sleep too): the death
        // signal is set before that.
        const program = async () =>
          (await Deno.readTextFile(`/proc/${sleeper}/cmdline`).catch(() => "")).split("\0")[0];
        for (let i = 0; i < 200 && await program() !== "/bin/sleep"; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.ok(await running(), "the sleep runs while its parent lives");
        parent.kill("SIGKILL");
        await parent.status;
        reader.releaseLock();
        await parent.stdout.cancel();
        for (let i = 0; i < 200 && await running(); i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.ok(!(await running()), "the sleep died with its parent");
      });
      await t.step("a file that differs is replaced; one that is right is kept", async () => {
        await Deno.chmod(launcher, 0o755);
        await Deno.writeTextFile(launcher, "#!/bin/sh\necho tampered\n");
        assert.equal(await installSessionLauncher(dir), launcher);
        assert.deepEqual(await Deno.readFile(launcher), launcherBytes());
        const before = (await Deno.stat(launcher)).mtime;
        assert.equal(await installSessionLauncher(dir), launcher);
        assert.deepEqual((await Deno.stat(launcher)).mtime, before);
      });
      await t.step("a symlink, extra bits or a second name in its place are replaced", async () => {
        const elsewhere = join(dir, "elsewhere");
        await Deno.writeFile(elsewhere, launcherBytes(), { mode: 0o555 });
        for (
          const plant of [
            () => Deno.symlink(elsewhere, launcher),
            () => Deno.link(elsewhere, launcher),
            async () => {
              await Deno.writeFile(launcher, launcherBytes());
              await Deno.chmod(launcher, 0o4555);
            },
          ]
        ) {
          await Deno.remove(launcher);
          await plant();
          assert.equal(await installSessionLauncher(dir), launcher);
          const info = await Deno.lstat(launcher);
          assert.ok(info.isFile && info.nlink === 1 && (info.mode! & 0o7777) === 0o555);
        }
      });
      await t.step("installs racing in one folder all end with the launcher", async () => {
        const fresh = join(dir, "race");
        await Deno.mkdir(fresh);
        const paths = await Promise.all(
          Array.from({ length: 8 }, () => installSessionLauncher(fresh)),
        );
        assert.deepEqual(new Set(paths), new Set([join(fresh, "conductor-session-launcher")]));
        assert.deepEqual([...Deno.readDirSync(fresh)].map((e) => e.name), [
          "conductor-session-launcher",
        ]);
      });
      await t.step("spawnGroupLeader falls back to setsid when the launcher is gone", async () => {
        const child = spawnGroupLeader("/bin/cat", {
          args: ["/proc/self/stat"],
          stdout: "piped",
        }, join(dir, "deleted-launcher"));
        const { pid, pgid, sid } = ids(new TextDecoder().decode((await child.output()).stdout));
        assert.deepEqual([pgid, sid], [pid, pid]);
      });
      await t.step("where it cannot be installed, there is none (callers use setsid)", async () => {
        const blocked = join(dir, "blocked");
        await Deno.mkdir(join(blocked, "conductor-session-launcher", "x"), { recursive: true });
        assert.equal(await installSessionLauncher(blocked), undefined);
        assert.deepEqual([...Deno.readDirSync(blocked)].map((e) => e.name), [
          "conductor-session-launcher",
        ]);
        const notAFolder = join(dir, "file");
        await Deno.writeTextFile(notAFolder, "");
        assert.equal(await installSessionLauncher(notAFolder), undefined);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the session launcher is a static x86-64 ELF executable whose entry is its code", () => {
  const bytes = launcherBytes();
  const view = new DataView(bytes.buffer);
  assert.deepEqual([...bytes.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  assert.equal(view.getUint16(18, true), 0x3e);
  const entry = Number(view.getBigUint64(24, true)) - 0x400000;
  assert.equal(entry, 64 + 2 * 56);
  // Two program headers: the code, loaded read + execute (PT_LOAD = 1, flags 5), and the
  // stack, read + write only (PT_GNU_STACK, flags 6). No interpreter (PT_INTERP = 3).
  const headers = Array.from({ length: view.getUint16(56, true) }, (_, i) => ({
    type: view.getUint32(64 + i * 56, true),
    flags: view.getUint32(64 + i * 56 + 4, true),
  }));
  assert.deepEqual(headers, [{ type: 1, flags: 5 }, { type: 0x6474e551, flags: 6 }]);
});
