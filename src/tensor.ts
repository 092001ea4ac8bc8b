/** A named, shaped buffer: the unit in which weights, data and results travel (safetensors). */

export type DType = 'F32' | 'F64' | 'I32' | 'U8';
export type FloatArray = Float32Array | Float64Array;
export type TypedData = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TypedData;
  /** The dtype in the file when it was converted on reading (I64 class ids are read as I32). */
  fileDtype?: string;
}

/** Tensors by name; key order is the canonical order where one exists. */
export type NamedTensors = Record<string, Tensor>;

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export const shapeStr = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

export function dtypeOf(data: TypedData): DType {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  return 'U8';
}

export function tensor(data: TypedData, shape: number[]): Tensor {
  if (numel(shape) !== data.length) {
    throw new Error(`tensor: ${data.length} elements do not fill shape ${shapeStr(shape)}`);
  }
  return { dtype: dtypeOf(data), shape: [...shape], data };
}

