#pragma once
// ctnn::onednn::Context<T>: what the oneDNN evaluators share during a pass. It is a CPU context
// (ctnn/cpu/context.hpp: the pass state, threads, per-thread workspace, GEMM buffers, dropout
// generator), so a layer oneDNN has no primitive for runs its Eigen evaluator on it
// (ctnn/onednn/fallback.hpp), and adds:
//
//   - the oneDNN engine and stream, and the precision activations are kept in;
//   - the plans: per layer (its walk position) and direction, the primitives, memory descriptors
//     and packed weights made once while planning (Model::prepare) for a batch size and mode;
//   - the device memory: one scratchpad for every primitive (they run one after another), the
//     staging buffers of the model's boundary and of Concat, sized while planning and allocated
//     once by the backend;
//   - the boundary: the buffers the caller sees (images, output, recorded layer, gradients),
//     which hold plain NCHW f32;
//   - int8's calibration: the range of each Conv's and Linear's input and output, of each
//     Concat's output and of each fused Sum + ReLU's output; while planning int8, which buffers
//     hold u8 (quantisation.hpp).
//
// The device layout. Inside the network every activation of shape (C, H, W) is channels-last
// (NHWC) in the precision's type, its N images packed back to back from slot.data: image n
// starts C*H*W values of that type after image n - 1, one pixel's C channels side by side. The
// slot's image stride (the plan's, often a larger buffer's) only bounds the room: oneDNN's fast
// kernels take dense tensors alone. This is the layout oneDNN's
// AVX-512 and AMX convolutions prefer (docs/benchmarks.md); a 1x1 image (features) is the same in
// both layouts. int8 keeps f32 activations, except the u8 hand-offs between layers that read
// them (quantisation.hpp), which fill the first quarter of their slot's bytes. bf16 values fill
// the first half of the bytes the plan gives a slot. Data crosses
// into and out of the device layout only at the boundary, by a reorder.
//
// Planning. Model::prepare runs the network once with `planning` set: leaves make their plans
// and state the memory they need, nothing is computed. Evaluators compute only through the
// context (run, copy_images), which do nothing while planning.

#include <algorithm>     // std::min
#include <array>         // std::array
#include <cstddef>       // std::size_t, std::byte
#include <cstdint>       // std::uint16_t, std::uint32_t, std::uint64_t, std::uintptr_t
#include <cstring>       // std::memcpy
#include <memory>        // std::unique_ptr
#include <optional>      // std::optional
#include <type_traits>   // std::is_base_of_v
#include <utility>       // std::pair
#include <vector>        // std::vector

#include <dnnl.hpp>   // dnnl::engine, dnnl::stream, dnnl::memory, dnnl::primitive

#include <ctnn/cpu/context.hpp>      // ctnn::cpu::Context, parallel_over_images
#include <ctnn/error.hpp>            // ctnn::Error
#include <ctnn/evaluator.hpp>        // ctnn::Slot
#include <ctnn/onednn/avx512.hpp>    // CTNN_AVX512, avx512_kernels_supported
#include <ctnn/onednn/device.hpp>    // ctnn::OneDnn, Precision, check_status
#include <ctnn/onednn/quantisation.hpp>   // ValueRange, QuantisedHandOffs, Quantisation
#include <ctnn/pass_state.hpp>       // ctnn::max_aux_outputs
#include <ctnn/shape.hpp>            // ctnn::ShapeType

namespace ctnn::onednn {

using dnnl::memory;

// One image's shape as numbers.
struct Dims {
  std::size_t channels = 0, height = 0, width = 0;
  constexpr std::size_t size() const { return channels * height * width; }
  constexpr std::size_t plane() const { return height * width; }
  bool operator==(const Dims&) const = default;
};
template <ShapeType S>
inline constexpr Dims dims_of{S::channels, S::height, S::width};

// The buffers the caller sees: plain NCHW f32.
enum class Boundary : std::size_t { input, output, recorded, output_gradient, input_gradient, aux_gradient0 };
inline constexpr std::size_t boundary_count = 5 + max_aux_outputs;

struct PlainRange {
  const std::byte* begin = nullptr;
  const std::byte* end = nullptr;
  Dims dims{};
  bool contains(const void* p) const {
    const auto* b = static_cast<const std::byte*>(p);
    return begin != nullptr && b >= begin && b < end;
  }
};

// How a tensor lies in memory: its descriptor (N images), where it starts, and whether it is
// the boundary's plain NCHW f32 rather than the device layout.
struct Tensor {
  memory::desc md;
  void* data = nullptr;
  bool plain = false;
};

// A layer's plan for one direction; evaluators derive their own.
struct Plan {
  virtual ~Plan() = default;
  const void* kind = nullptr;  // which plan type made it (checked when it is looked up)
};
template <class P>
inline constexpr char plan_kind = 0;
enum class Direction : std::size_t { forward, backward };

// bfloat16 as oneDNN stores it: the upper half of a float, rounded to nearest even.
inline std::uint16_t to_bf16(float value) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);  // NaN stays NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(bits >> 16);
}
inline float from_bf16(std::uint16_t value) {
  const std::uint32_t bits = static_cast<std::uint32_t>(value) << 16;
  float result = 0;
  std::memcpy(&result, &bits, sizeof result);
  return result;
}

