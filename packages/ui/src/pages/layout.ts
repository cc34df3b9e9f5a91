// The page shell: navigation, assets, the live region and the data the client script reads.
import { type Html, html } from "../html.js";

/** What every page needs besides its own data. */
export interface PageContext {
  now: Date;
  /** The session's CSRF token, put into every action form. */
  csrf: string;
  readOnly: boolean;
  /** Hashed asset URLs. */
  assets: { css: string; js: string; morph: string };
  /** How pages learn of changes (sse unless measuring polling). */
  live: "sse" | "poll" | "off";
  /** Shown in the header: where the data comes from. */
  source: string;
  /** The newest history id when the page was rendered (live updates continue from it). */
  cursor: number;
}

export type Section = "stacks" | "machines";

/** A whole HTML document; `body` goes into the live region that updates without reloading. */
export function page(
  ctx: PageContext,
  opts: { title: string; section: Section; body: Html; before?: Html; scope?: string; still?: boolean },
): string {
  const nav = (section: Section, label: string, path: string) =>
    html`<a href="${path}"${opts.section === section ? html` aria-current="page"` : null}>${label}</a>`;
  return `<!doctype html>\n${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${opts.title} · Stackseam</title>
<link rel="stylesheet" href="${ctx.assets.css}">
<script src="${ctx.assets.morph}" defer></script>
<script type="module" src="${ctx.assets.js}"></script>
</head>
<body data-live="${opts.still ? "off" : ctx.live}" data-cursor="${ctx.cursor}">
<header class="top">
  <a class="brand" href="/stacks">Stackseam</a>
  <nav>${nav("stacks", "Stacks", "/stacks")}${nav("machines", "Machines", "/machines")}</nav>
  <span class="source" title="where this dashboard reads from">${ctx.source}</span>
  ${ctx.readOnly ? html`<span class="badge readonly" title="started with --read-only: no actions">read-only</span>` : null}
  <span class="live-state" id="live-state" data-state="idle" title="live updates">●</span>
</header>
${opts.before ?? null}
<main id="live"${opts.scope !== undefined ? html` data-stack="${opts.scope}"` : null}>
${opts.body}
</main>
</body>
</html>`}\n`;
}

/** A plain page for errors and notices (404, forbidden, refused actions). */
export function messagePage(
  ctx: PageContext,
  title: string,
  message: Html,
  section: Section = "stacks",
): string {
  return page(ctx, {
    title,
    section,
    body: html`<section class="notice"><h1>${title}</h1>${message}</section>`,
    still: true,
  });
}
