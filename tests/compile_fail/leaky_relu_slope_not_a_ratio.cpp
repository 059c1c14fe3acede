// expect: (template constraint failure for|constraints not satisfied for class template) .*LeakyReLU
// The negative slope is a std::ratio (C++20 compilers before clang 18 take no floating-point
// template arguments): a type that is not one is refused by LeakyReLU's Ratio constraint. The twin
// spells nn.LeakyReLU(0.2) as LeakyReLU<std::ratio<1, 5>>.

#include <ratio>   // std::ratio

#include <ctnn/layers/activations.hpp>   // ctnn::LeakyReLU

#ifdef CTNN_SHOULD_FAIL
static_assert(ctnn::LeakyReLU<float>::negative_slope == 0.2f);
#else
using Activation = ctnn::LeakyReLU<std::ratio<1, 5>>;
static_assert(Activation::negative_slope == 0.2);
#endif