template <class T>
struct Context : cpu::Context<T> {
  static_assert(std::is_same_v<T, float>, "the oneDNN backend computes with float parameters (Model<Net, In, float, OneDnn>)");
  using device = OneDnn;
  using scalar = T;

  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  Precision precision = Precision::f32;
  ConvolutionAlgorithm convolution_algorithm = ConvolutionAlgorithm::automatic;

  // ---- planning ------------------------------------------------------------------------------
  // Plans are kept in the order the planning pass asks for them: a pass of the same batch, mode
  // and settings asks for them in the same order (the front end plans again when any changes).
  bool planning = false;
  std::array<std::vector<std::unique_ptr<Plan>>, 2> plans;
  std::array<std::size_t, 2> next_plan{};

  // The next plan of `direction`, made by make() while planning.
  template <class P, class Make>
  P& plan(Direction direction, Make&& make) {
    const auto d = static_cast<std::size_t>(direction);
    auto& list = plans[d];
    const std::size_t index = next_plan[d]++;
    if (planning) {
      std::unique_ptr<Plan> made = make();
      made->kind = &plan_kind<P>;
      list.push_back(std::move(made));
    } else if (index >= list.size() || list[index]->kind != &plan_kind<P>) {
      throw Error("oneDNN backend", "a pass asks for other layers than the one planned (plan " + std::to_string(index) + ")");
    }
    return static_cast<P&>(*list[index]);
  }
  void begin_pass(Direction direction) {
    next_plan[static_cast<std::size_t>(direction)] = 0;
    concat_top = 0;
    residual_addition.reset();
  }
  void forget_plans() {
    for (auto& list : plans) list.clear();
    next_plan = {};
    scratchpad_bytes = staging_bytes = parameter_staging_bytes = concat_bytes = concat_top = 0;
    weighted_layers = concats = sum_relus = winograd_convolutions = winograd_weight_gradients = fused_batch_norm_relu_passes =
        folded_batch_norms = fused_depthwise_convolutions = residual_post_ops = quantised_outputs = 0;
  }

  // ---- the device memory, stated while planning --------------------------------------------
  std::size_t scratchpad_bytes = 0;         // the largest primitive scratchpad
  std::size_t staging_bytes = 0;            // each of the four staging buffers of a layer's operands
  std::size_t parameter_staging_bytes = 0;  // a layer's parameter-sized temporaries (weight gradients)
  std::size_t concat_bytes = 0;             // Concat's staging stack, at its deepest
  std::size_t concat_top = 0;               // the stack's top during a pass
  std::byte* memory_base = nullptr;         // [scratchpad][staging 0..3][parameter staging][concat stack]
  static constexpr std::size_t staging_count = 4;

