#pragma once
// ctnn's CUDA backend: the same network types on an NVIDIA GPU, chosen with the device tag.
//
//   #include <ctnn/ctnn.hpp>   // layers, models, initialisers (CPU)
//   #include <ctnn/cuda.hpp>   // this: Model<Net, In, T, ctnn::Cuda>, device optimizers, losses
//
//   ctnn::Model<ctnn::GoogLeNet<1000>, ctnn::Shape<3, 224, 224>, float, ctnn::Cuda> model;
//
// Link ctnn::cuda (CMake): the CUDA runtime, cuBLAS, cuDNN and NVRTC. Every file here is plain
// C++ for the host compiler; ctnn's few own kernels are compiled at run time by NVRTC
// (ctnn/cuda/kernels.hpp). ctnn.hpp never includes this header: a CPU-only program needs
// neither the CUDA toolkit nor any CUDA header.
//
//   error.hpp        CTNN_CUDA_CHECK, CTNN_CUDNN_CHECK, CTNN_CUBLAS_CHECK -> ctnn::Error
//   memory.hpp       DeviceSpan, DeviceBuffer, Mirrored, host <-> device copies
//   device.hpp       device_status(): is there a device, and if not why
//   kernels.hpp      ctnn's kernels: NVRTC compilation, launches
//   cudnn.hpp        cuDNN descriptors; a Slot as a strided tensor
//   context.hpp      cuda::Context: pass state, stream, handles, plan cache, workspace
//   backend.hpp      Backend<Cuda>: the model's device memory, planning, graph replay
//   conv.hpp         Evaluator<Conv, Cuda>, Fusion<Conv, ReLU, Cuda> (convolution + bias + ReLU)
//   pooling.hpp      Evaluator<MaxPool | AvgPool | AdaptiveAvgPool, Cuda>
//   elementwise.hpp  Evaluator<ReLU | TransformInput | Sigmoid | Tanh | SiLU | Hardswish | LeakyReLU, Cuda>,
//                    DropoutKernel<Cuda>
//   linear.hpp       Evaluator<Linear, Cuda>
//   batch_norm.hpp   Evaluator<BatchNorm, Cuda>
//   conv_transpose.hpp  ConvTranspose2d's bias (its evaluator runs the Conv's)
//   softmax.hpp      Evaluator<Softmax, Cuda>
//   upsample.hpp     Evaluator<Upsample, Cuda>
//   model.hpp        Model<Net, In, T, Cuda>
//   optim.hpp        cuda::optim::SGD, Adam, AdamW on the device
//   loss.hpp         cuda::ClassificationObjective on the device

#include <ctnn/ctnn.hpp>   // the layers and the CPU backend the GPU one mirrors

#include <ctnn/cuda/error.hpp>         // CTNN_CUDA_CHECK, CTNN_CUDNN_CHECK, CTNN_CUBLAS_CHECK
#include <ctnn/cuda/memory.hpp>        // ctnn::cuda::DeviceSpan, DeviceBuffer, to_device, to_host
#include <ctnn/cuda/device.hpp>        // ctnn::cuda::device_status
#include <ctnn/cuda/kernels.hpp>       // ctnn::cuda::KernelLibrary
#include <ctnn/cuda/context.hpp>       // ctnn::cuda::Context, AlgorithmSearch
#include <ctnn/cuda/backend.hpp>       // ctnn::Backend<Cuda, T>
#include <ctnn/cuda/conv.hpp>          // Evaluator<Conv, Cuda>, Fusion<Conv, ReLU, Cuda>
#include <ctnn/cuda/pooling.hpp>       // Evaluator<MaxPool | AvgPool | AdaptiveAvgPool, Cuda>
#include <ctnn/cuda/elementwise.hpp>   // Evaluator<ReLU | TransformInput | activations, Cuda>, DropoutKernel<Cuda>
#include <ctnn/cuda/linear.hpp>        // Evaluator<Linear, Cuda>
#include <ctnn/cuda/batch_norm.hpp>    // Evaluator<BatchNorm, Cuda>
// The GPU kernels of other CNN families' layers (the activations' are in elementwise.hpp).
#include <ctnn/cuda/conv_transpose.hpp>   // ConvTranspose2d's bias (its evaluator runs the Conv's)
#include <ctnn/cuda/softmax.hpp>          // Evaluator<Softmax, Cuda>
#include <ctnn/cuda/upsample.hpp>         // Evaluator<Upsample, Cuda>
#include <ctnn/cuda/model.hpp>         // ctnn::Model<Net, In, T, Cuda>
#include <ctnn/cuda/optim.hpp>         // ctnn::cuda::optim::SGD, Adam, AdamW
#include <ctnn/cuda/loss.hpp>          // ctnn::cuda::ClassificationObjective
