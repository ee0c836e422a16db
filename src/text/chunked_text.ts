/**
 * Streamed text gathered into chunks. Handing text on a character or a line at a time — a write to stdout (a system
 * call and the stream's bookkeeping, ≈ 5 µs), a message to the page — can cost as much as generating the character.
 * A chunk goes out once it holds `maxChars` characters or `maxMs` have passed since the last one, so streamed text
 * still appears as it is made; `flush()` hands on the rest.
 */
export class ChunkedText {
  private parts: string[] = [];
  private size = 0;
  private last = performance.now();

  constructor(
    private readonly write: (chunk: string) => void,
    private readonly maxChars = 256,
    private readonly maxMs = 20,
  ) {}

  add(text: string): void {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= this.maxChars || performance.now() - this.last >= this.maxMs) this.flush();
  }

  flush(): void {
    if (this.parts.length > 0) this.write(this.parts.join(''));
    this.parts = [];
    this.size = 0;
    this.last = performance.now();
  }
}
