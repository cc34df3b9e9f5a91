// Ctrl-C while `stackseam dev` is still starting (docs/local-development.md): signals are taken
// from the start, so what startup already began (here an embedded PostgreSQL being initialised)
// is stopped once it is up, no "ready" banner is printed, and dev exits 0. Started directly, not
// through npm (no npm_lifecycle_event): dev watches no launcher then.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, eventually, removeDir, tempDataDir } from "../../../test/e2e/dev-harness.js";
import { BIN, spawnProgram, terminalEnv } from "./support/cli.js";

describe("a signal during dev's startup", { timeout: 180_000 }, () => {
  let dataDir: string;

  beforeAll(async () => {
    await buildCli();
    dataDir = await tempDataDir();
  });

  afterAll(async () => {
    if (dataDir) await removeDir(dataDir);
  });

  it("stops what was started once startup ends, says so once, and exits 0", async () => {
    const dev = spawnProgram(
      process.execPath,
      [BIN, "dev", "--port", "0", "--data-dir", dataDir, "--specs", "examples/specs"],
      { env: terminalEnv({ npm_lifecycle_event: undefined, STACKSEAM_DEV_SCHEDULES: "off" }) },
    );
    try {
      await eventually("dev starting", async () =>
        /starting \(data dir/.test(dev.output()) ? true : undefined,
      );
      // Twice, as an impatient person does (two different signals: the OS merges a repeated one):
      // the second is not announced again.
      dev.child.kill("SIGINT");
      dev.child.kill("SIGTERM");
      const exit = await dev.exited;
      const out = dev.output();
      expect(exit.code).toBe(0);
      // Which of the two is handled first is the OS's choice.
      expect(out.match(/SIG(INT|TERM): stopping/g), out).toHaveLength(1);
      expect(out).not.toMatch(/\bready\b/);
      expect(out).not.toContain("stackseam dev is up");
      expect(out).toMatch(/\bstopped\b/);
      // Nothing left behind: no instance file, no running PostgreSQL.
      expect(existsSync(join(dataDir, "dev.json"))).toBe(false);
      expect(existsSync(join(dataDir, "pg", "postmaster.pid"))).toBe(false);
    } finally {
      if (dev.child.exitCode === null) dev.child.kill("SIGKILL");
    }
  });
});
