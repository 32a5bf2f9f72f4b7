import { createParser } from "eventsource-parser";
import { TurnError } from "../contract/turn-error.js";

/**
 * The most characters one event may take (its data lines, or a line not yet ended). opencode's largest
 * events (a part's closing update with its whole text, a session diff) are far below it.
 */
export const MAX_EVENT_CHARS = 16 * 1024 * 1024;

/**
 * Turns the bytes of an SSE body into the `data` of each complete frame. Multi-byte characters
 * split across chunks are decoded whole; a frame split across chunks comes out once it is complete.
 * What is buffered for an unfinished frame is capped: a line that never ends (or an event that never
 * does) throws `stream_lost` once it passes the cap, instead of growing without bound.
 */
export class SseFrames {
  private readonly decoder = new TextDecoder();
  private frames: string[] = [];
  private overflow = false;
  private readonly parser;

  constructor(private readonly maxEventChars: number = MAX_EVENT_CHARS) {
    this.parser = createParser({
      onEvent: (event) => this.frames.push(event.data),
      onError: (error) => {
        if (error.type === "max-buffer-size-exceeded") this.overflow = true;
      },
      maxBufferSize: maxEventChars,
    });
  }

  /** Feeds one chunk of the body; returns the frames it completed. */
  push(chunk: Uint8Array): string[] {
    this.parser.feed(this.decoder.decode(chunk, { stream: true }));
    if (this.overflow) {
      // The parser has dropped what it held; the stream cannot be trusted to resume mid-line.
      throw new TurnError("stream_lost", `The event stream sent an event or line longer than ${this.maxEventChars} characters; it was dropped and the stream cut`);
    }
    const complete = this.frames;
    this.frames = [];
    return complete;
  }
}
