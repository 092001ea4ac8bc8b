/**
 * rnnlab's library API. Everything the CLI does is available here.
 */
export { type ModelSpec, SPEC_DEFAULTS, parseSpec, specToJSON, describeSpec } from './spec.js';
export { type CellType, type CellInfo, CELLS, CELL_TABLE, GATE_NAMES, cellOf, carries, gateCount } from './cells.js';
export { type NamedParams, type ParamInfo, paramLayout, paramCount, initParams, randomTestParams, validateParams, castParams, gateOf } from './params.js';
export { type Tensor, type NamedTensors, type DType, numel } from './tensor.js';
export { type Engine, type ModelEngine, type KindTypes, type SequenceModels, type Awaitable, type StepResult, type Batch, type State, type LossAndGrads, type GradRequest, validateBatch, zeroState, outputShape } from './engine.js';
export { type OptimizerSpec, type OptimizerName, OPTIMIZERS, optimizerSpec, optimizerSlots, DEFAULT_LR } from './optimizer.js';
export { readSafetensors, writeSafetensors, encodeSafetensors, decodeSafetensors } from './io/safetensors.js';
export { Rng, deriveSeed } from './rng.js';
export { randomBatch } from './data/synthetic.js';
export { InputError, RunError } from './errors.js';
export { ScratchEngine, type ScratchOptions, makeCell } from '../scratch/engine.js';
export type { Cell, CellWeights, CellGrads, StepArgs, BackArgs } from '../scratch/cells/cell.js';
export { gradcheck, type GradcheckReport, type GradcheckOptions } from '../compare/gradcheck.js';
export { TOLERANCES, compareArrays, type Agreement } from './tolerance.js';
export { readCheckpoint, writeCheckpoint, type Checkpoint } from './io/checkpoint.js';
export { toPyTorch, fromPyTorch, type PyTorchNames } from './pytorch.js';
// tfjs is imported lazily (inside loadTf), so these exports do not load it.
export { createTfjsEngine, TfjsEngine, type TfjsOptions } from '../tfjs/engine.js';
export { loadTf, type BackendRequest, type BackendName, type LoadedTf } from '../tfjs/backend.js';
export { exportTfjs } from '../tfjs/export.js';
export { registerLayers, loadLayersModel, KerasModelEngine } from '../tfjs/keras.js';
export { importKerasModel, modelFiles, batchForModel, maskFromInput, type ImportedModel, type KerasMasking } from './import/keras.js';
export { readKerasModel } from './import/keras-files.js';
export { check, generatedInputs, fileInputs, batchFromTensors, writeDump, MISTAKE_IDS, type Mistake, type CheckInputs, type CheckOptions, type CheckResult } from '../compare/check.js';
export { runCheck, type CheckReport, type Comparison, type CheckSetup } from '../compare/comparisons.js';
// sequence to sequence
export { type Seq2SeqSpec, type Seq2SeqBatch, type Attention, ATTENTIONS, parseSeq2SeqSpec, seq2seqLayout, seq2seqToJSON, seq2seqParamCount, decoderSize, PAD, BOS, EOS } from './seq2seq/spec.js';
export { type DecoderState, type DecoderStepOut, type Seq2SeqSources, type Seq2SeqStepper, selectStateRows } from './seq2seq/state.js';
export { type Seq2SeqEngine, type Seq2SeqModels, type Seq2SeqForward, type Seq2SeqGrads, validateSeq2SeqBatch } from './seq2seq/engine.js';
export { initSeq2SeqParams, randomSeq2SeqParams, randomSeq2SeqBatch } from './seq2seq/params.js';
export { ScratchSeq2Seq } from '../scratch/seq2seq.js';
export { createTfjsSeq2SeqEngine, TfjsSeq2SeqEngine } from '../tfjs/seq2seq.js';
export { gradcheckSeq2Seq } from '../compare/gradcheck.js';
export { runSeq2SeqCheck } from '../compare/seq2seq.js';
export { loadSeq2SeqData, buildVocabs, splitPairs, makeBatch, metrics as seq2seqMetrics, Seq2SeqVocab } from './seq2seq/data.js';
export { greedyDecode, beamSearch, translateTexts } from './seq2seq/decode.js';
export { createSeq2SeqEngine } from './engines/registry.js';
// kernels
export { type Kernels, jsKernels, gemm } from '../scratch/kernels.js';
export { makeKernels, float64Kernels, describeKernels, type KernelChoice } from '../scratch/kernel-choice.js';
export { findBlas, type Blas } from '../scratch/blas.js';
export { blasKernels, type BlasKernels } from '../scratch/blas-kernels.js';
export { createWasmKernels, type WasmKernels } from '../scratch/wasm/index.js';
// tasks and training
export { train, type TrainTask, type TrainConfig, type TrainSummary } from './train/loop.js';
export { createEngines, openProvider, parseEngineList, parseEngineRef, findPython, type EngineRef, type EngineProvider, type EngineSet } from './engines/registry.js';
export { EngineProcess, ProcessEngine, splitCommand, closeAllEngineProcesses, PROTOCOL_VERSION } from './engines/registry.js';
export { findBrowser, closeAllBrowsers, BROWSER_BACKENDS, type BrowserBackend } from './engines/registry.js';
export { ModuleEngine, loadEngineModule, type UserEngine, type UserSeq2SeqEngine } from './engines/registry.js';
export { type Supports, FULL_SUPPORT, parseSupports, modelUnsupported, seq2seqUnsupported, trainingUnsupported } from './supports.js';
export { EngineError, UnsupportedError } from './errors.js';
export { loadCorpus, stripGutenberg } from './data/corpus.js';
export { CharTokenizer, ByteTokenizer, WordTokenizer, tokenizerFromJSON, type Tokenizer } from './data/tokenizers.js';
export { loadSeries, fitScaler, syntheticSeries, type Series } from './data/series.js';
export { loadLabelled } from './data/labelled.js';
export { TextTask } from './tasks/text.js';
export { SeriesTask, forecastNext, forecastMetrics } from './tasks/series.js';
export { ClassifyTask, splitExamples, predictText } from './tasks/classify.js';
export { generateIds, sampleLogits } from './tasks/sampling.js';
export { TASKS, taskModule, registerTask } from './tasks/registry.js';
export { type TaskModule, type TaskFlag, type BuiltTask, defineTask } from './tasks/task.js';
export { type TrainOptions, modelSpec, buildOptimizer } from './run-options.js';
export { PRESETS } from './tasks/presets.js';
// timing and reports
export { benchConfig, type BenchRow, type EngineFactory } from '../compare/bench.js';
export { loadRun, chartsFor } from './report/plots.js';
export { reportHtml } from './report/html.js';
export { lineChart, barChart, heatmap } from './io/svg.js';
