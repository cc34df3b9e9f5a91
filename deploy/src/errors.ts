// Failure kinds of the deployment app: wrong parameters, and a release that cannot be trusted.

/** Deployment parameters are missing or wrong; `problems` lists every issue, not just the first. */
export class DeployConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super(
      `Stackseam deployment parameters are invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      options,
    );
    this.name = "DeployConfigError";
    this.problems = problems;
  }
}

/** The release zips cannot be used: missing, unlisted, not matching SHA256SUMS, or badly signed. */
export class ReleaseVerificationError extends Error {
  readonly problems: readonly string[];

  constructor(dir: string, problems: readonly string[], options?: { cause?: unknown }) {
    super(
      `the release in ${dir} failed verification; nothing was synthesized:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      options,
    );
    this.name = "ReleaseVerificationError";
    this.problems = problems;
  }
}
