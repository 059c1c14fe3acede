#pragma once
// ctnn: compile-time neural networks. The umbrella header of the CMake target ctnn::ctnn: layers,
// GoogLeNet, the CPU backend, models, initialisers, the summary, losses and optimizers. It needs
// the standard library, Eigen and OpenMP only. The other parts, each with its own target:
//   <ctnn/io.hpp>     ctnn::io     weights (safetensors) files            + nlohmann-json
//   <ctnn/image.hpp>  ctnn::image  JPEG and PNG decoding, preprocessing   + libpng, libjpeg
//   <ctnn/data.hpp>   ctnn::data   data sets (Fashion-MNIST), batching    + zlib
//   <ctnn/train.hpp>  ctnn::train  trainer, checkpoints, plots            + ctnn::io, ctnn::data, stb
//   <ctnn/cuda.hpp>   ctnn::cuda   the CUDA backend                       + CUDA, cuBLAS, cuDNN

#include <ctnn/config.hpp>        // version, CTNN_HOST_DEVICE
#include <ctnn/error.hpp>         // ctnn::Error
#include <ctnn/shape.hpp>         // ctnn::Shape, ctnn::output_shape_t
#include <ctnn/layer.hpp>         // ctnn::parameter_count_v, ctnn::macs_v
#include <ctnn/evaluator.hpp>     // ctnn::Cpu, ctnn::Cuda, ctnn::Evaluator

#include <ctnn/layers/aux_output.hpp>      // ctnn::AuxOutput
#include <ctnn/layers/basic_conv.hpp>      // ctnn::BasicConv2d
#include <ctnn/layers/batch_norm.hpp>      // ctnn::BatchNorm
#include <ctnn/layers/concat.hpp>          // ctnn::Concat
#include <ctnn/layers/conv.hpp>            // ctnn::Conv
#include <ctnn/layers/dropout.hpp>         // ctnn::Dropout
#include <ctnn/layers/flatten.hpp>         // ctnn::Flatten
#include <ctnn/layers/identity.hpp>        // ctnn::Identity
#include <ctnn/layers/googlenet.hpp>       // ctnn::GoogLeNet
#include <ctnn/layers/inception.hpp>       // ctnn::Inception
#include <ctnn/layers/inception_aux.hpp>   // ctnn::InceptionAux
#include <ctnn/layers/linear.hpp>          // ctnn::Linear
#include <ctnn/layers/named.hpp>           // ctnn::Named
#include <ctnn/layers/pooling.hpp>         // ctnn::MaxPool, ctnn::AvgPool, ctnn::AdaptiveAvgPool
#include <ctnn/layers/relu.hpp>            // ctnn::ReLU
#include <ctnn/layers/relu6.hpp>           // ctnn::ReLU6
#include <ctnn/layers/residual.hpp>        // ctnn::Residual
#include <ctnn/layers/sequential.hpp>      // ctnn::Sequential
#include <ctnn/layers/sum.hpp>             // ctnn::Sum
#include <ctnn/layers/torchvision_googlenet.hpp>   // ctnn::TorchvisionGoogLeNet, ctnn::torchvision::*
#include <ctnn/layers/transform_input.hpp>         // ctnn::TransformInput
// Layers of other CNN families.
#include <ctnn/layers/activations.hpp>      // ctnn::Sigmoid, Tanh, SiLU, Hardswish, LeakyReLU
#include <ctnn/layers/conv_transpose.hpp>   // ctnn::ConvTranspose2d
#include <ctnn/layers/softmax.hpp>          // ctnn::Softmax
#include <ctnn/layers/upsample.hpp>         // ctnn::Upsample, ctnn::UpsampleMode

#include <ctnn/cpu/batch_norm.hpp>    // Evaluator<BatchNorm, Cpu>
#include <ctnn/cpu/conv.hpp>          // Evaluator<Conv, Cpu>
#include <ctnn/cpu/elementwise.hpp>   // Evaluator<ReLU, Cpu>, DropoutKernel<Cpu>
#include <ctnn/cpu/linear.hpp>        // Evaluator<Linear, Cpu>
#include <ctnn/cpu/pooling.hpp>       // Evaluator<MaxPool | AvgPool | AdaptiveAvgPool, Cpu>
#include <ctnn/cpu/transform_input.hpp>   // Evaluator<TransformInput, Cpu>
// Their CPU kernels (the activations' are in cpu/elementwise.hpp).
#include <ctnn/cpu/conv_transpose.hpp>    // ConvTranspose2d's bias (its evaluator runs the Conv's)
#include <ctnn/cpu/softmax.hpp>           // Evaluator<Softmax, Cpu>
#include <ctnn/cpu/upsample.hpp>          // Evaluator<Upsample, Cpu>

#include <ctnn/queries.hpp>      // ctnn::activation_bytes_v
#include <ctnn/model.hpp>        // ctnn::Model
#include <ctnn/parameters.hpp>   // ctnn::named_tensors
#include <ctnn/init.hpp>         // ctnn::init::*
#include <ctnn/summary.hpp>      // ctnn::summary
#include <ctnn/walk.hpp>         // ctnn::walk
#include <ctnn/find_layer.hpp>   // ctnn::find_layer, ctnn::layer_infos
#include <ctnn/features.hpp>     // ctnn::features_of
#include <ctnn/freeze.hpp>       // ctnn::freeze_up_to, ctnn::unfreeze
#include <ctnn/loss.hpp>         // ctnn::cross_entropy, ctnn::ClassificationObjective, ctnn::top1_accuracy

#include <ctnn/optim/adam.hpp>          // ctnn::optim::Adam, ctnn::optim::AdamW
#include <ctnn/optim/lr_schedule.hpp>   // ctnn::optim::StepLR, ctnn::optim::CosineAnnealingLR
#include <ctnn/optim/sgd.hpp>           // ctnn::optim::SGD
