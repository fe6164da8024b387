import { loopbackServer, testSandbox } from "./helpers.ts";
await using t = await testSandbox();
await using srv = loopbackServer();
const show = (label: string, r: any) =>
  console.log(
    label,
    JSON.stringify({
      status: r.status,
      rv: r.returnValue,
      error: r.error,
      stdout: r.stdout.slice(0, 300),
    }),
  );
const run = async (label: string, req: any, sb = t.sandbox) => {
  const r = await sb.execute(req);
  show(label, r);
  return r;
};
await run("localhost-cause", {
  code:
    `let r; try { await fetch("http://localhost:${srv.port}/") } catch (e) { r = String(e.cause) + " / " + e.cause?.name }; r`,
  permissions: { net: true },
});
await run("conn-refused", {
  code:
    `let r; try { await fetch("http://8.8.8.8:1/", {signal: AbortSignal.timeout(500)}) } catch (e) { r = String(e) + String(e.cause) + " / " + e.cause?.name }; r`,
  permissions: { net: true },
});
await run("deno-connect", {
  code:
    `let r; try { await Deno.connect({hostname: "localhost", port: ${srv.port}}) } catch (e) { r = String(e) }; r`,
  permissions: { net: true },
});
await run("closeout-print", {
  code: `console.log("before"); Deno.stdout.close(); console.log("after"); 42`,
});
await run("ls2", {
  code:
    `let r; try { localStorage.setItem("k","v"); r = "set" } catch (e) { r = "threw " + e.name }; r`,
});
await run("deep", {
  code: `const o = {}; let c: any = o; for (let i = 0; i < 300; i++) { c.n = {}; c = c.n }; o`,
});
