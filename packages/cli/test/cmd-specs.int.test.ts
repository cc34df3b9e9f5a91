// `stackseam specs` in-process (docs/cli.md "specs"): the usage errors (exit 2, with the reason),
// push to a bucket and into a running dev's folder, what refuses a push (exit 1, nothing uploaded),
// and `specs versions` / `specs prune` when the current version or the database cannot be known.
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { parseSpec } from "@stackseam/core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { removeDir } from "../../../test/e2e/dev-harness.js";
import { startTestAws, type TestAws } from "../../../test/support/aws.js";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database.js";
import { run as specs } from "../src/commands/specs.js";
import { standInForDev } from "./support/dev-file.js";
import { runInProcess } from "./support/in-process.js";

const V1 = `version: 1
events: [LAUNCH, STOP, RESUME]
states:
  INIT: { on: { LAUNCH: [{ action: advance, state: RUN }] } }
  RUN: { on: { STOP: [{ action: advance, state: HALTED }] } }
  HALTED: { on: { RESUME: [{ action: advance, state: RUN }] } }
  DONE: { terminal: true }
`;
// The next version drops HALTED: a stack there could not run it.
const V2 = `version: 1
events: [LAUNCH, STOP]
states:
  INIT: { on: { LAUNCH: [{ action: advance, state: RUN }] } }
  RUN: { on: { STOP: [{ action: advance, state: DONE }] } }
  DONE: { terminal: true }
`;
const v1 = parseSpec(V1, { name: "shop" }).machine!.version;
const v2 = parseSpec(V2, { name: "shop" }).machine!.version;

