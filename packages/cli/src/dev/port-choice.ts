import { DevError } from "./errors.js";
import { portIsFree } from "./ports.js";

/** The port the embedded SQS/S3 endpoint listens on, decided before anything is started. */
export interface PortChoice {
  /** What to listen on; 0 lets the OS pick a free port. */
  listen: number;
  /** The default port that was taken, when dev moved to a free one. */
  movedFrom: number | null;
}

/**
 * Checks the SQS/S3 port before the database is touched. A port the user asked for must be free
 * (else PORT_IN_USE, naming the way out); the default port (4566, LocalStack's) that is taken is
 * replaced by a free one, since the CLI finds dev through its data dir, not its port.
 */
export async function choosePort(requested: number, given: boolean): Promise<PortChoice> {
  if (requested === 0 || (await portIsFree(requested))) return { listen: requested, movedFrom: null };
  if (given) {
    throw new DevError(
      "PORT_IN_USE",
      `port ${requested} on 127.0.0.1 is taken (LocalStack or another dev?); use --port <n>, --port 0 for any free port, or leave --port out`,
    );
  }
  return { listen: 0, movedFrom: requested };
}
