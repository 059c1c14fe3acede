#pragma once
// The pieces every oneDNN plan is made of:
//
//   Operand        an image operand of a primitive: the slot itself where it lies in the device
//                  layout, or a staging buffer reordered from (inputs) or to (outputs) the slot
//                  where it is the boundary's plain NCHW f32 (the model's output, say)
//   PackedWeights  the weights in the layout the primitive chose (format `any`), reordered from
//                  the model's f32 parameters when they have changed since the last pack
//   ParameterGradient  a weight or bias gradient, from the primitive's layout into the model's
//                  gradient buffer (OIHW / [out, in] / [C] f32)
//   scratchpad     each primitive's scratchpad is the context's one buffer (user mode)
//   WeightedForwardPlan  Conv's and Linear's forward, in f32, bf16 or int8 (quantisation.hpp)

#include <cstddef>   // std::size_t
#include <cstdint>   // std::uint64_t
#include <memory>    // std::make_unique
#include <optional>  // std::optional
#include <span>      // std::span
#include <string>    // std::string
#include <vector>    // std::vector

#include <dnnl.hpp>   // dnnl::reorder, dnnl::binary, dnnl::primitive_attr

#include <ctnn/evaluator.hpp>          // ctnn::Slot
#include <ctnn/onednn/context.hpp>     // ctnn::onednn::Context, Dims, bind, unbound
#include <ctnn/onednn/quantisation.hpp>   // Quantisation, weight_scales

namespace ctnn::onednn {

// A forward primitive's propagation kind: training's keeps what backward reads (workspaces).
template <class T>
dnnl::prop_kind forward_kind(const Context<T>& ctx) {
  return ctx.mode == Mode::train ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
}

// An element-wise function as oneDNN computes it (an eltwise primitive or post-op): its
// algorithm and parameters; `undef` is none.
struct EltwiseFunction {
  dnnl::algorithm algorithm = dnnl::algorithm::undef;
  float alpha = 0, beta = 0;
};
inline constexpr EltwiseFunction relu_function{dnnl::algorithm::eltwise_relu_use_dst_for_bwd};

// Attributes of every primitive: the scratchpad is the context's (user mode); `then` appends an
// element-wise post-op (Conv + ReLU or ReLU6, Linear + ReLU fused).
inline dnnl::primitive_attr user_scratchpad(EltwiseFunction then = {}) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (then.algorithm != dnnl::algorithm::undef) {
    dnnl::post_ops ops;
    ops.append_eltwise(then.algorithm, then.alpha, then.beta);
    attr.set_post_ops(ops);
  }
  return attr;
}

// The same, adding the result to what the destination holds (a sum post-op): gradients that
// accumulate (Concat's branches into one dx, Model::accumulate_gradients).
inline dnnl::primitive_attr adding() {
  dnnl::primitive_attr attr = user_scratchpad();
  dnnl::post_ops ops;
  ops.append_sum(1.f);
  attr.set_post_ops(ops);
  return attr;
}

// Scales of int8 quantisation at run time (oneDNN 3.x): `count` f32 values, bound before each
// execution. mask: which dimensions have a scale each (0: one for the tensor).
struct Scales {
  int mask = 0;
  memory mem;
  void make(const dnnl::engine& engine, std::size_t count, int dimension_mask) {
    mask = dimension_mask;
    mem = unbound(memory::desc({static_cast<memory::dim>(count)}, memory::data_type::f32, memory::format_tag::a), engine);
  }
  void set(dnnl::primitive_attr& attr, int argument) const {
    if (mem) attr.set_scales_mask(argument, mask);
  }
  const memory* bound(const float* values) const {
    if (!mem) return nullptr;
    bind(mem, values);
    return &mem;
  }
};

// A reorder from one descriptor to another (adding to the destination when `add`), with its
// scratchpad in the context's. With `quantise`, it writes int8 as value / scale (run's scales).
// Adding between two tensors laid out alike (a gradient summed into dx) is a binary add instead,
// in place on the destination: oneDNN's reorder with a sum post-op runs its generic code
// (`simple:any`, about 16 GB/s measured), its binary add a jitted kernel.
struct Reorder {
  dnnl::primitive primitive;
  memory src, dst, scratchpad;
  Scales scales;
  bool binary_add = false;

