/**
 * Deleting a folder tree that sandboxed code built, whatever its depth.
 *
 * Not with Deno's recursive remove: it holds a descriptor and a stack frame for each level,
 * and code can nest folders a hundred thousand deep (by renames, each path stays short).
 * Descriptors run out at 20,000 levels here (the removal fails, and everything else the
 * conductor opens meanwhile); at 100,000 its stack overflows, which aborts the whole
 * conductor. `rm -rf` runs in a process of its own: GNU rm walks any depth with a few
 * descriptors; another rm (BusyBox) that fails on such a tree fails alone, and the removal
 * is reported.
 */

/** The system's rm (only POSIX options are passed: BusyBox's takes no long ones). */
const RM = ["/usr/bin/rm", "/bin/rm"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

/** Removes `path` and everything below it; true on success. */
export async function removeTree(path: string): Promise<boolean> {
  if (!RM) throw new Error("Cannot remove folders: no rm program on this system");
  const out = await new Deno.Command(RM, {
    args: ["-rf", "--", path],
    clearEnv: true,
    env: { LC_ALL: "C" },
    stdin: "null",
    stdout: "null",
    // One line per file it could not remove: not worth reading (the caller retries).
    stderr: "null",
  }).output();
  return out.success;
}
