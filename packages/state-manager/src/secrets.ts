import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { malformedJsonReason } from "@stackseam/core";
import { SecretError } from "./errors.js";

/** The RDS-managed secret shape; other keys (engine, dbInstanceIdentifier…) are ignored. */
interface RdsSecret {
  username?: unknown;
  password?: unknown;
  host?: unknown;
  port?: unknown;
  dbname?: unknown;
}

/** Builds a postgres:// URL from an RDS secret's JSON, naming (not showing) what is missing. */
export function urlFromSecret(secretId: string, text: string): string {
  let secret: RdsSecret;
  try {
    secret = JSON.parse(text) as RdsSecret;
  } catch {
    // No `cause`: JSON.parse's message quotes the text around the error, here the password.
    throw new SecretError(`secret ${secretId} is not JSON (${malformedJsonReason(text)})`);
  }
  const missing = (["username", "password", "host"] as const).filter(
    (k) => typeof secret[k] !== "string" || (k !== "password" && secret[k] === ""),
  );
  if (missing.length > 0) {
    throw new SecretError(
      `secret ${secretId} lacks ${missing.join(", ")} (expected {username, password, host, dbname, port})`,
    );
  }
  const port = secret.port === undefined ? 5432 : Number(secret.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new SecretError(`secret ${secretId} has an invalid port`);
  }
  const dbname = typeof secret.dbname === "string" && secret.dbname !== "" ? secret.dbname : "postgres";
  const user = encodeURIComponent(secret.username as string);
  const password = encodeURIComponent(secret.password as string);
  return `postgres://${user}:${password}@${secret.host as string}:${port}/${encodeURIComponent(dbname)}`;
}

/** Fetches the connection secret and returns the database URL (never log the result). */
export async function databaseUrlFromSecret(client: SecretsManagerClient, secretId: string): Promise<string> {
  let text: string | undefined;
  try {
    const res = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    text =
      res.SecretString ?? (res.SecretBinary ? Buffer.from(res.SecretBinary).toString("utf8") : undefined);
  } catch (cause) {
    throw new SecretError(`cannot read secret ${secretId}: ${(cause as Error).message}`, {
      cause,
    });
  }
  if (text === undefined) throw new SecretError(`secret ${secretId} has no value`);
  return urlFromSecret(secretId, text);
}