  template <class T>
  void make(Context<T>& ctx, const memory::desc& from, const memory::desc& to, bool add = false,
            const Scales& quantise = {}) {
    scales = quantise;
    binary_add = add && from == to && !scales.mem;
    memory::desc scratchpad_md;
    if (binary_add) {
      const auto pd = checked("binary add", [&] {
        return dnnl::binary::primitive_desc(ctx.engine, dnnl::algorithm::binary_add, to, from, to, user_scratchpad());
      });
      primitive = dnnl::binary(pd);
      scratchpad_md = pd.scratchpad_desc();
    } else {
      dnnl::primitive_attr attr = add ? adding() : user_scratchpad();
      scales.set(attr, DNNL_ARG_DST);
      const auto pd = checked("reorder", [&] { return dnnl::reorder::primitive_desc(ctx.engine, from, ctx.engine, to, attr); });
      primitive = dnnl::reorder(pd);
      scratchpad_md = pd.scratchpad_desc();
    }
    src = unbound(from, ctx.engine);
    dst = unbound(to, ctx.engine);
    scratchpad = unbound(scratchpad_md, ctx.engine);
    ctx.need_scratchpad(scratchpad_md);
  }
  template <class T>
  void run(const Context<T>& ctx, const void* from, void* to, const float* scale_values = nullptr) const {
    if (ctx.planning) return;
    bind(src, from);
    bind(dst, to);
    bind(scratchpad, ctx.scratchpad());
    if (binary_add) {
      ctx.run(primitive, {{DNNL_ARG_SRC_0, &dst}, {DNNL_ARG_SRC_1, &src}, {DNNL_ARG_DST, &dst}, {DNNL_ARG_SCRATCHPAD, &scratchpad}});
      return;
    }
    ctx.run(primitive, {{DNNL_ARG_FROM, &src},
                        {DNNL_ARG_TO, &dst},
                        {DNNL_ARG_SCRATCHPAD, &scratchpad},
                        {DNNL_ARG_ATTR_SCALES | DNNL_ARG_DST, scales.bound(scale_values)}});
  }
};

struct Operand {
  memory::desc md;       // what the primitive reads or writes
  memory mem;            // bound to the slot, or to staging buffer `staging`
  bool staged = false;
  std::size_t staging = 0;
  Reorder reorder;       // slot -> staging (input), staging -> slot (output)
  float scale = 1;       // a quantised input's: value = scale * q

  // Binds the operand for a pass over `slot`; an input is reordered into its staging buffer.
  template <class T>
  void load(const Context<T>& ctx, const void* slot) const {
    if (!staged) return bind(mem, slot);
    bind(mem, ctx.staging(staging));
    reorder.run(ctx, slot, ctx.staging(staging), &scale);
  }
  // Binds an output for a pass over `slot`: the slot, or its staging buffer.
  template <class T>
  void bind_output(const Context<T>& ctx, void* slot) const {
    bind(mem, staged ? ctx.staging(staging) : slot);
  }
  // After the primitive: an output goes from its staging buffer to the slot.
  template <class T>
  void store(const Context<T>& ctx, void* slot) const {
    if (staged) reorder.run(ctx, ctx.staging(staging), slot);
  }
};