  static constexpr std::size_t round_up(std::size_t bytes) { return (bytes + 63) / 64 * 64; }
  void need_scratchpad(const memory::desc& md) { need_scratchpad_bytes(md.get_size()); }
  void need_scratchpad_bytes(std::size_t bytes) { scratchpad_bytes = std::max(scratchpad_bytes, round_up(bytes)); }
  void need_staging(std::size_t bytes) { staging_bytes = std::max(staging_bytes, round_up(bytes)); }
  void need_parameter_staging(std::size_t bytes) { parameter_staging_bytes = std::max(parameter_staging_bytes, round_up(bytes)); }
  std::size_t memory_bytes() const {
    return scratchpad_bytes + staging_count * staging_bytes + parameter_staging_bytes + concat_bytes;
  }
  void* scratchpad() const { return memory_base; }
  // Staging buffer i (0: a layer's input, 1: its output; backward: x, y, dy, dx).
  void* staging(std::size_t i) const { return memory_base + scratchpad_bytes + i * staging_bytes; }
  // Weight and bias gradients in the primitive's layout, before they reach the gradient buffer.
  std::byte* parameter_staging() const { return memory_base + scratchpad_bytes + staging_count * staging_bytes; }
  // Concat stages its branches' outputs on a stack (a branch may hold a Concat of its own).
  // While planning there is no memory yet: each place on the stack gets an address no buffer has
  // (near the top of the address space, never read), as int8's hand-offs tell buffers apart by
  // their address.
  std::byte* push_concat(std::size_t bytes) {
    constexpr std::uintptr_t planning_stand_in = ~std::uintptr_t{0} - (std::uintptr_t{1} << 40);
    std::byte* at = memory_base ? parameter_staging() + parameter_staging_bytes + concat_top
                                : reinterpret_cast<std::byte*>(planning_stand_in + concat_top);
    concat_top += round_up(bytes);
    if (planning) concat_bytes = std::max(concat_bytes, concat_top);
    return at;
  }
  void pop_concat(std::size_t bytes) { concat_top -= round_up(bytes); }

  // ---- packed weights --------------------------------------------------------------------------
  // Counts host writes to the parameters and buffers (Backend's arrays); a plan packs its weights
  // again when it differs from the count it packed at.
  std::uint64_t parameter_version = 0;

  // ---- a residual sum as post-ops (residual_relu.hpp) -----------------------------------------
  // While the body of a Sum + ReLU runs in evaluation: the convolution that writes the body's
  // output (`output`, at walk position `last_node`: the body's last leaf) adds `shortcut` to it
  // and clamps at 0 as post-ops of its primitive, and says so (`taken`).
  struct ResidualAddition {
    const void* output = nullptr;
    const void* shortcut = nullptr;
    std::size_t last_node = 0;
    bool taken = false;
  };
  std::optional<ResidualAddition> residual_addition;

  // ---- int8 calibration (quantisation.hpp) ------------------------------------------------------
  // Conv and Linear are numbered in forward order as they are planned, and so are Concats and
  // fused Sums + ReLU; input_ranges[k] and output_ranges[k] are the ranges of layer k's input and
  // output over the calibration images, concat_ranges[k] of Concat k's output, sum_relu_ranges[k]
  // of Sum + ReLU k's (residual_relu.hpp), recorded by f32 passes with `calibrating` set, and
  // read when int8 plans.
  std::size_t weighted_layers = 0;
  std::size_t concats = 0;
  std::size_t sum_relus = 0;
  std::size_t winograd_convolutions = 0;  // forward and data gradient plans made so (winograd.hpp)
  std::size_t winograd_weight_gradients = 0;  // weight gradient plans made so (winograd.hpp)
  std::size_t fused_batch_norm_relu_passes = 0;  // forward and backward plans (batch_norm_relu.hpp)
  std::size_t folded_batch_norms = 0;  // evaluation's Conv + BatchNorm (+ activation) plans (conv.hpp)
  std::size_t fused_depthwise_convolutions = 0;  // evaluation's 1x1 + depthwise pairs (pointwise_depthwise.hpp)
  std::size_t residual_post_ops = 0;  // fused Sums + ReLU the body's last convolution adds (residual_relu.hpp)
  std::vector<ValueRange> input_ranges, output_ranges, concat_ranges, sum_relu_ranges;
  bool calibrating = false;
  bool calibrated = false;  // a calibration finished (a network without Conv or Linear has no ranges)
  // Planning int8: the u8 buffers (quantisation.hpp); the planned layers that write u8. Copies
  // state what they read and write on a const context.
  mutable QuantisedHandOffs hand_offs;
  std::size_t quantised_outputs = 0;
  bool planning_int8() const { return planning && precision == Precision::int8; }
  // A layer reads `data` as f32 / writes f32 there (every layer that does not say otherwise).
  void reads_floats(const void* data) const {
    if (planning_int8()) hand_offs.reads_floats(data);
  }
  void wrote_floats(const void* data) const {
    if (planning_int8()) hand_offs.wrote_floats(data);
  }
  // A u8 producer (planning int8) wrote `data` with `q`: recorded for its readers, and counted.
  void wrote_quantised(const void* data, Quantisation q, std::size_t producer) {
    hand_offs.wrote_quantised(data, q, producer);
    ++quantised_outputs;
  }

