/**
 * The session launcher: a tiny static Linux x86-64 program that makes itself the leader of
 * a new session and process group (`setsid()`), asks to be killed when the thread that
 * started it ends (`prctl(PR_SET_PDEATHSIG, SIGKILL)`), lowers its CPU priority
 * (`setpriority`, nice CHILD_NICE), then execs its arguments in place (same pid), with the
 * environment it was given. It fails closed: if setsid, prctl or exec fails, it exits with
 * code 127 and runs nothing.
 *
 * The death signal: a conductor that dies without cleaning up (SIGKILL, the OOM killer)
 * takes its sandbox children with it at once, instead of leaving an endless loop spinning
 * until the next conductor's orphan sweep. It survives the exec of the child, and is sent
 * when the spawning thread ends: the conductor spawns from its main thread, whose end is
 * the process's. A conductor that died before the prctl (no signal would come) is seen by
 * the parent pid, read before and after: then nothing runs. What the child itself starts
 * (with `run` granted) does not inherit the signal; the sweep still finds those, by their
 * group.
 *
 * Why not util-linux `setsid`: that one is dynamically linked and sets up libc and a locale
 * before its one system call, 0.5-0.7 ms of CPU on every child (measured by the child's own
 * rusage, interleaved runs); this one costs ~0.2 ms. Why not Deno's `detached: true`: it
 * forks the whole conductor (1.5-2 ms, blocking). The program is 295 bytes, written below
 * with its assembly; `session_launcher_test.ts` checks what it does.
 *
 * Security: it lives in the children's DENO_DIR, which no grant may ever reach (the
 * conductor's own data), and it is rewritten when its bytes differ. It is used only after
 * a trial run proves it works here (a `noexec` mount, say, would fail): otherwise children
 * start through util-linux `setsid` as before.
 */
import { join } from "node:path";

/** Where the launcher is installed inside the children's DENO_DIR. */
const FILE_NAME = "conductor-session-launcher";

/** Load address of the single segment (the usual one for static x86-64 programs). */
const BASE = 0x400000;
const ELF_HEADER_SIZE = 64;
const PROGRAM_HEADER_SIZE = 56;
const CODE_OFFSET = ELF_HEADER_SIZE + 2 * PROGRAM_HEADER_SIZE;

/**
 * The nice value children run at: below the conductor's usual 0, so that busy sandboxed code
 * never delays the conductor's own work (reading its children's output, answering, timeouts,
 * cancels). On two cores at 8 calls in flight, 1.5-2.1 % more calls per second than with
 * children at the conductor's priority (three A/Bs of 14-16 rounds of 200 calls, interleaved
 * servers). Only ever lowered: a conductor already at this nice value or above (which root
 * could raise) keeps it for its children; a failure leaves the conductor's.
 */
export const CHILD_NICE = 10;

/** The code, at CODE_OFFSET. At entry, [rsp] = argc, then argv[0..argc-1], NULL, envp... */
const CODE = [
  [0xb8, 0x6e, 0x00, 0x00, 0x00], // mov eax, 110            getppid(): the starter
  [0x0f, 0x05], //                   syscall
  [0x49, 0x89, 0xc4], //             mov r12, rax            (kept across system calls)
  [0xb8, 0x70, 0x00, 0x00, 0x00], // mov eax, 112            setsid()
  [0x0f, 0x05], //                   syscall
  [0x48, 0x85, 0xc0], //             test rax, rax
  [0x78, 0x55], //                   js fail                 (-errno: run nothing)
  [0xbf, 0x01, 0x00, 0x00, 0x00], // mov edi, 1             PR_SET_PDEATHSIG
  [0xbe, 0x09, 0x00, 0x00, 0x00], // mov esi, 9             SIGKILL
  [0xb8, 0x9d, 0x00, 0x00, 0x00], // mov eax, 157           prctl(PR_SET_PDEATHSIG, SIGKILL)
  [0x0f, 0x05], //                   syscall
  [0x48, 0x85, 0xc0], //             test rax, rax
  [0x75, 0x3f], //                   jnz fail                (an error: run nothing)
  [0xb8, 0x6e, 0x00, 0x00, 0x00], // mov eax, 110            getppid() again
  [0x0f, 0x05], //                   syscall
  [0x4c, 0x39, 0xe0], //             cmp rax, r12
  [0x75, 0x33], //                   jne fail                (the starter died before prctl)
  [0x31, 0xff], //                   xor edi, edi            PRIO_PROCESS
  [0x31, 0xf6], //                   xor esi, esi            this process
  [0xb8, 0x8c, 0x00, 0x00, 0x00], // mov eax, 140           getpriority: 20 - nice, or -errno
  [0x0f, 0x05], //                   syscall                 (keeps rdi and rsi)
  [0x83, 0xf8, 20 - CHILD_NICE], //  cmp eax, 20 - CHILD_NICE
  [0x7e, 0x0c], //                   jle exec                (as low already: never raise it)
  [0xba, CHILD_NICE, 0x00, 0x00, 0x00], // mov edx, CHILD_NICE
  [0xb8, 0x8d, 0x00, 0x00, 0x00], // mov eax, 141           setpriority(PRIO_PROCESS, 0, nice)
  [0x0f, 0x05], //                   syscall                 (best effort: see CHILD_NICE)
  [0x48, 0x8b, 0x04, 0x24], // exec: mov rax, [rsp]        argc
  [0x48, 0x8d, 0x74, 0x24, 0x10], // lea rsi, [rsp+16]       &argv[1]
  [0x48, 0x8b, 0x3e], //             mov rdi, [rsi]          argv[1]: the program's path
  [0x48, 0x8d, 0x14, 0xc6], //       lea rdx, [rsi+rax*8]    envp = &argv[argc + 1]
  [0xb8, 0x3b, 0x00, 0x00, 0x00], // mov eax, 59             execve(argv[1], &argv[1], envp)
  [0x0f, 0x05], //                   syscall                 (returns only on failure)
  [0xbf, 0x7f, 0x00, 0x00, 0x00], // fail: mov edi, 127
  [0xb8, 0xe7, 0x00, 0x00, 0x00], // mov eax, 231            exit_group(127)
  [0x0f, 0x05], //                   syscall
].flat();