// The operand of shape `d` in `slot`, as the primitive will see it: the device layout, with a
// reorder at the boundary (slot -> staging for an input, staging -> slot for an output).
// `staging` picks the staging buffer. An output that adds to the slot (`add`: an accumulated
// gradient) is written to staging and added by the reorder.
// `type`, where given, is the type the primitive computes in when it differs from the
// activations' (an f32 batch norm among bf16 activations): the reorder converts.
enum class Role { input, output };
// `md` with elements of another type, the same dimensions and strides.
inline memory::desc retyped(const memory::desc& md, memory::data_type type) {
  return memory::desc(md.get_dims(), type, md.get_strides());
}
template <class T>
Operand operand(Context<T>& ctx, ConstSlot<T> slot, Dims d, Role role, std::size_t staging, bool add = false,
                memory::data_type type = memory::data_type::undef) {
  Operand op;
  const Tensor t = ctx.tensor(slot, d);
  op.staging = staging;
  if (role == Role::input) ctx.reads_floats(slot.data);
  else ctx.wrote_floats(slot.data);
  const bool converted = type != memory::data_type::undef && type != ctx.activation_type();
  if (!add && !converted && (!t.plain || t.md == ctx.device_md(d, slot.image_stride))) {
    op.md = t.md;
  } else {
    op.staged = true;
    op.md = converted ? retyped(ctx.device_md(d), type) : ctx.device_md(d);
    if (role == Role::input)
      op.reorder.make(ctx, t.md, op.md);
    else
      op.reorder.make(ctx, op.md, t.md, add);
    ctx.need_staging(op.md.get_size());
  }
  op.mem = unbound(op.md, ctx.engine);
  return op;
}
template <class T>
Operand input_operand(Context<T>& ctx, ConstSlot<T> slot, Dims d, std::size_t staging = 0,
                      memory::data_type type = memory::data_type::undef) {
  return operand(ctx, slot, d, Role::input, staging, false, type);
}
// A u8 hand-off of shape `d` (quantisation.hpp): read or written in its slot as it lies.
template <class T>
Operand handed_off_operand(Context<T>& ctx, Dims d, const Quantisation& q) {
  Operand op;
  op.scale = q.scale;
  op.md = retyped(ctx.device_md(d), q.type);
  op.mem = unbound(op.md, ctx.engine);
  return op;
}
// Conv's or Linear's input in int8 precision: always in staging 0, quantised as calibration said
// (u8 or s8 in the device layout).
template <class T>
Operand quantised_input_operand(Context<T>& ctx, ConstSlot<T> slot, Dims d, const Quantisation& q) {
  Operand op;
  const Tensor t = ctx.tensor(slot, d);
  op.staged = true;
  op.scale = q.scale;
  op.md = retyped(ctx.device_md(d), q.type);
  Scales one;
  one.make(ctx.engine, 1, 0);
  op.reorder.make(ctx, t.md, op.md, false, one);
  ctx.need_staging(op.md.get_size());
  op.mem = unbound(op.md, ctx.engine);
  return op;
}
template <class T>
Operand output_operand(Context<T>& ctx, Slot<T> slot, Dims d, std::size_t staging = 1,
                       memory::data_type type = memory::data_type::undef) {
  return operand(ctx, ConstSlot<T>(slot), d, Role::output, staging, false, type);
}
// An input gradient dx: written, or added to what dx holds (`add`, BackwardArgs::accumulate_dx).
template <class T>
Operand gradient_operand(Context<T>& ctx, Slot<T> slot, Dims d, bool add, std::size_t staging = 3,
                         memory::data_type type = memory::data_type::undef) {
  return operand(ctx, ConstSlot<T>(slot), d, Role::output, staging, add, type);
}

// Whether a primitive runs oneDNN's generic C++ code ("ref:any", "nspc_bnorm:any", ...) rather
// than a kernel jitted for this processor.
inline bool runs_generic_code(const dnnl::primitive_desc_base& pd) {
  const std::string implementation = pd.impl_info_str();
  return implementation.starts_with("ref") || implementation.ends_with(":any");
}

// make(type) builds a primitive's operands and descriptor, computing in `type` (undef: the
// activations' type). Where lower-precision activations would run oneDNN's generic code, the
// primitive computes in f32 between converting reorders instead (bf16 batch norm on channel
// counts that are not a multiple of 16: docs/benchmarks.md).
template <class T, class Make>
auto in_a_jitted_type(const Context<T>& ctx, Make&& make) {
  auto pd = make(memory::data_type::undef);
  if (ctx.activation_type() != memory::data_type::f32 && runs_generic_code(pd)) pd = make(memory::data_type::f32);
  return pd;
}

// A parameter gradient (a weight's or a bias's) in the layout the primitive chose: written
// straight into the model's gradient buffer where that is the parameters' own layout (OIHW,
// [out, in], [C]) and nothing accumulates; otherwise into parameter staging at `offset` bytes and
// reordered into the buffer, added to it when the model accumulates gradients (a switch that
// may change between passes, so both reorders are made).
struct ParameterGradient {
  memory mem;
  bool plain_layout = false;
  std::size_t offset = 0;
  Reorder reorder, add;