  // ---- layouts ---------------------------------------------------------------------------------
  std::array<PlainRange, boundary_count> boundary{};
  void set_boundary(Boundary which, const void* data, std::size_t images, std::size_t image_stride, Dims dims) {
    const auto* begin = static_cast<const std::byte*>(data);
    boundary[static_cast<std::size_t>(which)] =
        data ? PlainRange{begin, begin + images * image_stride * sizeof(T), dims} : PlainRange{};
  }
  const PlainRange* plain_range(const void* p) const {
    for (const PlainRange& r : boundary)
      if (r.contains(p)) return &r;
    return nullptr;
  }
  bool is_plain(const void* p) const { return plain_range(p) != nullptr; }

  memory::data_type activation_type() const {
    return precision == Precision::bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  }
  std::size_t activation_bytes() const { return precision == Precision::bf16 ? 2 : 4; }
  bool float_activations() const { return precision != Precision::bf16; }
  // The type Conv and Linear compute their weights in.
  memory::data_type weights_type() const {
    return precision == Precision::int8 ? memory::data_type::s8 : activation_type();
  }

  // N images of `d` in the device layout (dense: `image_stride` is the room per image).
  memory::desc device_md(Dims d, std::size_t image_stride = 0) const {
    image_stride = d.size();
    const auto n = static_cast<memory::dim>(this->batch), c = static_cast<memory::dim>(d.channels),
               h = static_cast<memory::dim>(d.height), w = static_cast<memory::dim>(d.width);
    const auto s = static_cast<memory::dim>(image_stride);
    if (d.plane() == 1) return memory::desc({n, c}, activation_type(), memory::dims{s, 1});
    return memory::desc({n, c, h, w}, activation_type(), memory::dims{s, 1, w * c, c});
  }
  memory::desc plain_md(Dims d, std::size_t image_stride) const {
    const auto n = static_cast<memory::dim>(this->batch), c = static_cast<memory::dim>(d.channels),
               h = static_cast<memory::dim>(d.height), w = static_cast<memory::dim>(d.width);
    const auto s = static_cast<memory::dim>(image_stride);
    if (d.plane() == 1) return memory::desc({n, c}, memory::data_type::f32, memory::dims{s, 1});
    return memory::desc({n, c, h, w}, memory::data_type::f32, memory::dims{s, h * w, w, 1});
  }
  // How the tensor of shape `d` in `slot` lies.
  Tensor tensor(ConstSlot<T> slot, Dims d) const {
    const bool plain = is_plain(slot.data);
    return {plain ? plain_md(d, slot.image_stride) : device_md(d, slot.image_stride), const_cast<T*>(slot.data), plain};
  }

  // ---- running ---------------------------------------------------------------------------------
  // Executes `p` with (argument, memory) pairs; nothing while planning. The C API takes the
  // arguments as an array: no container is built per call.
  void run(const dnnl::primitive& p, std::initializer_list<std::pair<int, const memory*>> args) const {
    run_on(stream, p, args);
  }
  // The same on stream `s`: a primitive run by each thread of a parallel region (winograd.hpp).
  void run_on(const dnnl::stream& s, const dnnl::primitive& p,
              std::initializer_list<std::pair<int, const memory*>> args) const {
    if (planning) return;
    std::array<dnnl_exec_arg_t, 12> list{};
    std::size_t n = 0;
    for (const auto& [arg, mem] : args)
      if (mem != nullptr && *mem) list[n++] = {arg, mem->get()};
    check_status(dnnl_primitive_execute(p.get(), s.get(), static_cast<int>(n), list.data()), "primitive execution");
  }
};

// A memory object without a buffer of its own; its handle is set before each execution.
inline memory unbound(const memory::desc& md, const dnnl::engine& engine) {
  return memory(md, engine, DNNL_MEMORY_NONE);
}
inline void bind(const memory& m, const void* data) {
  if (m) check_status(dnnl_memory_set_data_handle(m.get(), const_cast<void*>(data)), "memory binding");
}

