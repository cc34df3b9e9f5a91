import { styleText } from "node:util";

/** A style `node:util` knows (`red`, `bold`, `dim`…). */
export type Style = Parameters<typeof styleText>[0];

/**
 * Colours text for the stream it goes to: only on a terminal, never when piped or redirected,
 * never with NO_COLOR (and always with FORCE_COLOR), as Node decides for that stream.
 */
export function paint(style: Style, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  return styleText(style, text, { stream });
}
