// oneDNN 3.x (tools/install-deps's): what Concat's copy costs beside the ways a branch could write
// its channel slice of the concatenated NHWC output itself. A branch's last 1x1 convolution is a
// matmul [N*H*W, In] x [In, Out]; three ways to put its Out channels into channels
// [offset, offset + Out) of a Total-channel tensor, batch 16:
//   dense + copy   the whole-batch matmul into a dense tensor, then one copy per pixel into the
//                  slice (what ctnn's onednn/concat.hpp does)
//   strided        the matmul writing the slice itself (its destination's row stride is Total)
//   chunks         each thread multiplies chunks of R pixels into a buffer of its own (the
//                  matmul single-threaded inside the parallel region, as ctnn's Winograd runs
//                  it) and copies each chunk into the slice while it is still in cache
// Prints the implementation oneDNN picks and milliseconds (best of 30), f32 and bf16.
//   built and run by benchmarks/onednn_probes/run

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "best_of.hpp"   // best_ms

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {
engine eng(engine::kind::cpu, 0);

// A GoogLeNet branch ending in a 1x1: pixels per image, In -> Out, into a tensor of Total channels.
struct Problem {
  const char* name;
  memory::dim pixels, in, out, total, offset;
};

// Copies `rows` pixels of `out` values from a dense buffer into the slice.
void copy_rows(const char* from, char* to, memory::dim rows, const Problem& p, std::size_t size) {
  for (memory::dim r = 0; r < rows; ++r)
    std::memcpy(to + static_cast<std::size_t>(r * p.total + p.offset) * size, from + static_cast<std::size_t>(r * p.out) * size,
                static_cast<std::size_t>(p.out) * size);
}

void probe(const Problem& p, dt type) {
  const std::size_t size = type == dt::f32 ? 4 : 2;
  const memory::dim m = 16 * p.pixels;
  std::vector<char> x(static_cast<std::size_t>(m * p.in) * size), y(static_cast<std::size_t>(m * p.total) * size);
  const memory::desc src({m, p.in}, type, tag::ab), weights({p.in, p.out}, type, tag::any);
  std::printf("%-34s %-4s", p.name, type == dt::f32 ? "f32" : "bf16");

  {  // dense + copy
    stream s(eng);
    const memory::desc dst({m, p.out}, type, tag::ab);
    const matmul::primitive_desc pd(eng, src, weights, dst);
    const matmul product(pd);
    memory a(src, eng, x.data()), b(pd.weights_desc(), eng), c(dst, eng);
    const double ms = best_ms(30, [&] {
      product.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
      s.wait();
      const auto* from = static_cast<const char*>(c.get_data_handle());
#pragma omp parallel for num_threads(2)
      for (memory::dim block = 0; block < m; block += 64)
        copy_rows(from + static_cast<std::size_t>(block * p.out) * size, y.data() + static_cast<std::size_t>(block * p.total) * size,
                  std::min<memory::dim>(64, m - block), p, size);
    });
    std::printf("   dense + copy %7.3f ms (%s)", ms, pd.impl_info_str());
  }
  {  // strided
    stream s(eng);
    const memory::desc dst({m, p.out}, type, memory::dims{p.total, 1});
    const matmul::primitive_desc pd(eng, src, weights, dst);
    const matmul product(pd);
    memory a(src, eng, x.data()), b(pd.weights_desc(), eng), c(dst, eng, y.data() + static_cast<std::size_t>(p.offset) * size);
    const double ms = best_ms(30, [&] {
      product.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
      s.wait();
    });
    std::printf("   strided %7.3f ms (%s)", ms, pd.impl_info_str());
  }
  double best_chunks = 1e30;
  memory::dim best_rows = 0;
  for (memory::dim rows : {64, 128, 256, 512}) {  // chunks
    const memory::desc chunk_src({rows, p.in}, type, tag::ab), chunk_dst({rows, p.out}, type, tag::ab);
    primitive_attr attr;
    attr.set_scratchpad_mode(scratchpad_mode::user);
    const matmul::primitive_desc pd(eng, chunk_src, weights, chunk_dst, attr);
    const matmul product(pd);
    memory b(pd.weights_desc(), eng);
    std::vector<stream> streams;
    std::vector<memory> a, c, scratchpad;
    std::vector<std::vector<char>> buffers, scratch;
    for (int t = 0; t < 2; ++t) {
      streams.emplace_back(eng);
      buffers.emplace_back(static_cast<std::size_t>(rows * p.out) * size);
      scratch.emplace_back(pd.scratchpad_desc().get_size() + 64);
      a.emplace_back(chunk_src, eng, nullptr);
      c.emplace_back(chunk_dst, eng, buffers[t].data());
      scratchpad.emplace_back(pd.scratchpad_desc(), eng, scratch[t].data());
    }
    const memory::dim chunks = (m + rows - 1) / rows;
    const double ms = best_ms(30, [&] {
#pragma omp parallel num_threads(2)
      {
        const int t = omp_get_thread_num();
        for (memory::dim chunk = t; chunk < chunks; chunk += 2) {
          const memory::dim first = std::min(chunk * rows, m - rows);  // the last chunk overlaps
          a[t].set_data_handle(x.data() + static_cast<std::size_t>(first * p.in) * size);
          product.execute(streams[t], {{DNNL_ARG_SRC, a[t]}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c[t]},
                                       {DNNL_ARG_SCRATCHPAD, scratchpad[t]}});
          copy_rows(buffers[t].data(), y.data() + static_cast<std::size_t>(first * p.total) * size, rows, p, size);
        }
      }
    });
    if (ms < best_chunks) best_chunks = ms, best_rows = rows;
  }
  std::printf("   chunks %7.3f ms (best R = %ld)\n", best_chunks, static_cast<long>(best_rows));
}
}  // namespace

int main() {
  const Problem problems[] = {
      {"inception3a.branch1 192->64 28x28", 784, 192, 64, 256, 0},
      {"inception3a.branch4 192->32 28x28", 784, 192, 32, 256, 224},
      {"inception4e.branch1 528->256 14x14", 196, 528, 256, 832, 0},
      {"inception5b.branch1 832->384 7x7", 49, 832, 384, 1024, 0},
  };
  for (const Problem& p : problems)
    for (dt type : {dt::f32, dt::bf16}) probe(p, type);
}
