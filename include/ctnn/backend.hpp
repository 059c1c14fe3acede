#pragma once
// ctnn::Backend<Device, T>: what a device supplies to the one model front end (ctnn/model.hpp):
// its memory and its executor. Everything else — mode, freezing, recording, the checks of every
// argument, auxiliary outputs, the arena's layout, the order of a pass — is the front end's.
//
//   using context_type                  the executor: derives from PassState<T> (pass_state.hpp)
//                                       and holds the kernels' state (threads; stream, handles)
//   template <class U> using Array      parameters, gradients, buffers: host(), host_view(),
//                                       device(), device_view() (spans or DeviceSpans), size()
//   static constexpr bool copies_input  every forward copies its images into the arena (true),
//                                       or evaluation reads the caller's images where they are
//   context()                           the executor
//   make_array<U>(count, what)          a zeroed Array
//   reserve_arena(elements, batch)      the arena, at least `elements` long (allocates only to grow)
//   arena_bytes()
//   workspace_elements(per_thread)      arena elements the executor wants for the kernels' work
//   attach_workspace(at, per_thread)    space, and where that space starts
//   copy_in(images, to)                 host images into the arena (on the executor's queue)
//   begin_staging(total)                room for `total` host values staged as below, then
//   stage(host, offset)                 a host span the pass will read, as the device sees it
//   zero(at, count)                     device memory set to 0, done before returning
//   host_view(which, data, count)       device results as a host span (downloaded once per
//   results_changed(forward)            pass, where host and device differ)
//   needs_replan()                      settings the plan depends on have changed
//   lay_out(ArenaParts) (optional)      where the parts the caller sees lie, and their shapes, for
//                                       a device whose layout differs from NCHW inside the network
//   plan(passes)                        runs passes(training) if the device plans its kernels
//   run_forward(mode, memory, queue)    runs queue(), the whole forward pass (or replays it)
//   finish_host_call()                  before returning to a caller who passed host spans
// CPU: ctnn/cpu/backend.hpp. CUDA: ctnn/cuda/backend.hpp.

#include <array>     // std::array
#include <cstddef>   // std::size_t

#include <ctnn/pass_state.hpp>   // ctnn::max_aux_outputs

namespace ctnn {

template <class Device, class T>
class Backend;

// The type members every Backend declares, from its executor, its array and its input rule.
template <class Context, template <class> class ArrayOf, bool CopiesInput>
struct BackendTypes {
  using context_type = Context;
  template <class U>
  using Array = ArrayOf<U>;
  static constexpr bool copies_input = CopiesInput;
};

// Which device result a host span shows (Backend::host_view).
enum class HostResult : std::size_t { output, input_gradient, recorded, aux0 };
inline constexpr std::size_t host_result_count = 3 + max_aux_outputs;

// The memory a captured forward pass reads and writes besides the model's parameters.
template <class T>
struct PassMemory {
  const T* input = nullptr;
  const T* output = nullptr;
  const T* scratch = nullptr;
  bool operator==(const PassMemory&) const = default;
};

// The parts of the arena the caller sees, and their per-image shapes (channels, height, width),
// given to a backend that declares lay_out(const ArenaParts<T>&) before each plan: the oneDNN
// backend keeps activations in its own layout and converts at these parts only.
template <class T>
struct ArenaParts {
  std::size_t batch = 0;
  const T* input = nullptr;           // the input copy (nullptr where the images are read in place)
  const T* output = nullptr;          // the network's output
  const T* input_gradient = nullptr;  // nullptr unless compute_input_gradient
  const T* recorded = nullptr;        // nullptr unless a layer is recorded
  std::array<std::size_t, 3> input_dims{}, output_dims{}, recorded_dims{};
};

}  // namespace ctnn
