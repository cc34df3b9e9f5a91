// Timestamps as the engine stores and compares them: `Date.prototype.toISOString` text. An event
// formats about ten of them (the stack's times as read, its timers, deadlines, the task message),
// and V8's toISOString costs several times what formatting the fields here does.

const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const three = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/** `new Date(time).toISOString()`, the same text (and the same RangeError for an invalid time), faster. */
export function isoTime(time: number | Date): string {
  const d = typeof time === "number" ? new Date(time) : time;
  const year = d.getUTCFullYear();
  // Years 0-999 need zero-padding and the others a sign and six digits: left to toISOString,
  // which also throws for an invalid date.
  if (!(year >= 1000 && year <= 9999)) return d.toISOString();
  return `${year}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}T${two(d.getUTCHours())}:${two(
    d.getUTCMinutes(),
  )}:${two(d.getUTCSeconds())}.${three(d.getUTCMilliseconds())}Z`;
}
