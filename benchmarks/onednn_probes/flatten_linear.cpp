// oneDNN 3.x (tools/install-deps's): InceptionAux's Flatten + fc1 in training, two ways. Its
// 1x1 convolution leaves a 128 x 4 x 4 image in the device layout (NHWC); fc1 is
// Linear<2048, 1024> over PyTorch's flatten, whose features are in NCHW order. Batch 16:
//   reorder + 2D    what ctnn's onednn/elementwise.hpp Flatten does: the image permuted into NCHW
//                   order through a staging buffer, then the inner product over [16, 2048]
//                   features; backward: dW and dx over the features, dx permuted back into the
//                   NHWC image
//   4D              the inner product reading the NHWC image itself as src [16, 128, 4, 4]
//                   (weights [1024, 128, 4, 4], in the layout oneDNN picks): no permutation
// Prints the implementation oneDNN picks and milliseconds (best of 50) of the forward and of
// the backward (weights and data), and of reorder + 2D's permutations alone, f32 and bf16.
//   built and run by benchmarks/onednn_probes/run

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "best_of.hpp"   // best_ms

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {
engine eng(engine::kind::cpu, 0);
constexpr memory::dim batch = 16, channels = 128, height = 4, width = 4, features = channels * height * width,
                      outputs = 1024;

// Element (c, p) of each image between NHWC (p * C + c) and NCHW (c * plane + p) order, through
// `staged`, then copied to `to` (as ctnn's Flatten: source and destination may be one buffer).
template <class V>
void permute(const V* from, V* staged, V* to, bool to_nchw) {
  constexpr memory::dim plane = height * width;
#pragma omp parallel for num_threads(2)
  for (memory::dim n = 0; n < batch; ++n) {
    const V* s = from + n * features;
    V* d = staged + n * features;
    for (memory::dim c = 0; c < channels; ++c)
      for (memory::dim p = 0; p < plane; ++p) {
        if (to_nchw) d[c * plane + p] = s[p * channels + c];
        else d[p * channels + c] = s[c * plane + p];
      }
    std::memcpy(to + n * features, d, features * sizeof(V));
  }
}

struct Timing {
  double forward, backward, permutations;  // permutations: both of reorder + 2D's, alone
  const char *forward_impl, *backward_impl;
};

template <class V>
Timing run(dt type, bool four_d) {
  const memory::desc src = four_d ? memory::desc({batch, channels, height, width}, type, tag::nhwc)
                                  : memory::desc({batch, features}, type, tag::ab);
  const memory::dims weight_dims = four_d ? memory::dims{outputs, channels, height, width} : memory::dims{outputs, features};
  const memory::desc weights(weight_dims, type, tag::any), diff_weights(weight_dims, dt::f32, tag::any);
  const memory::desc bias({outputs}, dt::f32, tag::a), dst({batch, outputs}, type, tag::ab);
  const inner_product_forward::primitive_desc forward_pd(eng, prop_kind::forward_training, src, weights, bias, dst);
  const inner_product_backward_data::primitive_desc data_pd(eng, src, weights, dst, forward_pd);
  const inner_product_backward_weights::primitive_desc weights_pd(eng, src, diff_weights, bias, dst, forward_pd);
  const inner_product_forward forward(forward_pd);
  const inner_product_backward_data data(data_pd);
  const inner_product_backward_weights weights_gradient(weights_pd);

  std::vector<V> image(batch * features, V{}), staged(batch * features), feature_buffer(batch * features);
  for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<V>(i % 7);
  V* x = four_d ? image.data() : feature_buffer.data();
  memory x_mem(src, eng, x), dx_mem(src, eng, x), w_mem(forward_pd.weights_desc(), eng), b_mem(bias, eng),
      y_mem(dst, eng), dy_mem(dst, eng), dw_mem(weights_pd.diff_weights_desc(), eng), db_mem(bias, eng);
  stream s(eng);
  const double forward_ms = best_ms(50, [&] {
    if (!four_d) permute(image.data(), staged.data(), feature_buffer.data(), true);
    forward.execute(s, {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_BIAS, b_mem}, {DNNL_ARG_DST, y_mem}});
    s.wait();
  });
  const double backward_ms = best_ms(50, [&] {
    weights_gradient.execute(s, {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_DIFF_DST, dy_mem}, {DNNL_ARG_DIFF_WEIGHTS, dw_mem},
                                 {DNNL_ARG_DIFF_BIAS, db_mem}});
    data.execute(s, {{DNNL_ARG_DIFF_DST, dy_mem}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DIFF_SRC, dx_mem}});
    s.wait();
    if (!four_d) permute(feature_buffer.data(), staged.data(), image.data(), false);
  });
  const double permutations_ms = four_d ? 0.0 : best_ms(50, [&] {
    permute(image.data(), staged.data(), feature_buffer.data(), true);
    permute(feature_buffer.data(), staged.data(), image.data(), false);
  });
  return {forward_ms, backward_ms, permutations_ms, forward_pd.impl_info_str(), data_pd.impl_info_str()};
}

template <class V>
void probe(dt type, const char* name) {
  const Timing flat = run<V>(type, false), image = run<V>(type, true);
  std::printf("%-4s reorder + 2D: forward %6.3f ms, backward %6.3f ms (%s, %s); its two permutations %6.3f ms\n",
              name, flat.forward, flat.backward, flat.forward_impl, flat.backward_impl, flat.permutations);
  std::printf("%-4s 4D:           forward %6.3f ms, backward %6.3f ms (%s, %s)\n", name, image.forward,
              image.backward, image.forward_impl, image.backward_impl);
  std::printf("%-4s 4D / reorder + 2D, forward + backward: %.2f\n", name,
              (image.forward + image.backward) / (flat.forward + flat.backward));
}
}  // namespace

int main() {
  std::printf("InceptionAux's Flatten + fc1 (Linear<2048, 1024>) on a 128 x 4 x 4 NHWC image, batch 16\n");
  probe<float>(dt::f32, "f32");
  probe<std::uint16_t>(dt::bf16, "bf16");  // bf16 values as their 16 bits: the permutation moves them
}
