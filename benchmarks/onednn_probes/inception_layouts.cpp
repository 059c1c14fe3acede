// oneDNN 3.x (tools/install-deps's): one whole Inception module (the reference GoogLeNet's: four
// branches, every convolution with a ReLU post-op, 5x5 in branch 3) in three ways, to tell what a
// free concatenation would be worth beside the copy ctnn makes:
//   NHWC + copy      ctnn's way: whole-batch primitives in NHWC, each branch into a dense tensor,
//                    then one copy per pixel into its channel slice (onednn/concat.hpp)
//   blocked + copy   the same in nChw16c: the copy moves each image's 16-channel blocks whole
//   blocked, free    nChw16c, the branches' first layers over the batch, their last convolution
//                    once per image (batch 1), writing its 16-aligned slice of the module's
//                    output directly: within one image the slice is a dense nChw16c tensor, and
//                    the only form of a slice oneDNN's jitted convolutions write
// All convolutions are oneDNN's (ctnn's f32 Winograd has no blocked variant). Prints
// milliseconds per module (best of 20) and the implementation oneDNN picks for the 5x5 in each
// way, f32 and bf16, batch 16 and 1.
//   built and run by benchmarks/onednn_probes/run

#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include <oneapi/dnnl/dnnl.hpp>

#include "best_of.hpp"   // best_ms

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {
engine eng(engine::kind::cpu, 0);
stream strm(eng);

// torchvision's Inception arguments: in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj.
struct Module {
  const char* name;
  memory::dim side, in, c1, c2r, c2, c3r, c3, c4;
  memory::dim out() const { return c1 + c2 + c3 + c4; }
};

// A convolution + ReLU of N images, K x K, padding K / 2, in the given layout (weights: `any`).
struct Convolution {
  convolution_forward primitive;
  memory weights, bias;
  std::string implementation;
  Convolution(memory::dim n, memory::dim in, memory::dim out, memory::dim side, memory::dim k, tag layout, dt type) {
    const memory::desc src({n, in, side, side}, type, layout), dst({n, out, side, side}, type, layout);
    const memory::desc w({out, in, k, k}, type, tag::any), b({out}, dt::f32, tag::a);
    post_ops ops;
    ops.append_eltwise(algorithm::eltwise_relu, 0.f, 0.f);
    primitive_attr attr;
    attr.set_post_ops(ops);
    const convolution_forward::primitive_desc pd(eng, prop_kind::forward_inference, algorithm::convolution_direct, src, w, b,
                                                 dst, {1, 1}, {k / 2, k / 2}, {k / 2, k / 2}, attr);
    primitive = convolution_forward(pd);
    weights = memory(pd.weights_desc(), eng);
    bias = memory(b, eng);
    std::memset(bias.get_data_handle(), 0, b.get_size());
    implementation = pd.impl_info_str();
  }
  void run(memory& src, memory& dst) {
    primitive.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}});
  }
};

struct MaxPool {
  pooling_forward primitive;
  MaxPool(memory::dim n, memory::dim c, memory::dim side, tag layout, dt type) {
    const memory::desc md({n, c, side, side}, type, layout);
    primitive = pooling_forward(pooling_forward::primitive_desc(eng, prop_kind::forward_inference, algorithm::pooling_max,
                                                                md, md, {1, 1}, {3, 3}, {0, 0}, {1, 1}, {1, 1}));
  }
  void run(memory& src, memory& dst) { primitive.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}); }
};

memory tensor(memory::dim n, memory::dim c, memory::dim side, tag layout, dt type) {
  memory m(memory::desc({n, c, side, side}, type, layout), eng);
  std::memset(m.get_data_handle(), 0, m.get_desc().get_size());
  return m;
}