  template <class T>
  void make(Context<T>& ctx, const memory::desc& chosen, const memory::desc& plain, std::size_t staging_offset) {
    plain_layout = chosen == plain;
    offset = staging_offset;
    if (!plain_layout) reorder.make(ctx, chosen, plain);
    add.make(ctx, chosen, plain, true);
    ctx.need_parameter_staging(offset + chosen.get_size());
    mem = unbound(chosen, ctx.engine);
  }
  // The bytes of parameter staging this gradient takes from its offset on.
  static std::size_t room(const memory::desc& chosen) { return (chosen.get_size() + 63) / 64 * 64; }

  template <class T>
  bool staged(const Context<T>& ctx) const {
    return ctx.accumulate_parameter_gradients || !plain_layout;
  }
  template <class T>
  void bind(const Context<T>& ctx, T* gradients) const {
    onednn::bind(mem, staged(ctx) ? static_cast<void*>(ctx.parameter_staging() + offset) : gradients);
  }
  template <class T>
  void store(const Context<T>& ctx, T* gradients) const {
    if (!staged(ctx)) return;
    (ctx.accumulate_parameter_gradients ? add : reorder).run(ctx, ctx.parameter_staging() + offset, gradients);
  }
};

// What a packed copy of the parameters was made from: the count of host writes
// (Context::parameter_version) and where the parameters lay; it is made again when either differs.
struct PackedFrom {
  std::uint64_t version = ~std::uint64_t{0};
  const void* values = nullptr;
  bool current(std::uint64_t parameter_version, const void* at) const {
    return version == parameter_version && values == at;
  }
  void record(std::uint64_t parameter_version, const void* at) {
    version = parameter_version;
    values = at;
  }
};

// Weights in the primitive's layout, packed from the parameters' f32 (OIHW / [out, in]); in
// int8 (an s8 layout) quantised with one scale per output channel, the leading dimensions up to
// `output_dimensions` of the parameters' (1 for [O, ...], 2 for grouped [G, O / G, ...]).
struct PackedWeights {
  memory packed;
  Reorder reorder;
  PackedFrom packed_from;
  std::vector<float> scales;  // int8: per output channel
  Scales scale_memory;
  float largest_code = 127;   // of the s8 weights: 63 without int8 dot products (quantisation.hpp)

  template <class T>
  void make(Context<T>& ctx, const memory::desc& parameters, const memory::desc& layout, int output_dimensions = 1) {
    packed = checked("weights", [&] { return memory(layout, ctx.engine); });  // its own buffer, once per plan
    if (layout.get_data_type() == memory::data_type::s8) {
      const memory::dims dims = parameters.get_dims();
      std::size_t outputs = 1;
      for (int k = 0; k < output_dimensions; ++k) outputs *= static_cast<std::size_t>(dims[static_cast<std::size_t>(k)]);
      scales.assign(outputs, 1.f);
      largest_code = has_int8_dot_product() ? 127.f : 63.f;
      scale_memory.make(ctx.engine, outputs, (1 << output_dimensions) - 1);
    }
    reorder.make(ctx, parameters, layout, false, scale_memory);
  }
  // Packs again when the parameters changed on the host (Context::parameter_version).
  template <class T>
  void refresh(const Context<T>& ctx, const T* values) {
    if (ctx.planning || packed_from.current(ctx.parameter_version, values)) return;
    if (!scales.empty())
      weight_scales(std::span<const float>(values, reorder.src.get_desc().get_size() / sizeof(float)), scales, largest_code);
    reorder.run(ctx, values, packed.get_data_handle(), scales.data());
    packed_from.record(ctx.parameter_version, values);
  }
  const memory* scale_argument() const { return scale_memory.bound(scales.data()); }
};

// A primitive's scratchpad memory, bound to the context's buffer.
template <class T>
memory scratchpad_for(Context<T>& ctx, const memory::desc& md) {
  ctx.need_scratchpad(md);
  return unbound(md, ctx.engine);
}

// N images of `d` as a 4-D descriptor: `md` itself, or the 2-D one of 1x1 images with NHWC
// strides (the same bytes; convolution, pooling and resampling take 4-D tensors alone, and oneDNN's fast
// kernels want src's tag on dst).
template <class T>
memory::desc four_d(const Context<T>& ctx, const memory::desc& md, Dims d) {
  if (md.get_ndims() == 4) return md;
  const auto dim = [](std::size_t v) { return static_cast<memory::dim>(v); };
  return memory::desc({dim(ctx.batch), dim(d.channels), dim(d.height), dim(d.width)}, md.get_data_type(),
                      memory::dims{dim(d.size()), 1, dim(d.width * d.channels), dim(d.channels)});
}

