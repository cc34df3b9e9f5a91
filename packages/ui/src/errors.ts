// One error class per way the dashboard can fail to start.

/** The dashboard's own failures; `code` tells them apart. */
export class DashboardError extends Error {
  readonly code: "UNSAFE_BIND" | "ASSET_MISSING" | "LISTEN_FAILED";

  constructor(code: DashboardError["code"], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "DashboardError";
  }
}

/** Refused to listen on an address other machines reach without a token. */
export class UnsafeBindError extends DashboardError {
  constructor(host: string) {
    super(
      "UNSAFE_BIND",
      `refusing to serve the dashboard on ${host} without a token: other machines can reach it. Set STACKSEAM_UI_TOKEN (or --token), or bind 127.0.0.1`,
    );
    this.name = "UnsafeBindError";
  }
}

/** A file the dashboard serves is missing (not built). */
export class AssetMissingError extends DashboardError {
  constructor(message: string) {
    super("ASSET_MISSING", message);
    this.name = "AssetMissingError";
  }
}

/** The port could not be listened on. */
export class ListenError extends DashboardError {
  constructor(message: string, cause: unknown) {
    super("LISTEN_FAILED", message, { cause });
    this.name = "ListenError";
  }
}
