/** @stackseam/ui: the dashboard, served by `stackseam ui` and `stackseam dev`. */
export {
  ACTION_KINDS,
  type ActionKind,
  actionMessage,
  DASHBOARD_KEY_PREFIX,
  dashboardEventId,
  type Offer,
  offeredActions,
  type Publisher,
} from "./actions.js";
export type { CurrentSpecs } from "./data.js";
export { type DiagramMarks, machineDiagram } from "./diagram.js";
export { AssetMissingError, DashboardError, ListenError, UnsafeBindError } from "./errors.js";
export { escapeHtml, Html, html } from "./html.js";
export { isLoopback, newToken, sameSecret } from "./security.js";
export {
  type Dashboard,
  type DashboardOptions,
  DEFAULT_PORT,
  parseStacksQuery,
  startDashboard,
} from "./server.js";
