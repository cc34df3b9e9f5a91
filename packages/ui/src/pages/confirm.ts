// The confirmation before an action: it names the stack and the event, and says what will happen.
import type { Machine, Stack } from "@stackseam/core";
import type { Offer } from "../actions.js";
import { type Html, href, html, text } from "../html.js";
import { type PageContext, page } from "./layout.js";

function consequence(offer: Offer, stack: Stack, machine: Machine | null): Html {
  if (offer.kind === "retry-failed") {
    const failed = stack.tasks.filter((t) => t.status === "ERROR").map((t) => t.name);
    return html`The failed task${failed.length === 1 ? "" : "s"} ${failed.join(", ")} will be dispatched again.`;
  }
  if (offer.kind === "retry-pending") {
    const pending = stack.tasks.filter((t) => t.status === "PENDING").map((t) => t.name);
    return html`The pending task${pending.length === 1 ? "" : "s"} ${pending.join(", ")} will be dispatched again (the running attempt's report will then be ignored).`;
  }
  const actions = machine?.states.get(stack.state)?.on?.[offer.event] ?? [];
  const advance = actions.find((a) => a.action === "advance");
  if (advance && advance.action === "advance")
    return html`${stack.state} → <strong>${advance.state}</strong>${offer.kind === "destroy" ? " — the environment is torn down and the stack removed." : "."}`;
  return html`${stack.state} handles ${offer.event} without leaving the state.`;
}

/** Renders the confirmation page of one action on one stack. */
export function confirmPage(
  ctx: PageContext,
  stack: Stack,
  machine: Machine | null,
  offer: Offer,
  seen: number,
): string {
  const id = text(stack.id, 128);
  const body = html`<section class="card confirm"><h1>${offer.kind === "destroy" ? "Destroy" : offer.label} — stack <span class="stack-id">${id}</span>?</h1>
<p>Send <code>${offer.event}</code> to stack <strong class="stack-id">${id}</strong> (machine ${stack.machine}, state ${stack.state}).</p>
<p>${consequence(offer, stack, machine)}</p>
<form method="post" action="${href(["stacks", stack.id, "actions"])}" class="confirm-form">
  <input type="hidden" name="csrf" value="${ctx.csrf}">
  <input type="hidden" name="action" value="${offer.kind}">
  <input type="hidden" name="event" value="${offer.event}">
  <input type="hidden" name="seen" value="${seen}">
  ${
    offer.danger
      ? html`<label>Type the stack id to confirm: <input name="confirm" autocomplete="off" required spellcheck="false"></label>`
      : null
  }
  <div class="buttons"><button type="submit" class="${offer.danger ? "danger" : "primary"}" data-confirm>${offer.kind === "destroy" ? `Destroy ${stack.id}` : `${offer.label}: ${stack.id}`}</button>
  <a class="button" href="${href(["stacks", stack.id])}">Cancel</a></div>
</form>
<p class="muted">Sent through the event queue with a key derived from this confirmation, so confirming twice acts once. It is recorded in the stack's history as coming from the dashboard.</p></section>`;
  // Still: what the person confirms (and the key it sends) must not change under the cursor.
  return page(ctx, { title: `Confirm ${offer.event}`, section: "stacks", body, still: true });
}
