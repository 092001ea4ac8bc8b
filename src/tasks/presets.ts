/**
 * Presets: named bundles of `train` flags; any flag given on the command line overrides the
 * preset's value.
 *
 * The verne-* presets reproduce an earlier pure-Python from-scratch study on Jules Verne novels:
 * 256 byte codes (char) or the 5000 most frequent words (word), hidden 128, batch 1, windows of 50
 * tokens taken consecutively from the start of the file with the hidden state carried over, 100
 * windows (the study's "epochs"), classic Adagrad (accumulator from 0, eps 1e-8), lr 0.01,
 * gradients clipped element-wise to +-5, the loss summed over the 50 steps, and 40-token samples
 * at windows 20, 40, 60, 80 and 100.
 */
import type { CellType } from '../cells.js';

export interface Preset {
  description: string;
  /** Flag values by commander option name. */
  flags: Record<string, unknown>;
  /** For presets that reproduce a published run. */
  published?: { seconds: number; file: string };
}

const verne = (file: string, level: 'char' | 'word', cell: CellType, seconds: number): Preset => ({
  description: `${level} ${cell.toUpperCase()} on "${file}" (Jules Verne study; published run time ${seconds} s)`,
  published: { seconds, file },
  flags: {
    task: 'text',
    corpusFile: file,
    level,
    vocab: level === 'char' ? 'bytes256' : '5000',
    cell,
    hidden: 128,
    layers: 1,
    batch: 1,
    seq: 50,
    windows: 'consecutive',
    steps: 100,
    sampleAt: [20, 40, 60, 80, 100],
    sampleLength: 40,
    temperature: 1,
    optimizer: 'adagrad',
    lr: 0.01,
    initialAccumulator: 0,
    epsilon: 1e-8,
    clipValue: 5,
    lossReduction: 'sumOverTime',
    // the study had no validation split; read a small one only at the end
    valTokens: 2000,
    valAtBreakpoints: false,
  },
});

export const PRESETS: Record<string, Preset> = {
  'verne-char-rnn': verne('Around the World in Eighty days.txt', 'char', 'rnn', 139),
  'verne-char-lstm': verne('The Mysterious Island.txt', 'char', 'lstm', 407),
  'verne-word-rnn': verne('The master of the world.txt', 'word', 'rnn', 2457),
  'verne-word-lstm': verne('From the Earth to the Moon.txt', 'word', 'lstm', 5776),
};
