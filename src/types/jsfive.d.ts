/** The part of jsfive (a pure-JavaScript HDF5 reader, no types of its own) that rnnlab uses. */
declare module 'jsfive' {
  export class Group {
    readonly name: string;
    readonly keys: string[];
    readonly attrs: Record<string, unknown>;
    /** Throws a string when the path is not in the group. */
    get(path: string): Group | Dataset | null;
  }
  export class Dataset {
    readonly name: string;
    readonly shape: number[];
    /** "<f4", ">f8", ... for numbers. */
    readonly dtype: unknown;
    readonly value: unknown;
    readonly attrs: Record<string, unknown>;
  }
  export class File extends Group {
    constructor(buffer: ArrayBuffer, filename?: string);
  }
}