// A primitive of one image input and one image output and no weights (eltwise, softmax,
// resampling): forward y = f(x); backward dx (+)= f'(kept) dy, where `kept` is what its backward
// reads (x, y or nothing).
struct UnaryForwardPlan : Plan {
  Operand src, dst;
  memory scratchpad;
  dnnl::primitive primitive;
};
struct UnaryBackwardPlan : Plan {
  Operand kept, diff_dst, diff_src;
  int kept_argument = DNNL_ARG_SRC;
  memory scratchpad;
  dnnl::primitive primitive;
};
enum class Kept { nothing, input, output };
// How the descriptors of a unary primitive are shaped: as the operands lie, or 4-D.
enum class Rank { as_laid_out, four };

// make(src, dst) gives the forward primitive descriptor, once, while planning.
template <class Primitive, class T, class Make>
void unary_forward(Context<T>& ctx, const ForwardArgs<T>& a, Dims in, Dims out, Rank rank, Make&& make) {
  auto& p = ctx.template plan<UnaryForwardPlan>(Direction::forward, [&] {
    auto plan = std::make_unique<UnaryForwardPlan>();
    plan->src = input_operand(ctx, a.x, in);
    plan->dst = output_operand(ctx, a.y, out);
    if (rank == Rank::four) {
      plan->src.mem = unbound(four_d(ctx, plan->src.md, in), ctx.engine);
      plan->dst.mem = unbound(four_d(ctx, plan->dst.md, out), ctx.engine);
    }
    const auto pd = make(plan->src.mem.get_desc(), plan->dst.mem.get_desc());
    plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
    plan->primitive = Primitive(pd);
    return plan;
  });
  if (ctx.planning) return;
  p.src.load(ctx, a.x.data);
  p.dst.bind_output(ctx, a.y.data);
  bind(p.scratchpad, ctx.scratchpad());
  ctx.run(p.primitive, {{DNNL_ARG_SRC, &p.src.mem}, {DNNL_ARG_DST, &p.dst.mem}, {DNNL_ARG_SCRATCHPAD, &p.scratchpad}});
  p.dst.store(ctx, a.y.data);
}

// make(diff_src, diff_dst, kept) gives the backward primitive descriptor (kept: an empty
// descriptor where backward reads nothing), once, while planning.
template <class Primitive, class T, class Make>
void unary_backward(Context<T>& ctx, const BackwardArgs<T>& a, Dims in, Dims out, Rank rank, Kept kept, Make&& make) {
  if (!a.dx) return;
  auto& p = ctx.template plan<UnaryBackwardPlan>(Direction::backward, [&] {
    auto plan = std::make_unique<UnaryBackwardPlan>();
    const auto shaped = [&](Operand& op, Dims d) {
      if (rank == Rank::four) op.mem = unbound(four_d(ctx, op.md, d), ctx.engine);
      return op.mem.get_desc();
    };
    memory::desc kept_md;
    if (kept == Kept::input) {
      plan->kept = input_operand(ctx, a.x, in, 0);
      kept_md = shaped(plan->kept, in);
    } else if (kept == Kept::output) {
      plan->kept = input_operand(ctx, a.y, out, 1);
      plan->kept_argument = DNNL_ARG_DST;
      kept_md = shaped(plan->kept, out);
    }
    plan->diff_dst = input_operand(ctx, a.dy, out, 2);
    plan->diff_src = gradient_operand(ctx, a.dx, in, a.accumulate_dx);
    const auto pd = make(shaped(plan->diff_src, in), shaped(plan->diff_dst, out), kept_md);
    plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
    plan->primitive = Primitive(pd);
    return plan;
  });
  if (ctx.planning) return;
  if (p.kept.mem) p.kept.load(ctx, p.kept_argument == DNNL_ARG_DST ? static_cast<const void*>(a.y.data) : a.x.data);
  p.diff_dst.load(ctx, a.dy.data);
  p.diff_src.bind_output(ctx, a.dx.data);
  bind(p.scratchpad, ctx.scratchpad());
  ctx.run(p.primitive, {{p.kept_argument, &p.kept.mem},
                        {DNNL_ARG_DIFF_DST, &p.diff_dst.mem},
                        {DNNL_ARG_DIFF_SRC, &p.diff_src.mem},
                        {DNNL_ARG_SCRATCHPAD, &p.scratchpad}});
  p.diff_src.store(ctx, a.dx.data);
}

