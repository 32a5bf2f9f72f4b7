import { createParser } from "eventsource-parser";

/**
 * Turns the bytes of an SSE body into the `data` of each complete frame. Multi-byte characters
 * split across chunks are decoded whole; a frame split across chunks comes out once it is complete.
 */
export class SseFrames {
  private readonly decoder = new TextDecoder();
  private frames: string[] = [];
  private readonly parser = createParser({ onEvent: (event) => this.frames.push(event.data) });

  /** Feeds one chunk of the body; returns the frames it completed. */
  push(chunk: Uint8Array): string[] {
    this.parser.feed(this.decoder.decode(chunk, { stream: true }));
    const complete = this.frames;
    this.frames = [];
    return complete;
  }
}