// ---------------------------------------------------------------------------------------------
// Copies between slots, as the composites ask (views, Dropout's pass-through, Sum, recording):
// in the device layout a copy moves the precision's values; across the boundary it converts
// between the device layout and plain NCHW f32, with the plain side's shape.
// ---------------------------------------------------------------------------------------------
namespace detail {
// d[i] = s[i], or d[i] + s[i] when accumulating, then max(., 0) with Relu (NaN stays NaN, as
// PyTorch's relu), in f32 and stored as Dst.
template <bool Relu = false, class Src, class Dst>
void copy_values(const Src* s, Dst* d, std::size_t begin, std::size_t end, bool accumulate) {
  auto load = [](auto v) -> float {
    if constexpr (std::is_same_v<decltype(v), std::uint16_t>) return from_bf16(v); else return v;
  };
  auto store = [](float v) -> Dst {
    if constexpr (Relu) v = v < 0.f ? 0.f : v;
    if constexpr (std::is_same_v<Dst, std::uint16_t>) return to_bf16(v); else return v;
  };
  for (std::size_t i = begin; i < end; ++i) d[i] = store(accumulate ? load(d[i]) + load(s[i]) : load(s[i]));
}
#if CTNN_ONEDNN_X86
// 16 bf16 values as floats.
CTNN_AVX512 inline __m512 widen_bf16(const std::uint16_t* p) {
  const __m256i values = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(values), 16));
}
// d[i] = to_bf16(from_bf16(d[i]) + from_bf16(s[i])), 16 values at a time, with to_bf16's rounding
// (to nearest even; a NaN stays a quiet NaN), so bit for bit the scalar loop's result (a sum of
// two NaNs is a NaN either way, its payload the compiler's choice); with Relu the sum is clamped
// at 0 before rounding, as copy_values<true>. Returns how many it added (count rounded down to
// 16); the caller adds the rest.
template <bool Relu>
CTNN_AVX512 inline std::size_t add_bf16_avx512(const std::uint16_t* s, std::uint16_t* d, std::size_t count) {
  const __m512i round_bias = _mm512_set1_epi32(0x7fff), lowest_kept = _mm512_set1_epi32(1);
  const __m512i magnitude = _mm512_set1_epi32(0x7fffffff), infinity = _mm512_set1_epi32(0x7f800000);
  const __m512i quiet = _mm512_set1_epi32(0x40);
  const std::size_t whole = count / 16 * 16;
  for (std::size_t i = 0; i < whole; i += 16) {
    __m512 sum = _mm512_add_ps(widen_bf16(d + i), widen_bf16(s + i));
    // max returns its second operand where either is NaN: the NaN sum passes through.
    if constexpr (Relu) sum = _mm512_max_ps(_mm512_setzero_ps(), sum);
    const __m512i bits = _mm512_castps_si512(sum);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), lowest_kept);
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(round_bias, odd)), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, magnitude), infinity);
    const __m512i result = _mm512_mask_blend_epi32(nan, rounded, _mm512_or_si512(_mm512_srli_epi32(bits, 16), quiet));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), _mm512_cvtepi32_epi16(result));
  }
  return whole;
}
#endif
// d[i] = bf16(d[i] + s[i]) for i in [0, count): a Sum's accumulation in bf16, a sixth of a
// ResNet-50 pass on AMX. The scalar loop alone, as the compiler vectorized it at -O3
// -march=native, made that pass 6% slower (docs/benchmarks.md).
// With Relu: d[i] = bf16(max(d[i] + s[i], 0)), a residual block's sum and ReLU in one pass
// (residual_relu.hpp).
template <bool Relu = false>
void add_bf16(const std::uint16_t* s, std::uint16_t* d, std::size_t count) {
  std::size_t done = 0;
#if CTNN_ONEDNN_X86
  if (avx512_kernels_supported()) done = add_bf16_avx512<Relu>(s, d, count);
#endif
  copy_values<Relu>(s, d, done, count, true);
}
// Element i of a plain NCHW image at its place in the NHWC image.
inline std::size_t channels_last_index(std::size_t i, Dims d) {
  const std::size_t c = i / d.plane(), p = i % d.plane();
  return p * d.channels + c;
}
}  // namespace detail

// dst += src for N images of `elements` values packed in the device layout (the precision's
// type), then max(., 0) with Relu: a Sum's accumulation, and with the ReLU after it
// (residual_relu.hpp). Computes nothing while planning: callers state what they read and write.
template <bool Relu = false, class T>
void add_packed_images(const Context<T>& ctx, const T* src, T* dst, std::size_t elements) {
  if (ctx.planning || ctx.batch == 0 || elements == 0) return;
  const bool bf16 = ctx.precision == Precision::bf16;
  cpu::parallel_over_images(ctx, elements, [&](std::size_t n, std::size_t begin, std::size_t end) {
    if (bf16) {
      detail::add_bf16<Relu>(reinterpret_cast<const std::uint16_t*>(src) + n * elements + begin,
                             reinterpret_cast<std::uint16_t*>(dst) + n * elements + begin, end - begin);
    } else {
      detail::copy_values<Relu>(src + n * elements, dst + n * elements, begin, end, true);
    }
  });
}

