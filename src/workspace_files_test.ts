import assert from "node:assert/strict";
import { join } from "node:path";
import { openWorkspace, QUOTA_ENTRY_BYTES, type Workspace } from "./workspace.ts";
import {
  listWorkspaceFiles,
  printablePath,
  readWorkspaceFile,
  resolveFilePath,
  WorkspaceFileError,
  writeWorkspaceFile,
} from "./workspace_files.ts";

/** A workspace in a fresh temporary folder, and a folder outside it holding a secret. */
async function tempWorkspace() {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "conductor-files-test-" }));
  await Deno.mkdir(join(root, "workspaces"));
  const outside = join(root, "outside");
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(outside, "secret.txt"), "outside secret");
  const ws: Workspace = await openWorkspace(join(root, "workspaces"), "c1");
  return {
    ws,
    outside,
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

const BIG = { quotaBytes: 1024 * 1024 };

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

function isFileError(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof WorkspaceFileError, String(error));
    assert.match(error.message, pattern);
    return true;
  };
}

Deno.test("resolveFilePath() resolves relative paths inside files/", async (t) => {
  await using w = await tempWorkspace();
  const cases: [string, string][] = [
    ["a.txt", "a.txt"],
    ["sub/dir/b.bin", "sub/dir/b.bin"],
    ["./a.txt", "a.txt"],
    ["sub/../a.txt", "a.txt"],
    ["sub//a.txt", "sub/a.txt"],
    ["..a", "..a"],
  ];
  for (const [path, expected] of cases) {
    await t.step(path, async () => {
      assert.equal(await resolveFilePath(w.ws, path), join(w.ws.filesDir, expected));
    });
  }
});

