// Engine: tutor's numeric core. Hand-written forward and backward kernels over flat Float
// buffers, in the manner of llm.c, with OpenBLAS for the matrix products.
//
// Conventions, followed by every op in Ops/:
// - `Op.forward(out:..., inp:..., weight:..., dims)` writes its outputs;
//   `Op.backward(dinp:..., dweight:..., dout:..., inp:..., weight:..., dims)` ADDS into every
//   gradient buffer it is given (the caller zeroes gradients once per step). A nil gradient
//   buffer means "not wanted" and costs no work.
// - Shape legend: B = batch (sequences), T = tokens per sequence, N = B*T rows, C = channels
//   (width), IC/OC = input/output channels of a linear map, H = hidden width of the MLP,
//   NH = attention heads, HD = C/NH head width, R = LoRA rank, CC = conditioning width.
//   Buffers are row-major; the shape is written beside each one, e.g. `inp: [N, IC]`.
// - Every fast kernel has a naive `...Reference` beside it; the tests compare the two and check
//   gradients by finite differences.
// - Threads: `Threads.set(n)` (default 1). Each op runs one level of parallelism on the
//   engine's own threads; OpenBLAS stays single-threaded inside them (Gemm.swift says why).
//   Results are identical run to run for a given thread count.
//
// Where things are:
// - ParameterStore.swift: named tensors in one allocation, with gradients and Adam moments.
// - Optimizer.swift: AdamW and SGD over a subset of a store, with global-norm clipping.
// - DiTStack.swift: the Reasoner's transformer body (adaLN-Zero blocks, masked attention, LoRA);
//   its doc comment is the API summary.
// - Ops/: Linear, LoRA, LayerNorm, Modulation/GatedResidual/Residual, GELU/SiLU, Attention,
//   Embedding/TimestepEmbedding, MSE/MeanPool/Reduce, SpaceTime (Patchify, PositionEmbedding3D,
//   Concat, FrameTranspose, TemporalAttention), Rotary3D.
// - Gemm.swift, Threads.swift, FastMath.swift (fast exp/tanh).
// - ../CKernels: the C kernels behind Attention (sequences up to 128 tokens) and GELU.

/// Float buffer pointer types used throughout the engine.
public typealias FloatPointer = UnsafeMutablePointer<Float>
public typealias ConstFloatPointer = UnsafePointer<Float>