// Branch outputs copied into their channel slices: in NHWC a run of C values per pixel, in
// nChw16c a run of C * H * W values per image.
void copy_into(const memory& branch, memory& whole, memory::dim n, memory::dim c, memory::dim total, memory::dim offset,
               memory::dim pixels, tag layout, std::size_t size) {
  const auto* from = static_cast<const char*>(branch.get_data_handle());
  auto* to = static_cast<char*>(whole.get_data_handle());
  if (layout == tag::nhwc) {
#pragma omp parallel for num_threads(2)
    for (memory::dim p = 0; p < n * pixels; ++p)
      std::memcpy(to + static_cast<std::size_t>(p * total + offset) * size, from + static_cast<std::size_t>(p * c) * size,
                  static_cast<std::size_t>(c) * size);
  } else {
#pragma omp parallel for num_threads(2)
    for (memory::dim i = 0; i < n; ++i)
      std::memcpy(to + static_cast<std::size_t>((i * total + offset) * pixels) * size,
                  from + static_cast<std::size_t>(i * c * pixels) * size, static_cast<std::size_t>(c * pixels) * size);
  }
}

// NHWC + copy, or blocked + copy: whole-batch primitives, dense branches, copies.
double with_copies(const Module& m, memory::dim n, tag layout, dt type, std::string& five_by_five) {
  const std::size_t size = type == dt::f32 ? 4 : 2;
  const memory::dim s = m.side;
  Convolution b1(n, m.in, m.c1, s, 1, layout, type), b2r(n, m.in, m.c2r, s, 1, layout, type),
      b2(n, m.c2r, m.c2, s, 3, layout, type), b3r(n, m.in, m.c3r, s, 1, layout, type), b3(n, m.c3r, m.c3, s, 5, layout, type),
      b4(n, m.in, m.c4, s, 1, layout, type);
  MaxPool pool(n, m.in, s, layout, type);
  memory x = tensor(n, m.in, s, layout, type), y = tensor(n, m.out(), s, layout, type);
  memory y1 = tensor(n, m.c1, s, layout, type), r2 = tensor(n, m.c2r, s, layout, type), y2 = tensor(n, m.c2, s, layout, type),
         r3 = tensor(n, m.c3r, s, layout, type), y3 = tensor(n, m.c3, s, layout, type), p4 = tensor(n, m.in, s, layout, type),
         y4 = tensor(n, m.c4, s, layout, type);
  five_by_five = b3.implementation;
  const memory::dim pixels = s * s;
  return best_ms(20, [&] {
    b1.run(x, y1);
    strm.wait();
    copy_into(y1, y, n, m.c1, m.out(), 0, pixels, layout, size);
    b2r.run(x, r2);
    b2.run(r2, y2);
    strm.wait();
    copy_into(y2, y, n, m.c2, m.out(), m.c1, pixels, layout, size);
    b3r.run(x, r3);
    b3.run(r3, y3);
    strm.wait();
    copy_into(y3, y, n, m.c3, m.out(), m.c1 + m.c2, pixels, layout, size);
    pool.run(x, p4);
    b4.run(p4, y4);
    strm.wait();
    copy_into(y4, y, n, m.c4, m.out(), m.c1 + m.c2 + m.c3, pixels, layout, size);
  });
}