template <class T>
void copy_images(const Context<T>& ctx, ConstSlot<T> src, Slot<T> dst, std::size_t elements, bool accumulate) {
  ctx.reads_floats(src.data);
  if (accumulate) ctx.reads_floats(dst.data);  // a u8 hand-off there would be added to as f32
  ctx.wrote_floats(dst.data);
  if (ctx.planning || ctx.batch == 0 || elements == 0) return;
  const PlainRange* src_plain = ctx.plain_range(src.data);
  const PlainRange* dst_plain = ctx.plain_range(dst.data);
  const bool bf16 = ctx.precision == Precision::bf16;
  if (src_plain && dst_plain) {
    cpu::copy_images(static_cast<const cpu::Context<T>&>(ctx), src, dst, elements, accumulate);
    return;
  }
  if (!src_plain && !dst_plain) {  // images packed in the device layout
    if (accumulate) {
      add_packed_images(ctx, src.data, dst.data, elements);
    } else if (!bf16) {
      cpu::copy_images(static_cast<const cpu::Context<T>&>(ctx), ConstSlot<T>{src.data, elements},
                       Slot<T>{dst.data, elements}, elements, false);
    } else {
      cpu::parallel_over_images(ctx, elements, [&](std::size_t n, std::size_t begin, std::size_t end) {
        const auto* s = reinterpret_cast<const std::uint16_t*>(src.data) + n * elements;
        auto* d = reinterpret_cast<std::uint16_t*>(dst.data) + n * elements;
        if (s != d) std::memcpy(d + begin, s + begin, (end - begin) * sizeof(std::uint16_t));
      });
    }
    return;
  }
  // Across the boundary: the plain side says the shape.
  const Dims d = (src_plain ? src_plain : dst_plain)->dims;
  if (d.size() != elements) throw Error("oneDNN backend", "a copy across the model's boundary does not match its shape");
  convert_images(ctx, src, src_plain != nullptr, dst, dst_plain != nullptr, d, accumulate);
}

// Copies N images of shape d between a plain NCHW f32 side and the device layout (or two plain
// sides), adding to dst when asked.
template <class T>
void convert_images(const Context<T>& ctx, ConstSlot<T> src, bool src_plain, Slot<T> dst, bool dst_plain, Dims d,
                    bool accumulate) {
  const bool bf16 = ctx.precision == Precision::bf16;
  const std::size_t plane = d.plane();
  cpu::parallel_over_images(ctx, d.size(), [&](std::size_t n, std::size_t begin, std::size_t end) {
    // The device side's images are packed (d.size() apart), the plain side's at its stride.
    const std::size_t packed = n * d.size();
    const auto convert = [&](std::size_t i, std::size_t device_index) {
      const std::size_t si = src_plain ? i : device_index, di = dst_plain ? i : device_index;
      float value = 0;
      if (src_plain) value = src.image(n)[si];
      else value = bf16 ? from_bf16(reinterpret_cast<const std::uint16_t*>(src.data)[packed + si]) : src.data[packed + si];
      if (dst_plain) {
        float& out = dst.image(n)[di];
        out = accumulate ? out + value : value;
      } else if (bf16) {
        std::uint16_t& out = reinterpret_cast<std::uint16_t*>(dst.data)[packed + di];
        out = to_bf16(accumulate ? from_bf16(out) + value : value);
      } else {
        float& out = dst.data[packed + di];
        out = accumulate ? out + value : value;
      }
    };
    // Plain element i = c * plane + p is the device layout's p * channels + c: one division per
    // run of a channel's pixels, not per element (this is the input copy of every forward pass).
    for (std::size_t i = begin; i < end;) {
      const std::size_t run_end = std::min(end, (i / plane + 1) * plane);
      for (std::size_t device_index = detail::channels_last_index(i, d); i < run_end; ++i, device_index += d.channels)
        convert(i, device_index);
    }
  });
}

}  // namespace ctnn::onednn
