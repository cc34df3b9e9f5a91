/** Keeps only the last `limit` bytes of a stream, so a chatty process never grows memory. */
export class OutputTail {
  readonly limit: number;
  #buf: Buffer = Buffer.alloc(0);
  #total = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Appends a chunk, dropping the oldest bytes beyond the limit. */
  push(chunk: Buffer): void {
    this.#total += chunk.length;
    if (chunk.length >= this.limit) {
      this.#buf = Buffer.from(chunk.subarray(chunk.length - this.limit));
      return;
    }
    const joined = Buffer.concat([this.#buf, chunk]);
    this.#buf =
      joined.length > this.limit ? Buffer.from(joined.subarray(joined.length - this.limit)) : joined;
  }

  /** Bytes seen in total, kept or not. */
  get totalBytes(): number {
    return this.#total;
  }

  /** The kept tail as text; says how much was cut when the output was longer. */
  text(): string {
    // A cut may land inside a multi-byte character; skip continuation bytes so the text starts clean.
    let start = 0;
    if (this.#total > this.#buf.length) {
      while (start < this.#buf.length && ((this.#buf[start] ?? 0) & 0xc0) === 0x80) start++;
    }
    const body = this.#buf.subarray(start).toString("utf8");
    const dropped = this.#total - (this.#buf.length - start);
    return dropped > 0 ? `[… ${dropped} earlier bytes omitted …]\n${body}` : body;
  }
}

/**
 * Splits a byte stream into lines for logging. A line longer than `maxLine` bytes is emitted in
 * pieces so one enormous line cannot be buffered whole.
 */
export class LineSplitter {
  readonly #maxLine: number;
  readonly #emit: (line: string) => void;
  #pending: Buffer = Buffer.alloc(0);

  constructor(emit: (line: string) => void, maxLine = 8192) {
    this.#emit = emit;
    this.#maxLine = maxLine;
  }

  /** Feeds a chunk; complete lines are emitted at once. */
  push(chunk: Buffer): void {
    let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10)) {
      this.#out(data.subarray(0, nl));
      data = data.subarray(nl + 1);
    }
    while (data.length > this.#maxLine) {
      this.#out(data.subarray(0, this.#maxLine));
      data = data.subarray(this.#maxLine);
    }
    this.#pending = Buffer.from(data);
  }

  /** Emits what is left after the stream ended. */
  end(): void {
    if (this.#pending.length > 0) this.#out(this.#pending);
    this.#pending = Buffer.alloc(0);
  }

  #out(bytes: Buffer): void {
    let text = bytes.toString("utf8");
    if (text.endsWith("\r")) text = text.slice(0, -1);
    this.#emit(text);
  }
}
