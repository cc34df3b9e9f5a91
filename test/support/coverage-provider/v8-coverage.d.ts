// @bcoe/v8-coverage ships no types; only the merge is used (child-coverage.ts).
declare module "@bcoe/v8-coverage" {
  interface ProcessCov<Script> {
    result: Script[];
  }
  const v8Coverage: {
    /** Merges the script coverages of several processes (hits of the same script added up). */
    mergeProcessCovs<Script>(processCovs: ReadonlyArray<ProcessCov<Script>>): ProcessCov<Script>;
  };
  export default v8Coverage;
}
