/** Errors in DTS source: dtc's messages, with the source position dtc reports. */
export interface SrcPos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** A DTS source error (what dtc rejects). Not a FormatError: the input is text, not an image. */
export class DtsError extends Error {
  override readonly name = 'DtsError';
  constructor(readonly detail: string, readonly pos?: SrcPos) {
    super(pos ? `${pos.file}:${pos.line}.${pos.col}: ${detail}` : detail);
  }
}
