#pragma once
// The pieces every oneDNN plan is made of:
//
//   Operand        an image operand of a primitive: the slot itself where it lies in the device
//                  layout, or a staging buffer reordered from (inputs) or to (outputs) the slot
//                  where it is the boundary's plain NCHW f32 (the model's output, say)
//   PackedWeights  the weights in the layout the primitive chose (format `any`), reordered from
//                  the model's f32 parameters when they have changed since the last pack
//   scratchpad     each primitive's scratchpad is the context's one buffer (user mode)

#include <cstddef>   // std::size_t
#include <cstdint>   // std::uint64_t

#include <dnnl.hpp>   // dnnl::reorder, dnnl::primitive_attr

#include <ctnn/evaluator.hpp>          // ctnn::Slot
#include <ctnn/onednn/context.hpp>     // ctnn::onednn::Context, Dims, bind, unbound

namespace ctnn::onednn {

// Attributes of every primitive: the scratchpad is the context's (user mode); `relu` appends a
// ReLU post-op (Conv + ReLU, Linear + ReLU fused).
inline dnnl::primitive_attr user_scratchpad(bool relu = false) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  return attr;
}

// A reorder from one descriptor to another, with its scratchpad in the context's.
struct Reorder {
  dnnl::reorder primitive;
  memory src, dst, scratchpad;

  template <class T>
  void make(Context<T>& ctx, const memory::desc& from, const memory::desc& to) {
    const auto pd = checked("reorder", [&] { return dnnl::reorder::primitive_desc(ctx.engine, from, ctx.engine, to, user_scratchpad()); });
    primitive = dnnl::reorder(pd);
    src = unbound(from, ctx.engine);
    dst = unbound(to, ctx.engine);
    scratchpad = unbound(pd.scratchpad_desc(), ctx.engine);
    ctx.need_scratchpad(pd.scratchpad_desc());
  }
  template <class T>
  void run(const Context<T>& ctx, const void* from, void* to) const {
    if (ctx.planning) return;
    bind(src, from);
    bind(dst, to);
    bind(scratchpad, ctx.scratchpad());
    ctx.run(primitive, {{DNNL_ARG_FROM, &src}, {DNNL_ARG_TO, &dst}, {DNNL_ARG_SCRATCHPAD, &scratchpad}});
  }
};

struct Operand {
  memory::desc md;       // what the primitive reads or writes
  memory mem;            // bound to the slot, or to staging buffer `staging`
  bool staged = false;
  std::size_t staging = 0;
  Reorder reorder;       // slot -> staging (input), staging -> slot (output)

  // Binds the operand for a pass over `slot`; an input is reordered into its staging buffer.
  template <class T>
  void load(const Context<T>& ctx, const void* slot) const {
    if (!staged) return bind(mem, slot);
    bind(mem, ctx.staging(staging));
    reorder.run(ctx, slot, ctx.staging(staging));
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
// `staging` picks the staging buffer.
enum class Role { input, output };
template <class T>
Operand operand(Context<T>& ctx, ConstSlot<T> slot, Dims d, Role role, std::size_t staging) {
  Operand op;
  const Tensor t = ctx.tensor(slot, d);
  op.staging = staging;
  if (!t.plain || t.md == ctx.device_md(d, slot.image_stride)) {
    op.md = t.md;
  } else {
    op.staged = true;
    op.md = ctx.device_md(d, d.size());
    if (role == Role::input)
      op.reorder.make(ctx, t.md, op.md);
    else
      op.reorder.make(ctx, op.md, t.md);
    ctx.need_staging(op.md.get_size());
  }
  op.mem = unbound(op.md, ctx.engine);
  return op;
}
template <class T>
Operand input_operand(Context<T>& ctx, ConstSlot<T> slot, Dims d, std::size_t staging = 0) {
  return operand(ctx, slot, d, Role::input, staging);
}
template <class T>
Operand output_operand(Context<T>& ctx, Slot<T> slot, Dims d, std::size_t staging = 1) {
  return operand(ctx, ConstSlot<T>(slot), d, Role::output, staging);
}

// Weights in the primitive's layout, packed from the parameters' f32 (OIHW / [out, in]).
struct PackedWeights {
  memory packed;
  Reorder reorder;
  std::uint64_t version = ~std::uint64_t{0};
  const void* from = nullptr;

  template <class T>
  void make(Context<T>& ctx, const memory::desc& parameters, const memory::desc& layout) {
    packed = checked("weights", [&] { return memory(layout, ctx.engine); });  // its own buffer, once per plan
    reorder.make(ctx, parameters, layout);
  }
  // Packs again when the parameters changed on the host (Context::parameter_version).
  template <class T>
  void refresh(const Context<T>& ctx, const T* values) {
    if (ctx.planning || (version == ctx.parameter_version && from == values)) return;
    reorder.run(ctx, values, packed.get_data_handle());
    version = ctx.parameter_version;
    from = values;
  }
};

// A primitive's scratchpad memory, bound to the context's buffer.
template <class T>
memory scratchpad_for(Context<T>& ctx, const memory::desc& md) {
  ctx.need_scratchpad(md);
  return unbound(md, ctx.engine);
}

}  // namespace ctnn::onednn
