import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { WEBHOOK_PATH } from "../src/sync.js";
import { backends } from "./support/backends.js";
import { userEvent } from "./support/fixtures.js";
import { type Harness, openHarness } from "./support/harness.js";
import { rawExchange } from "./support/raw-http.js";
import { signedDelivery, signedNonUtf8 } from "./support/sign.js";

/** The service's webhook POST, served from node:http (src/service/webhook-route.ts), over raw sockets. */
describe.each(await backends())("the service's webhook route on $name", (backend) => {
  const LIMIT = 64 * 1024;
  let h: Harness;
  let port: number;
  beforeAll(async () => {
    h = await openHarness(backend, { bodyLimit: LIMIT });
    await h.app.listen({ port: 0, host: "127.0.0.1" });
    port = (h.app.server.address() as AddressInfo).port;
  });
  afterAll(() => h.close());
  beforeEach(() => h.reset());

  function request(body: string, { url = WEBHOOK_PATH, length = Buffer.byteLength(body) } = {}): string {
    const head = [`POST ${url} HTTP/1.1`, "Host: localhost"];
    for (const [name, value] of Object.entries(signedDelivery(body).headers)) head.push(`${name}: ${value}`);
    return `${[...head, `Content-Length: ${length}`].join("\r\n")}\r\n\r\n${body}`;
  }

  const cases = [
    {
      name: "a delivery on a kept-alive connection",
      id: "user_kept",
      url: WEBHOOK_PATH,
      status: 200,
      body: { status: "applied", environment: "development", type: "user.created" },
      closed: false,
      rows: 1,
    },
    {
      name: "a delivery to the path with a query string",
      id: "user_query",
      url: `${WEBHOOK_PATH}?source=clerk`,
      status: 200,
      body: { status: "applied", environment: "development", type: "user.created" },
      closed: false,
      rows: 1,
    },
  ];

  it.each(cases)("answers $name with $status, a Content-Length and no chunking", async (c) => {
    const body = JSON.stringify(userEvent("user.created", { id: c.id }));
    const answer = await rawExchange(port, [request(body, { url: c.url })]);
    expect(answer.status).toBe(c.status);
    expect(JSON.parse(answer.body)).toEqual(c.body);
    expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(answer.headers["content-length"]).toBe(String(Buffer.byteLength(answer.body)));
    expect(answer.headers["transfer-encoding"]).toBeUndefined();
    expect(answer.closed).toBe(c.closed);
    expect((await h.users()).map((u) => u.clerk_user_id)).toEqual([c.id]);
  });

  it("refuses a validly signed body that is not UTF-8 with 422 invalid_payload, and writes nothing", async () => {
    const from = h.logs.length;
    // Decoded leniently, the id would be stored as "user_\uFFFDbad", which is not what was signed.
    const { body, headers } = signedNonUtf8(userEvent("user.created", { id: "user_\u00ffbad" }));
    const head = [`POST ${WEBHOOK_PATH} HTTP/1.1`, "Host: localhost", `Content-Length: ${body.length}`];
    for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
    const answer = await rawExchange(port, [
      Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`), body]),
    ]);
    expect(answer.status).toBe(422);
    expect(JSON.parse(answer.body)).toEqual({
      code: "invalid_payload",
      message: expect.stringMatching(/UTF-8/),
    });
    expect(answer.closed).toBe(false);
    expect(await h.users()).toEqual([]);
    expect(await h.deliveries()).toEqual([]);
    const refused = h.logs.slice(from).filter((line) => line.includes('"code":'));
    expect(refused).toEqual([expect.stringContaining('"code":"invalid_payload"')]);
  });

  it("refuses a Content-Length over the limit with 413 before reading the body, and closes the connection", async () => {
    const from = h.logs.length;
    const body = JSON.stringify(userEvent("user.created", { id: "user_big" }));
    // Only the head and a part of the body are sent: the answer comes without waiting for the rest.
    const answer = await rawExchange(port, [request(body, { length: LIMIT + 1 })]);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({ code: "payload_too_large", message: expect.any(String) });
    expect(answer.headers.connection).toBe("close");
    expect(answer.closed).toBe(true);
    expect(await h.users()).toEqual([]);
    expect(await h.deliveries()).toEqual([]);
    const refused = h.logs.slice(from).filter((line) => line.includes('"code":'));
    expect(refused).toEqual([expect.stringContaining('"code":"payload_too_large"')]);
  });
});
