import { type FSWatcher, watch } from "node:fs";

export interface SpecWatcher {
  close(): void;
}

/** Editors save in bursts (write, rename, chmod); one reload per burst is enough. */
const SETTLE_MS = 100;

/**
 * Calls `reload` shortly after anything in the folder changes. The machine source compares
 * mtimes itself, so a spurious event costs one stat per spec; a missed one is caught on the
 * next event for that machine.
 */
export function watchSpecs(
  dir: string,
  reload: () => Promise<unknown>,
  onError: (err: unknown) => void,
): SpecWatcher {
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let again = false;

  const run = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await reload().catch(onError);
      } while (again);
    } finally {
      running = false;
    }
  };

  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dir, { persistent: false }, () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        void run();
      }, SETTLE_MS);
    });
    watcher.on("error", onError);
  } catch (err) {
    onError(err);
  }

  return {
    close() {
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
