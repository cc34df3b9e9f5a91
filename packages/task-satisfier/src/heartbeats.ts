/**
 * Runs `work`, calling `beat` every `intervalMs` until it settles (0: never). A failed beat is only
 * reported to `onError`: the task goes on, and the next beat may get through.
 */
export async function withHeartbeats<T>(
  intervalMs: number,
  beat: () => Promise<void>,
  onError: (err: unknown) => void,
  work: () => Promise<T>,
): Promise<T> {
  if (intervalMs <= 0) return work();
  let inFlight: Promise<void> | null = null;
  const timer = setInterval(() => {
    // A slow queue must not pile up beats.
    if (inFlight) return;
    inFlight = beat()
      .catch(onError)
      .finally(() => {
        inFlight = null;
      });
  }, intervalMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    // The final report must come after the last heartbeat.
    await inFlight;
  }
}