// The forward of a layer with weights (convolution, inner product): its primitive made by the
// layer's planning from the pieces below, run by weighted_forward. In int8 the input is
// quantised into staging 0 and the primitive takes the input's and the weights' scales.
struct WeightedForwardPlan : Plan {
  Operand src, dst;
  PackedWeights weights;
  memory bias, scratchpad;
  dnnl::primitive primitive;
  std::size_t layer = 0;           // its number among the Conv and Linear layers (Context::input_ranges)
  std::size_t image_elements = 0;  // of its input
  std::size_t output_elements = 0;
  Scales src_scale, dst_scale;     // int8; dst_scale where the output is a u8 hand-off (dst.scale)
  memory shortcut;                 // a residual sum's shortcut, added as a post-op (where made)
};

// The input operand of `plan`, as the precision wants it (quantised as calibrated in int8).
template <class T>
Operand weighted_input(Context<T>& ctx, WeightedForwardPlan& plan, ConstSlot<T> x, Dims d) {
  plan.layer = ctx.weighted_layers++;
  plan.image_elements = d.size();
  if (ctx.precision != Precision::int8) return input_operand(ctx, x, d);
  plan.src_scale.make(ctx.engine, 1, 0);
  if (const auto handed_off = ctx.hand_offs.find(x.data)) return handed_off_operand(ctx, d, handed_off->quantisation);
  const bool covered = plan.layer < ctx.input_ranges.size() && ctx.input_ranges[plan.layer].seen() &&
                       ctx.input_ranges[plan.layer].image_elements == d.size();
  if (!covered)
    throw Error("int8 precision", "the calibration does not cover Conv / Linear layer " + std::to_string(plan.layer) +
                                      " of this network: calibrate(images) again");
  return quantised_input_operand(ctx, x, d, Quantisation::of(ctx.input_ranges[plan.layer]));
}
// Whether `f` leaves no negative value (ReLU, ReLU6): the output of a Conv fusing it can be u8.
inline bool non_negative(EltwiseFunction f) {
  using dnnl::algorithm;
  switch (f.algorithm) {
    case algorithm::eltwise_relu:
    case algorithm::eltwise_relu_use_dst_for_bwd: return f.alpha == 0;
    case algorithm::eltwise_clip:
    case algorithm::eltwise_clip_v2:
    case algorithm::eltwise_clip_v2_use_dst_for_bwd: return f.alpha >= 0;
    default: return false;
  }
}

// int8: the layer's output (`plan.dst`, planned in f32) as a u8 hand-off to the layers after it,
// where its fused activation leaves no negative value, it lies in the device layout, and
// calibration saw its range; scaled as a Concat asks (its own output's scale) or by that range.
// Call once per weighted layer while planning int8 (producers are numbered as planning meets them).
template <class T>
void hand_off_output(Context<T>& ctx, WeightedForwardPlan& plan, const void* y, Dims d, EltwiseFunction activation) {
  plan.output_elements = d.size();
  if (!ctx.planning_int8()) return;
  const std::size_t producer = ctx.hand_offs.new_producer();
  if (!non_negative(activation) || plan.dst.staged || ctx.is_plain(y) || !ctx.hand_offs.may_quantise(producer)) return;
  const std::optional<Quantisation> q = ctx.hand_offs.output_quantisation(y, ctx.output_ranges, plan.layer, d.size());
  if (!q) return;
  plan.dst.md = retyped(plan.dst.md, memory::data_type::u8);
  plan.dst.mem = unbound(plan.dst.md, ctx.engine);
  plan.dst.scale = q->scale;
  plan.dst_scale.make(ctx.engine, 1, 0);
  ctx.wrote_quantised(y, *q, producer);
}

