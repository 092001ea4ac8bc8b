/**
 * The mask a Keras model derives from its input (Embedding mask_zero, Masking). Apart from the
 * reader in keras.ts because it has no Node imports: the tfjs twin runs it in a browser page too
 * (tfjs/keras.ts, loaded by tfjs/page.ts).
 */
export type KerasMasking = { kind: 'none' } | { kind: 'zero' } | { kind: 'value'; value: number };

/** The mask a Keras model derives from a batch's input: 1 = real step. */
export function maskFromInput(masking: KerasMasking, x: ArrayLike<number>, B: number, T: number, F: number): Uint8Array | null {
  if (masking.kind === 'none') return null;
  const mask = new Uint8Array(B * T);
  for (let s = 0; s < B * T; s++) {
    if (masking.kind === 'zero') mask[s] = x[s] !== 0 ? 1 : 0;
    else {
      let any = 0;
      for (let f = 0; f < F; f++) if (x[s * F + f] !== masking.value) any = 1;
      mask[s] = any;
    }
  }
  return mask;
}