// Blocked, free: the last convolution of each branch once per image, into its slice.
double free_concatenation(const Module& m, memory::dim n, dt type, std::string& five_by_five) {
  const std::size_t size = type == dt::f32 ? 4 : 2;
  const memory::dim s = m.side, pixels = s * s;
  const tag blocked = tag::nChw16c;
  Convolution b2r(n, m.in, m.c2r, s, 1, blocked, type), b3r(n, m.in, m.c3r, s, 1, blocked, type);
  MaxPool pool(n, m.in, s, blocked, type);
  Convolution b1(1, m.in, m.c1, s, 1, blocked, type), b2(1, m.c2r, m.c2, s, 3, blocked, type),
      b3(1, m.c3r, m.c3, s, 5, blocked, type), b4(1, m.in, m.c4, s, 1, blocked, type);
  memory x = tensor(n, m.in, s, blocked, type), y = tensor(n, m.out(), s, blocked, type);
  memory r2 = tensor(n, m.c2r, s, blocked, type), r3 = tensor(n, m.c3r, s, blocked, type),
         p4 = tensor(n, m.in, s, blocked, type);
  five_by_five = b3.implementation;
  // One image of C channels, and a slice of one image: batch-1 nChw16c views, bound per image.
  const auto view = [&](memory::dim c) { return memory(memory::desc({1, c, s, s}, type, blocked), eng, nullptr); };
  memory in_x = view(m.in), in_r2 = view(m.c2r), in_r3 = view(m.c3r), in_p4 = view(m.in);
  memory out1 = view(m.c1), out2 = view(m.c2), out3 = view(m.c3), out4 = view(m.c4);
  // Image i of a whole tensor; channels are padded to 16 (24 -> 32) in the reduced tensors, so an
  // image's room is the descriptor's size over the batch (read once, outside the timed passes).
  const auto images = [&](const memory& whole) {
    return std::pair{static_cast<char*>(whole.get_data_handle()), whole.get_desc().get_size() / static_cast<std::size_t>(n)};
  };
  const auto [x_first, x_bytes] = images(x);
  const auto [r2_first, r2_bytes] = images(r2);
  const auto [r3_first, r3_bytes] = images(r3);
  const auto [p4_first, p4_bytes] = images(p4);
  const auto [y_first, y_bytes] = images(y);
  return best_ms(20, [&] {
    b2r.run(x, r2);
    b3r.run(x, r3);
    pool.run(x, p4);
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
      char* y_image = y_first + i * y_bytes;
      const auto slice = [&](memory::dim offset) { return y_image + static_cast<std::size_t>(offset * pixels) * size; };
      in_x.set_data_handle(x_first + i * x_bytes);
      out1.set_data_handle(slice(0));
      b1.run(in_x, out1);
      in_r2.set_data_handle(r2_first + i * r2_bytes);
      out2.set_data_handle(slice(m.c1));
      b2.run(in_r2, out2);
      in_r3.set_data_handle(r3_first + i * r3_bytes);
      out3.set_data_handle(slice(m.c1 + m.c2));
      b3.run(in_r3, out3);
      in_p4.set_data_handle(p4_first + i * p4_bytes);
      out4.set_data_handle(slice(m.c1 + m.c2 + m.c3));
      b4.run(in_p4, out4);
    }
    strm.wait();
  });
}
}  // namespace

int main() {
  const Module modules[] = {
      {"inception3b 256 -> 480, 28x28", 28, 256, 128, 128, 192, 32, 96, 64},
      {"inception4c 512 -> 512, 14x14", 14, 512, 128, 128, 256, 24, 64, 64},
      {"inception5b 832 -> 1024, 7x7", 7, 832, 384, 192, 384, 48, 128, 128},
  };
  std::printf("%-32s %-5s %5s  %14s %14s %14s  %s\n", "module", "type", "batch", "NHWC + copy", "blocked + copy",
              "blocked, free", "free / NHWC + copy; 5x5 implementations");
  for (const Module& m : modules)
    for (dt type : {dt::f32, dt::bf16})
      for (memory::dim n : {16, 1}) {
        std::string nhwc_impl, blocked_impl, free_impl;
        const double nhwc = with_copies(m, n, tag::nhwc, type, nhwc_impl);
        const double blocked = with_copies(m, n, tag::nChw16c, type, blocked_impl);
        const double free = free_concatenation(m, n, type, free_impl);
        std::printf("%-32s %-5s %5ld  %11.3f ms %11.3f ms %11.3f ms  %.3f; %s, %s, %s (per image)\n", m.name,
                    type == dt::f32 ? "f32" : "bf16", static_cast<long>(n), nhwc, blocked, free, free / nhwc,
                    nhwc_impl.c_str(), blocked_impl.c_str(), free_impl.c_str());
      }
}
