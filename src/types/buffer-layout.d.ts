declare module 'buffer-layout' {
  export class Layout<T = unknown> {
    readonly span: number;
    readonly property: string | undefined;
    decode(b: Buffer, offset?: number): T;
    encode(src: T, b: Buffer, offset?: number): number;
  }
  export class Structure<T = Record<string, unknown>> extends Layout<T> {
    offsetOf(property: string): number | undefined;
  }
  export function u8(property?: string): Layout<number>;
  export function u16(property?: string): Layout<number>;
  export function u32(property?: string): Layout<number>;
  export function u16be(property?: string): Layout<number>;
  export function u32be(property?: string): Layout<number>;
  export function nu64(property?: string): Layout<number>;
  export function blob(length: number, property?: string): Layout<Buffer>;
  export function struct<T = Record<string, unknown>>(fields: Layout[], property?: string): Structure<T>;
}
