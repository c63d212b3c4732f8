/**
 * `node --import tsx bench/verify.ts`: nanoseconds per signature check of a ~2 KB Clerk body, for a Development
 * delivery (the first secret verifies) and a Production one (the Development secret fails first). Figures, and
 * those of the svix-based verifier it replaced, are in the commit that added it.
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createVerifier } from "../src/verify.js";

const SECRETS = {
  development: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  production: "whsec_dGhpc2lzYXByb2R1Y3Rpb25zZWNyZXQxMjM0NTY=",
};
const event = JSON.parse(
  readFileSync(new URL("../test/fixtures/clerk/user.created.docs.json", import.meta.url), "utf8"),
);
event.data.public_metadata = { plan: "team", notes: "x".repeat(1030) };
const body = Buffer.from(JSON.stringify(event));
const now = new Date();
const timestamp = Math.floor(now.getTime() / 1000);
const verify = createVerifier(SECRETS, () => now);

function headersFor(secret: string): (name: string) => string | undefined {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const mac = createHmac("sha256", key).update(`msg_1.${timestamp}.`).update(body).digest("base64");
  const headers: Record<string, string> = {
    "svix-id": "msg_1",
    "svix-timestamp": String(timestamp),
    "svix-signature": `v1,${mac}`,
  };
  return (name) => headers[name];
}

const check = (header: (name: string) => string | undefined) => verify(body, header);

console.log(`body ${body.byteLength} bytes`);
for (const [name, secret] of Object.entries(SECRETS)) {
  const header = headersFor(secret);
  for (let i = 0; i < 20_000; i++) check(header);
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const n = 50_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) check(header);
    rounds.push(Number(process.hrtime.bigint() - start) / n);
  }
  rounds.sort((a, b) => a - b);
  console.log(
    `${name}: median ${Math.round(rounds[3] ?? 0)} ns/verify (min ${Math.round(rounds[0] ?? 0)}, max ${Math.round(rounds[6] ?? 0)})`,
  );
}
