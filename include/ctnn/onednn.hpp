#pragma once
// The oneDNN backend: the fast CPU path (f32, bf16 on AVX512-BF16 / AMX), with ctnn::OneDnn as the
// device. Not included by <ctnn/ctnn.hpp>; link ctnn::onednn (CMake), which defines
// CTNN_WITH_ONEDNN.
//
//   #include <ctnn/onednn.hpp>
//   ctnn::Model<ctnn::GoogLeNet<1000, false>, ctnn::Shape<3, 224, 224>, float, ctnn::OneDnn> model;
//
// Layers with oneDNN primitives, forward and backward: Conv (+ an activation fused; grouped and
// depthwise too), ConvTranspose2d, MaxPool, AvgPool, AdaptiveAvgPool, Linear (+ ReLU fused), ReLU, ReLU6,
// Sigmoid, Tanh, SiLU, Hardswish, LeakyReLU, Softmax, Upsample (nearest, bilinear), BatchNorm
// (+ ReLU fused), Flatten, Concat; a Sum (Residual) and the ReLU after it in one pass. Every other
// layer runs the Eigen evaluator on plain copies (ctnn/onednn/fallback.hpp).

#include <ctnn/ctnn.hpp>   // the layers and the Eigen reference this backend falls back on

#include <ctnn/onednn/device.hpp>        // ctnn::OneDnn, ctnn::onednn::Precision, has_bf16, has_amx
#include <ctnn/onednn/context.hpp>       // ctnn::onednn::Context
#include <ctnn/onednn/fallback.hpp>      // Evaluator<L, OneDnn>: a kernel or the Eigen evaluator
#include <ctnn/onednn/conv.hpp>          // Conv, ConvTranspose2d, Fusion<Conv, ReLU, ReLU6, ..., OneDnn>
#include <ctnn/onednn/pointwise_depthwise.hpp>   // FusionAcross<1x1 Conv + BN + act, depthwise + BN + act, OneDnn>
#include <ctnn/onednn/pooling.hpp>       // MaxPool, AvgPool, AdaptiveAvgPool
#include <ctnn/onednn/linear.hpp>        // Linear, Fusion<Linear, ReLU, OneDnn>
#include <ctnn/onednn/elementwise.hpp>   // the activations, BatchNorm, Flatten
#include <ctnn/onednn/batch_norm_relu.hpp>   // Fusion<BatchNorm, ReLU, OneDnn>: ctnn's AVX-512 kernels in training
#include <ctnn/onednn/residual_relu.hpp>     // Fusion<Residual (Sum), ReLU, OneDnn>: the sum and ReLU in one pass
#include <ctnn/onednn/softmax.hpp>       // Softmax
#include <ctnn/onednn/upsample.hpp>      // Upsample
#include <ctnn/onednn/concat.hpp>        // Evaluator<Concat, OneDnn>
#include <ctnn/onednn/backend.hpp>       // ctnn::Backend<OneDnn, T>
#include <ctnn/onednn/model.hpp>         // ctnn::Model<Net, In, T, OneDnn>
