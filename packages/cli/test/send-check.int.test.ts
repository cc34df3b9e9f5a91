import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildCli,
  type DevProcess,
  eventually,
  ROOT,
  removeDir,
  startDev,
  tempDataDir,
} from "../../../test/e2e/dev-harness.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { stackseam } from "./support/cli.js";

// examples/specs holds qa-env (events LAUNCH, FREEZE, THAW, DESTROY, TOUCH) and qa-env-terraform.
describe("send refuses what cannot succeed, when the specs are reachable", { timeout: 180_000 }, () => {
  let db: TestDatabase;
  let dataDir: string;
  let emptyDir: string;
  let dev: DevProcess;
  const withDev = () => ({ STACKSEAM_DATA_DIR: dataDir });

  beforeAll(async () => {
    await buildCli();
    db = await createTestDatabase({ migrate: false });
    dataDir = await tempDataDir();
    emptyDir = await tempDataDir();
    dev = await startDev({ dataDir, databaseUrl: db.url });
  });

  afterAll(async () => {
    if (dev) expect(await dev.stop("SIGTERM")).toBe(0);
    await db?.drop();
    for (const d of [dataDir, emptyDir]) if (d) await removeDir(d);
  });

  it("refuses an event the machine does not declare, with a did-you-mean (exit 2, nothing sent)", async () => {
    const r = await stackseam(["send", "chk-1", "LAUNC", "--machine", "qa-env"], withDev());
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain('machine qa-env does not declare event LAUNC (did you mean "LAUNCH"?)');
    expect(r.stderr).toContain("--no-check");
    const history = await stackseam(["stacks", "history", "chk-1"], withDev());
    expect(history.code).toBe(1); // nothing reached the State Manager
  });

  it("refuses an unknown machine, with a did-you-mean", async () => {
    const r = await stackseam(["send", "chk-2", "LAUNCH", "--machine", "qa-envv"], withDev());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown machine "qa-envv" (did you mean "qa-env"?)');
  });

  it("checks an event for an existing stack against that stack's machine (no --machine)", async () => {
    expect(
      (await stackseam(["send", "chk-3", "LAUNCH", "--machine", "qa-env", "--meta", "delayMs=0"], withDev()))
        .code,
    ).toBe(0);
    await eventually("chk-3 exists", async () =>
      (await stackseam(["stacks", "show", "chk-3"], withDev())).code === 0 ? true : undefined,
    );
    const r = await stackseam(["send", "chk-3", "FREZE"], withDev());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('does not declare event FREZE (did you mean "FREEZE"?)');
    // A declared event passes, and reports / retries are the engine's own events.
    expect((await stackseam(["send", "chk-3", "FREEZE"], withDev())).code).toBe(0);
    expect((await stackseam(["send", "chk-3", "RETRY_PENDING_TASKS"], withDev())).code).toBe(0);
  });

  it("--no-check sends it anyway, and the State Manager refuses it in the history", async () => {
    const r = await stackseam(["send", "chk-4", "LAUNC", "--machine", "qa-env", "--no-check"], withDev());
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/);
    const row = await eventually("the refusal in the history", async () => {
      const h = await stackseam(["stacks", "history", "chk-4"], withDev());
      return h.code === 0 ? h.stdout : undefined;
    });
    expect(row).toMatch(/LAUNC\s+refused/);
  });

  it("checks against a local folder given with --specs, without any dev (also on --dry-run)", async () => {
    const env = { STACKSEAM_DATA_DIR: emptyDir };
    const specs = `${ROOT}examples/specs`;
    const bad = await stackseam(
      ["send", "x", "THAWW", "--machine", "qa-env", "--specs", specs, "--dry-run"],
      env,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('(did you mean "THAW"?)');
    const good = await stackseam(
      ["send", "x", "THAW", "--machine", "qa-env", "--specs", specs, "--dry-run"],
      env,
    );
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toEqual({ stackId: "x", event: "THAW", machine: "qa-env" });
    // Nothing reachable: no check, the message is only validated.
    const unchecked = await stackseam(["send", "x", "THAWW", "--machine", "qa-env", "--dry-run"], env);
    expect(unchecked.code).toBe(0);
  });

  it("checks against S3 (MACHINE_S3_BUCKET/MACHINE_S3_KEY) when AWS credentials are there", async () => {
    const endpoint = dev.instance().endpoint;
    const aws = {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      STACKSEAM_DATA_DIR: emptyDir,
    };
    const pushed = await stackseam(
      ["specs", "push", `${ROOT}examples/specs`, "--bucket", "stackseam-specs", "--prefix", "checked/"],
      aws,
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    const env = { ...aws, MACHINE_S3_BUCKET: "stackseam-specs", MACHINE_S3_KEY: "checked" };
    const r = await stackseam(["send", "x", "LAUNCH", "--machine", "qa-enb", "--dry-run"], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown machine "qa-enb" (did you mean "qa-env"?)');
    expect(r.stderr).toContain("s3://stackseam-specs/checked/");
    expect((await stackseam(["send", "x", "LAUNCH", "--machine", "qa-env", "--dry-run"], env)).code).toBe(0);
  });

  it("checks against MACHINE_SPEC_DIR, and a folder given explicitly must exist", async () => {
    const env = { STACKSEAM_DATA_DIR: emptyDir, MACHINE_SPEC_DIR: `${ROOT}examples/specs` };
    const r = await stackseam(["send", "x", "DESTROI", "--machine", "qa-env", "--dry-run"], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('(did you mean "DESTROY"?)');
    const missing = await stackseam(
      ["send", "x", "THAW", "--machine", "qa-env", "--specs", `${emptyDir}/nope`, "--dry-run"],
      env,
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("could not read the specs");
  });
});
