/**
 * The memory floor of the RSS figures: a bare Deno process that spawns `deno run` children
 * the way a minimal conductor would (8 in flight, stdio piped, output read to the end), and
 * prints its own resident memory after 10 and after N of them, as JSON.
 *
 * Usage: deno run -A --v8-flags=--max-semi-space-size=4,--no-concurrent-recompilation,--optimize-for-size,--max-opt=2 bench/spawn_floor.ts FILE N
 */
import { bareRun, settledRssKb, throughput } from "./measure.ts";

const [file, many] = [Deno.args[0]!, Number(Deno.args[1] ?? "1000")];
const settledRss = () => settledRssKb(Deno.pid);
await throughput(10, 2, () => bareRun(file));
const after10 = await settledRss();
await throughput(many - 10, 8, () => bareRun(file));
const afterMany = await settledRss();
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify({ after10, afterMany }) + "\n"));
