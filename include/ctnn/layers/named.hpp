#pragma once
// ctnn::Named<"conv1", L>: L under the attribute name PyTorch gives it. Names build the
// parameter paths used by checkpoints ("conv1.conv.weight"); an unnamed child of a Sequential is
// named by its index, as in nn.Sequential ("branch2.0.conv.weight"). ctnn::Inline<L> is L under
// the empty name: its children take their parent's path.

#include <algorithm>     // std::copy_n
#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <type_traits>   // std::false_type

namespace ctnn {

// A string usable as a template argument: Named<"inception3a", ...>.
template <std::size_t N>
struct FixedString {
  char text[N]{};
  constexpr FixedString(const char (&s)[N]) { std::copy_n(s, N, text); }
  constexpr std::string_view view() const { return {text, N - 1}; }
};

template <FixedString Name, class L>
struct Named : L {
  using named_layer = L;
  static constexpr std::string_view name = Name.view();
};

namespace detail {
template <class L>
struct is_named : std::false_type {};
template <FixedString Name, class L>
struct is_named<Named<Name, L>> : std::true_type {};
}  // namespace detail

// The name of a child: its Named name, or its index as nn.Sequential names it.
template <class L>
constexpr bool is_named_v = detail::is_named<L>::value;

// L with the empty name: its own children stand directly under its parent's path, as the layers
// of a torchvision block are attributes of the block itself (layer1.0.conv1, not layer1.0.0.conv1).
// walk (ctnn/walk.hpp) still numbers L, but find_layer and the summary do not show it.
template <class L>
using Inline = Named<"", L>;

}  // namespace ctnn
