import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, eventually, removeDir, tempDataDir } from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { BIN, spawnProgram, stackseam, terminalEnv } from "./support/cli.js";

/** Listens on 127.0.0.1:port, as LocalStack or anything else might; null when the port is already taken. */
function occupy(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(null));
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

describe("dev and a port that is taken", { timeout: 180_000 }, () => {
  let db: TestDatabase;
  const dirs: string[] = [];
  const servers: Server[] = [];

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
  });

  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    for (const d of dirs) await removeDir(d);
    await db?.drop();
  });

  it("a port given with --port that is taken fails at once, before the database is initialised", async () => {
    const blocker = await occupy(0);
    servers.push(blocker!);
    const port = (blocker!.address() as { port: number }).port;
    const dataDir = await tempDataDir();
    dirs.push(dataDir);
    // No DATABASE_URL: dev would initialise an embedded cluster first if it did not check the port.
    const r = await stackseam(["dev", "--port", String(port), "--data-dir", dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is taken`);
    expect(r.stdout).not.toMatch(/initialising a PostgreSQL cluster/);
    expect(existsSync(join(dataDir, "pg"))).toBe(false);
    expect(existsSync(join(dataDir, "pg.json"))).toBe(false);
  });

  it("the default port 4566 taken: dev moves to a free port, says which, and the CLI still finds it", async () => {
    // Whatever holds 4566 already (LocalStack, another dev) will do; else this test holds it.
    const held = await occupy(4566);
    if (held) servers.push(held);
    const dataDir = await tempDataDir();
    dirs.push(dataDir);
    const dev = spawnProgram(process.execPath, [BIN, "dev", "--data-dir", dataDir], {
      env: terminalEnv({ DATABASE_URL: db.url }),
    });
    try {
      const state = await eventually("dev ready", async () =>
        /\bready\b/.test(dev.output()) ? "ready" : dev.child.exitCode !== null ? "exited" : undefined,
      );
      expect(state, dev.output()).toBe("ready");
      const info = JSON.parse(readFileSync(join(dataDir, "dev.json"), "utf8")) as { endpoint: string };
      const port = new URL(info.endpoint).port;
      expect(port).not.toBe("4566");
      expect(dev.output()).toContain(
        `port 4566 is taken (LocalStack or another dev?): SQS and S3 are on http://127.0.0.1:${port} instead`,
      );
      // The banner's endpoint is the one in use.
      expect(dev.output()).toContain(`SQS + S3    http://127.0.0.1:${port}`);
      const sent = await stackseam(
        ["send", "port-1", "LAUNCH", "--machine", "qa-env", "--meta", "delayMs=0"],
        {
          STACKSEAM_DATA_DIR: dataDir,
        },
      );
      expect(sent.code, sent.stderr).toBe(0);
    } finally {
      dev.child.kill("SIGTERM");
      expect((await dev.exited).code).toBe(0);
    }
  });
});