/** The whole ELF file: header, a loadable read+execute segment, a non-executable stack. */
export function launcherBytes(): Uint8Array {
  const size = CODE_OFFSET + CODE.length;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  const u16 = (at: number, v: number) => view.setUint16(at, v, true);
  const u32 = (at: number, v: number) => view.setUint32(at, v, true);
  const u64 = (at: number, v: number) => view.setBigUint64(at, BigInt(v), true);
  // ELF header: 64-bit, little-endian, version 1, System V ABI.
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0);
  u16(16, 2); // e_type: an executable
  u16(18, 0x3e); // e_machine: x86-64
  u32(20, 1); // e_version
  u64(24, BASE + CODE_OFFSET); // e_entry
  u64(32, ELF_HEADER_SIZE); // e_phoff: program headers right after this header
  u16(52, ELF_HEADER_SIZE); // e_ehsize
  u16(54, PROGRAM_HEADER_SIZE); // e_phentsize
  u16(56, 2); // e_phnum (no section headers)
  // Program header 1, PT_LOAD: the whole file, read + execute, at BASE.
  let ph = ELF_HEADER_SIZE;
  u32(ph, 1); // p_type
  u32(ph + 4, 5); // p_flags: R + X
  u64(ph + 16, BASE); // p_vaddr
  u64(ph + 24, BASE); // p_paddr
  u64(ph + 32, size); // p_filesz
  u64(ph + 40, size); // p_memsz
  u64(ph + 48, 0x1000); // p_align
  // Program header 2, PT_GNU_STACK: read + write, so that the kernel never marks readable
  // memory executable (a personality that execve would pass on to Deno).
  ph += PROGRAM_HEADER_SIZE;
  u32(ph, 0x6474e551); // p_type
  u32(ph + 4, 6); // p_flags: R + W
  u64(ph + 48, 16); // p_align
  bytes.set(CODE, CODE_OFFSET);
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Whether `launcher` starts a program as a session leader on this machine. */
async function works(launcher: string): Promise<boolean> {
  try {
    // `cat` prints its own /proc stat line: pid first, session id in field 6.
    const out = await new Deno.Command(launcher, {
      args: ["/bin/cat", "/proc/self/stat"],
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const stat = new TextDecoder().decode(out.stdout);
    const pid = stat.slice(0, stat.indexOf(" "));
    const session = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3];
    return out.success && pid !== "" && pid === session;
  } catch {
    return false;
  }
}

/**
 * Installs the launcher in `denoDir` (an existing folder) and returns its path, or
 * `undefined` where it cannot serve: not Linux x86-64, a folder it cannot be written to,
 * or a machine where it does not run. Only a speed-up: callers fall back to `setsid`.
 */
export async function installSessionLauncher(denoDir: string): Promise<string | undefined> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") return undefined;
  const path = join(denoDir, FILE_NAME);
  const bytes = launcherBytes();
  if (!await isInstalled(path, bytes)) {
    // A temp name of its own: two installs (two sandboxes, or two conductors sharing the
    // folder) never touch each other's half-written file.
    const temp = `${path}.${crypto.randomUUID()}.tmp`;
    try {
      await Deno.writeFile(temp, bytes, { mode: 0o555, createNew: true });
      await Deno.chmod(temp, 0o555); // the umask may have taken bits away
      await Deno.rename(temp, path);
    } catch {
      await Deno.remove(temp).catch(() => {});
      return undefined;
    }
  }
  return await works(path) ? path : undefined;
}

const installs = new Map<string, Promise<string | undefined>>();

/**
 * `installSessionLauncher`, once per folder for this process: the sandbox's runs and the
 * installer's children start through the same launcher.
 */
export function sessionLauncher(denoDir: string): Promise<string | undefined> {
  let install = installs.get(denoDir);
  if (!install) installs.set(denoDir, install = installSessionLauncher(denoDir));
  return install;
}

/**
 * Whether `path` is exactly the launcher: checked without following links or reading
 * anything but a regular file of its size, owned by this user, with one name and mode 555.
 */
async function isInstalled(path: string, bytes: Uint8Array): Promise<boolean> {
  const info = await Deno.lstat(path).catch(() => undefined);
  if (
    !info?.isFile || info.size !== bytes.length || info.nlink !== 1 ||
    info.uid !== Deno.uid() || (info.mode! & 0o7777) !== 0o555
  ) return false;
  const current = await Deno.readFile(path).catch(() => undefined);
  return current !== undefined && sameBytes(current, bytes);
}