describe("stackseam specs: errors, push targets, versions", { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let aws: TestAws;
  let work: string;
  let client: pg.Client;
  /** A folder per case, with the given files. */
  let n = 0;
  async function folder(files: Record<string, string>): Promise<string> {
    const dir = join(work, `f${++n}`);
    await mkdir(dir);
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return dir;
  }
  const cli = (...args: string[]) => runInProcess(specs, args);

  beforeAll(async () => {
    [db, aws] = await Promise.all([createTestDatabase(), startTestAws()]);
    work = await mkdtemp(join(tmpdir(), "stackseam-cmd-specs-"));
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    // No dev, no database, no specs from the environment unless a case says so.
    vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
    for (const name of ["DATABASE_URL", "MACHINE_SPEC_DIR", "MACHINE_S3_BUCKET", "MACHINE_S3_KEY"])
      vi.stubEnv(name, undefined);
    for (const [k, v] of Object.entries(aws.env)) vi.stubEnv(k, v);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await client?.end();
    await aws?.stop();
    await db?.drop();
    if (work) await removeDir(work);
  });

  it("usage errors exit 2 with the reason and the help", async () => {
    const cases: [string[], string][] = [
      [[], "stackseam specs: expected push, diff, versions or prune"],
      [["upload", "x"], "stackseam specs: expected push, diff, versions or prune"],
      [["push"], "stackseam specs: push takes one folder"],
      [["push", "a", "b"], "stackseam specs: push takes one folder"],
      [["diff"], "stackseam specs: diff takes one spec file or folder"],
      [["versions"], "stackseam specs: versions takes one machine name"],
      [["prune", "a", "b"], "stackseam specs: prune takes one machine name"],
      [["push", "x", "--json"], "stackseam specs: --json is for `specs versions`"],
      [
        ["push", "x", "--specs", "y"],
        "stackseam specs: --specs is for `specs diff`, `specs versions`, `specs prune`",
      ],
      [["versions", "shop", "--dry-run"], "stackseam specs: --dry-run is for `specs push`, `specs prune`"],
    ];
    for (const [args, first] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.split("\n")[0], args.join(" ")).toBe(first);
      expect(r.stderr).toContain("Usage:");
      expect(r.stdout).toBe("");
    }
  });

  it("push: no bucket and no dev is a usage error; so is a folder that does not exist", async () => {
    const dir = await folder({ "shop.yml": V1 });
    const noBucket = await cli("push", dir);
    expect(noBucket.code).toBe(2);
    expect(noBucket.stderr.split("\n")[0]).toBe(
      "stackseam specs: no bucket: pass --bucket, set MACHINE_S3_BUCKET, or start `stackseam dev`",
    );
    const missing = join(work, "missing");
    const r = await cli("push", missing, "--bucket", aws.bucket);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(`stackseam specs: ${missing}: no such file or folder`);
  });

  it("push: an empty folder or an invalid spec uploads nothing (exit 1)", async () => {
    const empty = await folder({ "notes.txt": "not a spec" });
    const none = await cli("push", empty, "--bucket", aws.bucket);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(`stackseam specs: ${empty} holds no .yml or .yaml files\n`);

    const bad = await folder({ "shop.yml": V1, "broken.yml": "version: 1\nstates: [nope\n" });
    const r = await cli("push", bad, "--bucket", aws.bucket, "--prefix", "bad");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(bad, "broken.yml"));
    expect(r.stderr).toMatch(/stackseam specs: 1 invalid spec\(s\); nothing uploaded\n$/);
    expect(r.stdout).not.toContain("uploaded");
    await expect(
      aws.s3.send(new GetObjectCommand({ Bucket: aws.bucket, Key: "bad/shop.yml" })),
    ).rejects.toThrow();
  });

  it("push to a bucket: --dry-run says where each file would go, then the push uploads it", async () => {
    const dir = await folder({ "shop.yml": V1 });
    const dry = await cli("push", dir, "--bucket", aws.bucket, "--prefix", "specs", "--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`machine shop: new (no deployed version) → ${v1}\n`);
    expect(dry.stdout).toContain(
      `would upload ${join(dir, "shop.yml")} → s3://${aws.bucket}/specs/shop.yml\n`,
    );

    const r = await cli("push", dir, "--bucket", aws.bucket, "--prefix", "specs");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`uploaded ${join(dir, "shop.yml")} → s3://${aws.bucket}/specs/shop.yml\n`);
    const got = await aws.s3.send(new GetObjectCommand({ Bucket: aws.bucket, Key: "specs/shop.yml" }));
    expect(await got.Body?.transformToString()).toBe(V1);
  });

  it("push to a bucket that does not exist fails with the bucket named (exit 1)", async () => {
    const dir = await folder({ "shop.yml": V1 });
    const r = await cli("push", dir, "--bucket", "no-such-bucket", "--prefix", "p/");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^stackseam specs: upload to s3:\/\/no-such-bucket\/p\/ failed: .+/m);
  });

  it("a push that strands stacks without a version is refused; --force pushes it anyway", async () => {
    await client.query(
      `INSERT INTO stacks (id, machine, version, state, entry) VALUES ('old-1', 'shop', NULL, 'HALTED', 1)`,
    );
    const dir = await folder({ "shop.yml": V2 });
    const args = ["push", dir, "--bucket", aws.bucket, "--prefix", "specs", "--database-url", db.url];
    const refused = await cli(...args);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`machine shop: ${v1} (deployed in s3://${aws.bucket}/specs/) → ${v2}`);
    expect(refused.stderr).toContain(
      `stackseam specs: refused: machine shop: 1 stack(s) without a version would run version ${v2} from their next event and could not\n`,
    );
    expect(refused.stderr).toContain("stackseam stacks upgrade --machine shop --dry-run");
    expect(refused.stderr).toMatch(/nothing uploaded\n$/);

    const forced = await cli(...args, "--force", "--dry-run");
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toBe(
      "stackseam specs: --force: pushing although live stacks of shop would be stranded\n",
    );
    expect(forced.stdout).toContain(
      `would upload ${join(dir, "shop.yml")} → s3://${aws.bucket}/specs/shop.yml`,
    );
    await client.query("DELETE FROM stacks WHERE id = 'old-1'");
  });

  describe("into a running dev", () => {
    let dataDir: string;
    let devSpecs: string;

    beforeAll(async () => {
      dataDir = join(work, "dev-data");
      devSpecs = join(work, "dev-specs");
      await mkdir(dataDir);
      await mkdir(devSpecs);
      await writeFile(join(devSpecs, "shop.yml"), V1);
      await standInForDev(dataDir, db.url, aws, devSpecs);
    });

    it("pushing dev's own folder copies nothing", async () => {
      vi.stubEnv("STACKSEAM_DATA_DIR", dataDir);
      try {
        const r = await cli("push", devSpecs);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`machine shop: unchanged (version ${v1}, deployed in ${devSpecs}`);
        expect(r.stdout).toContain(`${join(devSpecs, "shop.yml")} is dev's own file: nothing to copy\n`);
      } finally {
        vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
      }
    });

    it("a copy that cannot be written names dev's folder (exit 1)", async () => {
      const dir = await folder({ "shop.yml": V1, "other.yml": V1.replace("DONE:", "END:") });
      vi.stubEnv("STACKSEAM_DATA_DIR", dataDir);
      // dev's folder is a file now: nothing can be copied into it.
      const blocked = join(work, "blocked");
      await writeFile(blocked, "");
      const info = JSON.parse(await readFile(join(dataDir, "dev.json"), "utf8")) as Record<string, unknown>;
      await writeFile(join(dataDir, "dev.json"), JSON.stringify({ ...info, specsDir: blocked }));
      try {
        const r = await cli("push", dir);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`^stackseam specs: copy into ${blocked} failed: `, "m"));
      } finally {
        await writeFile(join(dataDir, "dev.json"), JSON.stringify(info));
        vi.stubEnv("STACKSEAM_DATA_DIR", join(work, "no-dev"));
      }
    });
  });

  it("versions and prune need a database (exit 2)", async () => {
    for (const sub of ["versions", "prune"]) {
      const r = await cli(sub, "shop", "--specs", work);
      expect(r.code, sub).toBe(2);
      expect(r.stderr.split("\n")[0]).toBe(
        "stackseam specs: no database: pass --database-url, set DATABASE_URL, or start `stackseam dev`",
      );
    }
  });

  it("versions of a machine no stack has used: exit 1, or an empty list with --json", async () => {
    const dir = await folder({});
    const r = await cli("versions", "ghost", "--database-url", db.url, "--specs", dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("stackseam specs: no version of machine ghost has been used yet\n");
    const json = await cli("versions", "ghost", "--database-url", db.url, "--specs", dir, "--json");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      machine: "ghost",
      current: null,
      unpinnedStacks: 0,
      versions: [],
    });
  });

  it("versions: the current spec not used yet, a version whose spec is not stored, and why current is unknown", async () => {
    await client.query(
      `INSERT INTO stacks (id, machine, version, state, entry) VALUES ('lost-1', 'shop', 'v-not-stored', 'RUN', 1)`,
    );
    try {
      const current = await folder({ "shop.yml": V2 });
      const r = await cli("versions", "shop", "--database-url", db.url, "--specs", current);
      expect(r.code, r.stderr).toBe(0);
      const row = (v: string) => r.stdout.split("\n").find((l) => l.startsWith(v)) ?? "";
      expect(row("v-not-stored")).toMatch(/^v-not-stored\s+-\s+1\s+not stored\s*$/);
      expect(row(v2)).toMatch(/\s0\s+current \(not used yet\)\s*$/);

      const invalid = await folder({ "shop.yml": "version: 1\nstates: {}\n" });
      const bad = await cli("versions", "shop", "--database-url", db.url, "--specs", invalid);
      expect(bad.stdout).toContain(`current version unknown: the spec in ${invalid} is invalid\n`);

      const other = await folder({ "other.yml": V1 });
      const unknown = await cli("versions", "shop", "--database-url", db.url, "--specs", other);
      expect(unknown.stdout).toContain(`current version unknown: ${other} holds no spec of machine shop\n`);

      const nowhere = await cli("versions", "shop", "--database-url", db.url);
      expect(nowhere.stdout).toContain(
        "current version unknown: no specs configured (--specs, --bucket, a running dev…)\n",
      );
    } finally {
      await client.query("DELETE FROM stacks WHERE id = 'lost-1'");
    }
  });

  it("prune refuses when the current version cannot be told (exit 1)", async () => {
    const other = await folder({ "other.yml": V1 });
    const r = await cli("prune", "shop", "--database-url", db.url, "--specs", other);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `stackseam specs: cannot tell machine shop's current version (${other} holds no spec of machine shop); pass --specs DIR or --bucket B\n`,
    );
  });

  it("versions on a database without the schema fails (exit 1)", async () => {
    const bare = await createTestDatabase({ migrate: false });
    try {
      const r = await cli("versions", "shop", "--database-url", bare.url, "--specs", work);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^stackseam specs: .+/);
    } finally {
      await bare.drop();
    }
  });
});