Deno.test("resolveFilePath() refuses traversal, NUL, empty and oversized paths", async (t) => {
  await using w = await tempWorkspace();
  const cases: [string, unknown, RegExp][] = [
    ["parent", "..", /outside the workspace's files folder/],
    ["traversal", "../x", /outside the workspace's files folder/],
    ["into meta/", "../meta/state.json", /outside the workspace's files folder/],
    ["deep traversal", "a/b/../../../../etc/passwd", /outside the workspace's files folder/],
    ["NUL", "a\0.txt", /Invalid path/],
    ["NUL after a good name", "a.txt\0../../x", /Invalid path/],
    ["empty", "", /Invalid path/],
    ["over 1024 characters", "a/".repeat(600), /Invalid path/],
    ["not a string", 42, /Invalid path/],
    ["undefined", undefined, /Invalid path/],
  ];
  for (const [name, path, message] of cases) {
    await t.step(name, async () => {
      await assert.rejects(() => resolveFilePath(w.ws, path), isFileError(message));
    });
  }
});

Deno.test("an absolute path never reaches the host file it names", async () => {
  await using w = await tempWorkspace();
  const target = join(w.outside, "planted.txt");
  // Refused, or kept inside files/: either way the host path is untouched.
  await writeWorkspaceFile(w.ws, target, "x", BIG).catch((e) => {
    assert.ok(e instanceof WorkspaceFileError, String(e));
  });
  assert.equal(await exists(target), false);
  const read = await readWorkspaceFile(w.ws, join(w.outside, "secret.txt"), { maxBytes: 1024 })
    .catch((e) => {
      assert.ok(e instanceof WorkspaceFileError, String(e));
      return undefined;
    });
  assert.notEqual(read?.content, "outside secret");
});

Deno.test("resolveFilePath() refuses an absolute path outside files/ and takes one inside as is", async () => {
  await using w = await tempWorkspace();
  await assert.rejects(
    () => resolveFilePath(w.ws, "/etc/passwd"),
    isFileError(/outside the workspace's files folder/),
  );
  await assert.rejects(
    () => resolveFilePath(w.ws, join(w.outside, "secret.txt")),
    isFileError(/outside the workspace's files folder/),
  );
  const inside = join(w.ws.filesDir, "a.txt");
  assert.equal(await resolveFilePath(w.ws, inside), inside);
});

Deno.test("a symlink planted in files/ is refused on the way and at the end, for read and write", async (t) => {
  await using w = await tempWorkspace();
  const files = w.ws.filesDir;
  await Deno.mkdir(join(files, "real"));
  await Deno.writeTextFile(join(files, "real", "ok.txt"), "ok");
  await Deno.symlink(w.outside, join(files, "dirlink"));
  await Deno.symlink(join(w.outside, "secret.txt"), join(files, "filelink"));
  await Deno.symlink(join(w.outside, "created-through-link"), join(files, "dangling"));
  await Deno.mkdir(join(files, "real", "deeper"));
  await Deno.symlink(w.outside, join(files, "real", "deeper", "up"));

  await t.step("the allowed case: a real folder resolves and reads", async () => {
    assert.equal(await resolveFilePath(w.ws, "real/ok.txt"), join(files, "real", "ok.txt"));
    assert.equal((await readWorkspaceFile(w.ws, "real/ok.txt", { maxBytes: 100 })).content, "ok");
  });
  const refused: [string, string, string][] = [
    ["a symlinked folder on the way", "dirlink/secret.txt", "dirlink"],
    ["a symlinked folder, new file below it", "dirlink/new.txt", "dirlink"],
    ["a symlinked file", "filelink", "filelink"],
    ["a dangling symlink", "dangling", "dangling"],
    ["a symlink deeper down", "real/deeper/up/secret.txt", "real/deeper/up"],
  ];
  for (const [name, path, link] of refused) {
    await t.step(name, async () => {
      const message = new RegExp(`Refusing path "${path}": "${link}" is a symlink`);
      await assert.rejects(() => resolveFilePath(w.ws, path), isFileError(message));
      await assert.rejects(
        () => readWorkspaceFile(w.ws, path, { maxBytes: 1024 }),
        isFileError(message),
      );
      await assert.rejects(
        () => writeWorkspaceFile(w.ws, path, "overwritten", BIG),
        isFileError(message),
      );
    });
  }
  await t.step("nothing outside was read into or written", async () => {
    assert.equal(await Deno.readTextFile(join(w.outside, "secret.txt")), "outside secret");
    assert.deepEqual([...Deno.readDirSync(w.outside)].map((e) => e.name), ["secret.txt"]);
  });
});

Deno.test("writeWorkspaceFile() writes text and creates parent folders", async () => {
  await using w = await tempWorkspace();
  assert.equal(await writeWorkspaceFile(w.ws, "a/b/c.txt", "h\u00e9llo", BIG), 6);
  assert.equal(await Deno.readTextFile(join(w.ws.filesDir, "a", "b", "c.txt")), "h\u00e9llo");
  assert.equal(await writeWorkspaceFile(w.ws, "a/b/c.txt", "", BIG), 0);
  assert.equal(await Deno.readTextFile(join(w.ws.filesDir, "a", "b", "c.txt")), "");
  await assert.rejects(
    () => writeWorkspaceFile(w.ws, "x.txt", 42, BIG),
    isFileError(/Invalid content: expected a string/),
  );
  await assert.rejects(
    () => writeWorkspaceFile(w.ws, "x.bin", "not base64!", { ...BIG, encoding: "base64" }),
    isFileError(/Invalid content for "x.bin": not valid base64/),
  );
  assert.equal(await exists(join(w.ws.filesDir, "x.txt")), false);
  assert.equal(await exists(join(w.ws.filesDir, "x.bin")), false);
});

Deno.test("writeWorkspaceFile() refuses to go over the quota with a clear error, writing nothing", async () => {
  await using w = await tempWorkspace();
  // Each file or folder also costs QUOTA_ENTRY_BYTES: room for two files and 100 bytes.
  const E = QUOTA_ENTRY_BYTES;
  const quota = { quotaBytes: 100 + 2 * E };
  assert.equal(await writeWorkspaceFile(w.ws, "a.txt", "x".repeat(60), quota), 60);
  assert.equal(await writeWorkspaceFile(w.ws, "b.txt", "y".repeat(40), quota), 40);
  await assert.rejects(
    () => writeWorkspaceFile(w.ws, "dir/c.txt", "z", quota),
    isFileError(
      new RegExp(
        `^Cannot write "dir/c\\.txt": the workspace would hold ${
          101 + 2 * E
        } bytes, over its quota of ${100 + 2 * E}$`,
      ),
    ),
  );
  assert.equal(await exists(join(w.ws.filesDir, "dir", "c.txt")), false);
  assert.equal(await exists(join(w.ws.filesDir, "dir")), false);
  // Replacing a file counts its new size only.
  assert.equal(await writeWorkspaceFile(w.ws, "a.txt", "z".repeat(50), quota), 50);
  await assert.rejects(
    () => writeWorkspaceFile(w.ws, "a.txt", "z".repeat(61), quota),
    isFileError(new RegExp(`would hold ${101 + 2 * E} bytes, over its quota of ${100 + 2 * E}`)),
  );
  assert.equal(await Deno.readTextFile(join(w.ws.filesDir, "a.txt")), "z".repeat(50));
  // The quota counts bytes, not characters: 90 used, 12 more.
  await assert.rejects(
    () => writeWorkspaceFile(w.ws, "b.txt", "\u00e9".repeat(26), quota),
    isFileError(new RegExp(`would hold ${102 + 2 * E} bytes`)),
  );
});

Deno.test("readWorkspaceFile() caps the size it returns, with a clear error past it", async () => {
  await using w = await tempWorkspace();
  await writeWorkspaceFile(w.ws, "ten.txt", "0123456789", BIG);
  assert.deepEqual(await readWorkspaceFile(w.ws, "ten.txt", { maxBytes: 10 }), {
    content: "0123456789",
    encoding: "utf8",
    sizeBytes: 10,
  });
  await assert.rejects(
    () => readWorkspaceFile(w.ws, "ten.txt", { maxBytes: 9 }),
    isFileError(/^Cannot read "ten\.txt": it is 10 bytes, over the limit of 9/),
  );
  await assert.rejects(
    () => readWorkspaceFile(w.ws, "missing.txt", { maxBytes: 9 }),
    isFileError(/no such file in the workspace/),
  );
  await Deno.mkdir(join(w.ws.filesDir, "dir"));
  await assert.rejects(
    () => readWorkspaceFile(w.ws, "dir", { maxBytes: 9 }),
    isFileError(/not a regular file/),
  );
});

Deno.test("binary content round-trips through base64; text comes back as utf8", async () => {
  await using w = await tempWorkspace();
  const bytes = new Uint8Array(512).map((_, i) => (i * 7 + 3) % 256);
  assert.equal(
    await writeWorkspaceFile(w.ws, "bin.dat", bytes.toBase64(), { ...BIG, encoding: "base64" }),
    512,
  );
  assert.deepEqual(await Deno.readFile(join(w.ws.filesDir, "bin.dat")), bytes);

  // Not valid UTF-8: base64 unless asked otherwise.
  const auto = await readWorkspaceFile(w.ws, "bin.dat", { maxBytes: 1024 });
  assert.equal(auto.encoding, "base64");
  assert.equal(auto.sizeBytes, 512);
  assert.deepEqual(Uint8Array.fromBase64(auto.content), bytes);
  await assert.rejects(
    () => readWorkspaceFile(w.ws, "bin.dat", { maxBytes: 1024, encoding: "utf8" }),
    isFileError(/Cannot read "bin\.dat" as utf8: it is binary; ask for base64/),
  );

  // Valid UTF-8 (multi-byte included): utf8, or base64 when asked.
  await writeWorkspaceFile(w.ws, "text.txt", "caf\u00e9 \u{1F600}\n", BIG);
  assert.deepEqual(await readWorkspaceFile(w.ws, "text.txt", { maxBytes: 1024 }), {
    content: "caf\u00e9 \u{1F600}\n",
    encoding: "utf8",
    sizeBytes: 11,
  });
  const asBase64 = await readWorkspaceFile(w.ws, "text.txt", {
    maxBytes: 1024,
    encoding: "base64",
  });
  assert.equal(asBase64.encoding, "base64");
  assert.equal(
    new TextDecoder().decode(Uint8Array.fromBase64(asBase64.content)),
    "caf\u00e9 \u{1F600}\n",
  );
  // A NUL byte is valid UTF-8: still text.
  await writeWorkspaceFile(w.ws, "nul.txt", "a\0b", BIG);
  assert.equal((await readWorkspaceFile(w.ws, "nul.txt", { maxBytes: 10 })).encoding, "utf8");
});

Deno.test("listWorkspaceFiles() lists files, folders and symlinks (not followed) with sizes", async () => {
  await using w = await tempWorkspace();
  assert.deepEqual(await listWorkspaceFiles(w.ws), { entries: [], truncated: false });
  await writeWorkspaceFile(w.ws, "b.txt", "bb", BIG);
  await writeWorkspaceFile(w.ws, "a/z.bin", "zzz", BIG);
  await writeWorkspaceFile(w.ws, "a/inner/y.txt", "y", BIG);
  await Deno.symlink(w.outside, join(w.ws.filesDir, "link"));
  assert.deepEqual(await listWorkspaceFiles(w.ws), {
    entries: [
      { path: "a", type: "directory", sizeBytes: 0 },
      { path: "a/inner", type: "directory", sizeBytes: 0 },
      { path: "a/inner/y.txt", type: "file", sizeBytes: 1 },
      { path: "a/z.bin", type: "file", sizeBytes: 3 },
      { path: "b.txt", type: "file", sizeBytes: 2 },
      { path: "link", type: "symlink", sizeBytes: 0 },
    ],
    truncated: false,
  });
  const limited = await listWorkspaceFiles(w.ws, 2);
  assert.equal(limited.truncated, true);
  assert.equal(limited.entries.length, 2);
});

Deno.test("writeWorkspaceFile() reports a folder, a path through a file or a long name as the caller's error, without host paths", async (t) => {
  await using tmp = await tempWorkspace();
  await Deno.mkdir(join(tmp.ws.filesDir, "dir"));
  await Deno.writeTextFile(join(tmp.ws.filesDir, "x.txt"), "x");
  for (
    const [path, reason] of [
      ["dir", /Is a directory/],
      [".", /Is a directory/],
      ["x.txt/y", /Not a directory|exists/i],
      ["n".repeat(300), /too long/i],
    ] as const
  ) {
    await t.step(path.slice(0, 20), async () => {
      await assert.rejects(writeWorkspaceFile(tmp.ws, path, "hi", BIG), (error) => {
        isFileError(reason)(error);
        assert.ok(!(error as Error).message.includes(tmp.ws.filesDir), (error as Error).message);
        return true;
      });
    });
  }
});

Deno.test("printablePath() shows a name with control characters quoted, none of them raw", () => {
  assert.equal(printablePath("src/main.ts"), "src/main.ts");
  assert.equal(printablePath("naïve ü.txt"), "naïve ü.txt");
  const fake = "x\x1b[2K\r-      1.0 KB  README.md\nfake";
  const shown = printablePath(fake);
  assert.equal(shown, String.raw`"x\u001b[2K\r-      1.0 KB  README.md\nfake"`);
  assert.equal(JSON.parse(shown), fake);
  // C1 controls and bidirectional overrides (which reorder what a terminal shows) too.
  for (const odd of ["a\u0085b", "a\u202eb", "a\u2066b", "a\u007fb"]) {
    const out = printablePath(odd);
    // deno-lint-ignore no-control-regex
    assert.ok(!/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(out), out);
    assert.equal(JSON.parse(out), odd);
  }
});

Deno.test("listWorkspaceFiles() orders names by code units, and reads no more of a folder than it shows", async () => {
  await using w = await tempWorkspace();
  for (const name of ["b", "B", "a", "é", "Z"]) {
    await Deno.writeTextFile(join(w.ws.filesDir, name), "");
  }
  const all = await listWorkspaceFiles(w.ws);
  assert.deepEqual(all.entries.map((e) => e.path), ["B", "Z", "a", "b", "é"]);
  await Deno.mkdir(join(w.ws.filesDir, "many"));
  for (let i = 0; i < 3000; i++) await Deno.writeTextFile(join(w.ws.filesDir, "many", `f${i}`), "");
  const some = await listWorkspaceFiles(w.ws, 50);
  assert.equal(some.truncated, true);
  assert.equal(some.entries.length, 50);
});
