// POSTGRES_CONNECTION_SECRET (docs/configuration.md): a Secrets Manager secret in the RDS shape
// {username, password, host, dbname, port}; dbname defaults to postgres, port to 5432.
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { databaseUrlFromSecret, urlFromSecret } from "@stackseam/state-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";

describe("the database URL built from an RDS-shaped secret", () => {
  it("defaults dbname to postgres and port to 5432", () => {
    expect(urlFromSecret("s", JSON.stringify({ username: "app", password: "pw", host: "db.internal" }))).toBe(
      "postgres://app:pw@db.internal:5432/postgres",
    );
  });

  it("takes the port as RDS writes it (a number) or as a string, and the database name", () => {
    const secret = { username: "app", password: "pw", host: "db", dbname: "stackseam" };
    expect(urlFromSecret("s", JSON.stringify({ ...secret, port: 15432 }))).toBe(
      "postgres://app:pw@db:15432/stackseam",
    );
    expect(urlFromSecret("s", JSON.stringify({ ...secret, port: "6432", dbname: "" }))).toBe(
      "postgres://app:pw@db:6432/postgres",
    );
  });

  it("escapes characters a generated password has that mean something in a URL", () => {
    const url = urlFromSecret("s", JSON.stringify({ username: "a@b", password: "p:/@?#%w", host: "db" }));
    const parsed = new URL(url);
    expect(decodeURIComponent(parsed.username)).toBe("a@b");
    expect(decodeURIComponent(parsed.password)).toBe("p:/@?#%w");
    expect(parsed.hostname).toBe("db");
  });

  it("accepts an empty password but no empty user or host", () => {
    expect(urlFromSecret("s", JSON.stringify({ username: "app", password: "", host: "db" }))).toBe(
      "postgres://app:@db:5432/postgres",
    );
    expect(() => urlFromSecret("s", JSON.stringify({ username: "", password: "x", host: "" }))).toThrow(
      "secret s lacks username, host (expected {username, password, host, dbname, port})",
    );
  });

  it.each([0, 70000, "x", 54.5])("refuses port %j without showing the secret", (port) => {
    expect(() =>
      urlFromSecret("stackseam/db", JSON.stringify({ username: "u", password: "hunter2", host: "h", port })),
    ).toThrow(/^secret stackseam\/db has an invalid port$/);
  });
});

describe("reading the secret from Secrets Manager", () => {
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());
  const client = () => new SecretsManagerClient({ region: "us-east-1" });
  const value = JSON.stringify({ username: "u", password: "p", host: "h", dbname: "d", port: 5433 });

  it("reads SecretString, or SecretBinary when the secret was stored as binary", async () => {
    sm.on(GetSecretValueCommand, { SecretId: "text" }).resolves({ SecretString: value });
    sm.on(GetSecretValueCommand, { SecretId: "binary" }).resolves({
      SecretBinary: new TextEncoder().encode(value),
    });
    expect(await databaseUrlFromSecret(client(), "text")).toBe("postgres://u:p@h:5433/d");
    expect(await databaseUrlFromSecret(client(), "binary")).toBe("postgres://u:p@h:5433/d");
  });

  it("says the secret has no value when it has neither", async () => {
    sm.on(GetSecretValueCommand).resolves({});
    await expect(databaseUrlFromSecret(client(), "stackseam/db")).rejects.toThrow(
      "secret stackseam/db has no value",
    );
  });

  it("names the secret and the reason when it cannot be read", async () => {
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error("User is not authorized to perform: secretsmanager:GetSecretValue"), {
        name: "AccessDeniedException",
      }),
    );
    await expect(databaseUrlFromSecret(client(), "stackseam/db")).rejects.toMatchObject({
      name: "SecretError",
      message:
        "cannot read secret stackseam/db: User is not authorized to perform: secretsmanager:GetSecretValue",
    });
  });
});