// The primitive's attributes: the context's scratchpad, a fused activation (a post-op), and in
// int8 the scales of the input (one), of the weights (per output channel: the first
// `output_dimensions`) and of a u8 output (one: the primitive divides by it).
template <class T>
dnnl::primitive_attr weighted_attributes(const Context<T>& ctx, const WeightedForwardPlan& plan,
                                         EltwiseFunction activation, int output_dimensions = 1) {
  dnnl::primitive_attr attr = user_scratchpad(activation);
  if (ctx.precision == Precision::int8) {
    plan.src_scale.set(attr, DNNL_ARG_SRC);
    attr.set_scales_mask(DNNL_ARG_WEIGHTS, (1 << output_dimensions) - 1);
    plan.dst_scale.set(attr, DNNL_ARG_DST);
  }
  return attr;
}

// A Sum + ReLU's request (Context::residual_addition): where this layer writes the body's
// output `y` at walk position `last_node`, with no activation of its own, into the device layout
// (not staged), it takes the request: binary add of the shortcut (dst's layout and type), then
// ReLU, appended to `attr`'s post-ops. In bf16 on AMX only, where the convolutions are fast
// enough for the memory traffic to count: ResNet-50 there ran 3-6% faster so, and 1-3% slower
// in f32 (docs/benchmarks.md); int8 adds in the Sum's own loop, which hands u8 on.
inline bool adds_residuals_as_post_ops(Precision precision) { return precision == Precision::bf16 && has_amx(); }
template <class T>
void take_residual_addition(Context<T>& ctx, WeightedForwardPlan& plan, dnnl::primitive_attr& attr, const void* y,
                            std::size_t last_node, EltwiseFunction activation, const memory::desc& dst) {
  auto& request = ctx.residual_addition;
  if (!request || request->output != y || request->last_node != last_node || plan.dst.staged ||
      activation.algorithm != dnnl::algorithm::undef || !adds_residuals_as_post_ops(ctx.precision))
    return;
  dnnl::post_ops ops;
  ops.append_binary(dnnl::algorithm::binary_add, dst);
  ops.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  attr.set_post_ops(ops);
  plan.shortcut = unbound(dst, ctx.engine);
  request->taken = true;
  ++ctx.residual_post_ops;
}

// While calibrating (f32 passes), adds the N images of `image_elements` at `x` to ranges[k]
// (a layer's input or output).
template <class T>
void record_range(const Context<T>& ctx, std::vector<ValueRange>& ranges, std::size_t k, std::size_t image_elements,
                  const void* x) {
  if (!ctx.calibrating) return;
  if (ranges.size() <= k) ranges.resize(k + 1);
  ValueRange& range = ranges[k];
  range.image_elements = image_elements;
  range.observe({static_cast<const float*>(x), ctx.batch * image_elements});
}

// Runs a WeightedForwardPlan; the bias is `bias_offset` elements into the layer's parameters,
// where the layer has one. While calibrating (f32), records the range of the layer's input.
template <class T>
void weighted_forward(Context<T>& ctx, WeightedForwardPlan& p, const ForwardArgs<T>& a,
                      std::optional<std::size_t> bias_offset) {
  if (ctx.planning) return;
  p.src.load(ctx, a.x.data);
  record_range(ctx, ctx.input_ranges, p.layer, p.image_elements, p.src.mem.get_data_handle());
  p.dst.bind_output(ctx, a.y.data);
  p.weights.refresh(ctx, a.params.values);
  if (bias_offset) bind(p.bias, a.params.values + *bias_offset);
  bind(p.scratchpad, ctx.scratchpad());
  if (p.shortcut) {
    if (!ctx.residual_addition) throw Error("oneDNN backend", "a convolution planned to add a shortcut runs without one");
    bind(p.shortcut, ctx.residual_addition->shortcut);
  }
  ctx.run(p.primitive, {{DNNL_ARG_SRC, &p.src.mem},
                        {DNNL_ARG_WEIGHTS, &p.weights.packed},
                        {DNNL_ARG_BIAS, &p.bias},
                        {DNNL_ARG_DST, &p.dst.mem},
                        {DNNL_ARG_SCRATCHPAD, &p.scratchpad},
                        {DNNL_ARG_ATTR_SCALES | DNNL_ARG_SRC, p.src_scale.bound(&p.src.scale)},
                        {DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS, p.weights.scale_argument()},
                        {DNNL_ARG_ATTR_SCALES | DNNL_ARG_DST, p.dst_scale.bound(&p.dst.scale)},
                        {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, &p.shortcut}});
  record_range(ctx, ctx.output_ranges, p.layer, p.output_elements, p.dst.mem.get_data_handle());
  p.dst.store(ctx, a.y.data);
}

