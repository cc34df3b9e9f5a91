// The dashboard that dev serves next to the engine: same database, actions through dev's queue.
import type { DevInstance } from "../connection.js";
import { eventPublisher } from "../publish.js";
import { currentSpecs } from "../ui-specs.js";
import type { LiveLog } from "./live-log.js";

/** The port dev tries first for its dashboard; a taken one is replaced by a free one. */
export const DEV_UI_PORT = 4680;

export interface DevDashboard {
  url: string;
  close(): Promise<void>;
}

/** Starts the dashboard on 127.0.0.1 for a running dev; a failure is a warning, never a stop. */
export async function startDevDashboard(instance: DevInstance, live: LiveLog): Promise<DevDashboard | null> {
  const publisher = eventPublisher(
    {
      source: "dev",
      eventQueueUrl: instance.eventQueueUrl,
      endpoint: instance.endpoint,
      region: instance.region,
      credentials: { accessKeyId: "stackseam-dev", secretAccessKey: "stackseam-dev" },
    },
    "stackseam-ui",
  );
  const specs = currentSpecs(undefined, instance);
  try {
    const ui = await import("@stackseam/ui");
    const options = {
      databaseUrl: instance.databaseUrl,
      host: "127.0.0.1",
      ...(publisher ? { publish: publisher.publish } : {}),
      ...(specs ? { specs } : {}),
      source: "dev",
      onError: (err: unknown) => live.error(`dashboard: ${(err as Error).message}`),
    };
    const dashboard = await ui
      .startDashboard({ ...options, port: DEV_UI_PORT })
      .catch(() => ui.startDashboard({ ...options, port: 0 }));
    return {
      url: dashboard.url,
      close: async () => {
        await dashboard.close();
        publisher?.close();
      },
    };
  } catch (err) {
    publisher?.close();
    live.warn(`dashboard not started: ${(err as Error).message}`);
    return null;
  }
}
