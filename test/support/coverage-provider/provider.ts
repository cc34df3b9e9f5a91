// The coverage provider of `npm test` (vitest.config.ts `coverage.customProviderModule`): vitest's
// own v8 provider, unchanged in the test workers, plus the coverage of the child processes tests
// start. Those run the built dist/ JavaScript (the CLI bin, `stackseam dev`, the satisfier's
// runner), which in-process v8 coverage cannot see; see child-coverage.ts for how their hits are
// added to the same report before the thresholds are checked.
import v8 from "@vitest/coverage-v8";
import type { CoverageProvider, CoverageProviderModule } from "vitest/node";

const mod: CoverageProviderModule = {
  ...v8,
  async getProvider(): Promise<CoverageProvider> {
    // Loaded only in the main process: the workers need the runtime half above, not the reporter.
    const { ChildAwareCoverageProvider } = await import("./child-aware-provider.js");
    return new ChildAwareCoverageProvider();
  },
};

export default mod;