// The backward of a layer with weights (convolution, inner product): the weights' and bias'
// gradients from x and dy (unless frozen), then dx from dy and the weights packed for it (unless
// empty). Made by the layer's planning; run by weighted_backward.
struct WeightedBackwardPlan : Plan {
  Operand src, diff_dst, diff_src;
  PackedWeights weights;  // in the layout backward data chose
  ParameterGradient diff_weights, diff_bias;
  memory weights_scratchpad, data_scratchpad;
  dnnl::primitive weights_gradient, data_gradient;
  bool has_weights_gradient = false, has_data_gradient = false;
  // A 1x1 convolution's dx as a matmul, dx [N H W, In] (+)= dy [N H W, Out] x W [Out, In]: its
  // sum post-op adds to what dx holds, with no staging buffer and no adding reorder.
  memory dy_rows, dx_rows;
  bool data_gradient_as_matmul = false;
};

// Runs a WeightedBackwardPlan; the bias gradient goes `bias_offset` elements into the layer's
// gradients, where the layer has a bias.
template <class T>
void weighted_backward(Context<T>& ctx, WeightedBackwardPlan& p, const BackwardArgs<T>& a,
                       std::optional<std::size_t> bias_offset = std::nullopt) {
  const bool weights_gradient = p.has_weights_gradient && a.params.gradients;
  const bool data_gradient = p.has_data_gradient && a.dx;
  // Nothing left to compute (a convolution whose dW and dx both run as Winograd): dy is not even
  // loaded, which would reorder it where it is the caller's plain gradient.
  if (ctx.planning || (!weights_gradient && !data_gradient)) return;
  p.diff_dst.load(ctx, a.dy.data);
  if (weights_gradient) {
    T* gradient = a.params.gradients;
    p.src.load(ctx, a.x.data);
    p.diff_weights.bind(ctx, gradient);
    if (bias_offset) p.diff_bias.bind(ctx, gradient + *bias_offset);
    bind(p.weights_scratchpad, ctx.scratchpad());
    ctx.run(p.weights_gradient, {{DNNL_ARG_SRC, &p.src.mem},
                                 {DNNL_ARG_DIFF_DST, &p.diff_dst.mem},
                                 {DNNL_ARG_DIFF_WEIGHTS, &p.diff_weights.mem},
                                 {DNNL_ARG_DIFF_BIAS, bias_offset ? &p.diff_bias.mem : nullptr},
                                 {DNNL_ARG_SCRATCHPAD, &p.weights_scratchpad}});
    p.diff_weights.store(ctx, gradient);
    if (bias_offset) p.diff_bias.store(ctx, gradient + *bias_offset);
  }
  if (data_gradient) {
    p.weights.refresh(ctx, a.params.values);
    p.diff_src.bind_output(ctx, a.dx.data);
    bind(p.data_scratchpad, ctx.scratchpad());
    if (p.data_gradient_as_matmul) {
      bind(p.dy_rows, p.diff_dst.mem.get_data_handle());
      bind(p.dx_rows, p.diff_src.mem.get_data_handle());
      ctx.run(p.data_gradient, {{DNNL_ARG_SRC, &p.dy_rows},
                                {DNNL_ARG_WEIGHTS, &p.weights.packed},
                                {DNNL_ARG_DST, &p.dx_rows},
                                {DNNL_ARG_SCRATCHPAD, &p.data_scratchpad}});
    } else {
      ctx.run(p.data_gradient, {{DNNL_ARG_DIFF_DST, &p.diff_dst.mem},
                                {DNNL_ARG_WEIGHTS, &p.weights.packed},
                                {DNNL_ARG_DIFF_SRC, &p.diff_src.mem},
                                {DNNL_ARG_SCRATCHPAD, &p.data_scratchpad}});
    }
    p.diff_src.store(ctx, a.dx.data);
  }
}

}  // namespace ctnn::onednn
