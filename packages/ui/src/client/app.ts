// The dashboard's only script: live updates. Pages are complete without it; with it, a change
// announced by the server re-fetches the page and morphs its live region in place (idiomorph), so
// open details, focus and scroll stay where they are.

declare const Idiomorph: {
  morph(
    oldNode: Element,
    newContent: Element,
    config?: { morphStyle?: string; ignoreActiveValue?: boolean },
  ): unknown;
};

interface Change {
  cursor: number;
  stacks: string[];
  all: boolean;
}

const body = document.body;
const mode = body.dataset.live ?? "off";
const indicator = document.getElementById("live-state");
let cursor = Number(body.dataset.cursor ?? 0);
let inFlight = false;
let again = false;

function setState(state: "live" | "reconnecting" | "idle"): void {
  if (indicator) {
    indicator.dataset.state = state;
    indicator.title = state === "live" ? "live: changes appear as they happen" : state;
  }
}

/** Fetches the current address and morphs the live region; one at a time, coalescing bursts. */
async function refresh(): Promise<void> {
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  try {
    const res = await fetch(location.href, {
      headers: { accept: "text/html" },
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const next = doc.getElementById("live");
    const current = document.getElementById("live");
    if (next && current) {
      Idiomorph.morph(current, next, { morphStyle: "outerHTML", ignoreActiveValue: true });
      document.title = doc.title;
      cursor = Math.max(cursor, Number(doc.body.dataset.cursor ?? 0));
      body.dataset.refreshed = String(Number(body.dataset.refreshed ?? 0) + 1);
    }
  } catch {
    // The next change (or poll) tries again.
  } finally {
    inFlight = false;
    if (again) {
      again = false;
      void refresh();
    }
  }
}

function concerns(change: Change): boolean {
  const scope = document.getElementById("live")?.dataset.stack;
  return scope === undefined || change.all || change.stacks.includes(scope);
}

if (mode === "sse" && "EventSource" in window) {
  const source = new EventSource("/live");
  source.addEventListener("open", () => setState("live"));
  source.addEventListener("error", () => setState("reconnecting"));
  source.addEventListener("hello", (e) => {
    const hello = JSON.parse((e as MessageEvent<string>).data) as { cursor: number };
    if (hello.cursor > cursor) void refresh();
  });
  source.addEventListener("change", (e) => {
    const change = JSON.parse((e as MessageEvent<string>).data) as Change;
    if (change.cursor > cursor && concerns(change)) void refresh();
    else cursor = Math.max(cursor, change.cursor);
  });
} else if (mode === "poll") {
  setState("live");
  setInterval(() => void refresh(), 1000);
}

// A confirmation button sends once: further clicks while the page changes do nothing (the event
// key would make a second send harmless anyway).
document.addEventListener("submit", (e) => {
  const form = e.target as HTMLFormElement;
  if (form.classList.contains("confirm-form")) {
    if (form.dataset.sent === "1") e.preventDefault();
    form.dataset.sent = "1";
  }
});
