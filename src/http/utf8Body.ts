/**
 * Request bodies checked as UTF-8 byte by byte as they arrive. The platform
 * decodes a body as UTF-8 with U+FFFD in place of each invalid sequence, and
 * the text alone cannot tell a U+FFFD the client sent from one the decoder
 * put in for a four-byte character cut after its third byte: both are three
 * bytes, so the length test in bodyLimit.ts misses exactly that case. Node's
 * HTTP parser pushes each raw chunk of a body into the request's
 * `IncomingMessage`; this one (`http.createServer({ IncomingMessage })`)
 * runs a strict streaming decoder over the chunks on their way, so a
 * character split between two chunks is still one character.
 */
import * as http from "node:http"

export class Utf8CheckedMessage extends http.IncomingMessage {
  private readonly decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
  private invalid = false

  /** Whether the body read so far holds bytes that are not UTF-8 (a character cut at its very end counts once the body has ended). */
  get notUtf8(): boolean {
    return this.invalid
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (!this.invalid) {
      try {
        // `null` ends the body: the decoder's flush throws on a character left unfinished.
        if (chunk === null) this.decoder.decode()
        else if (chunk instanceof Uint8Array) this.decoder.decode(chunk, { stream: true })
      } catch {
        this.invalid = true
      }
    }
    return super.push(chunk, encoding)
  }
}
