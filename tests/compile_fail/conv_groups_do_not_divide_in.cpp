// expect: Conv_groups_must_divide_both_In_and_Out<3, 4, 6>
// nn.Conv2d(4, 6, 3, groups=3) is refused by PyTorch ("in_channels must be divisible by groups"):
// 4 input channels do not split into 3 groups. The arguments are <Groups, In, Out>. The check
// does not depend on the input, so it fires where the type is used. The twin splits 6 into 3.

#include <cstddef>   // std::size_t

#include <ctnn/layers/conv.hpp>   // ctnn::Conv

#ifdef CTNN_SHOULD_FAIL
constexpr std::size_t weights = ctnn::Conv<4, 6, 3, 1, 1, true, 3>::parameter_count;
#else
constexpr std::size_t weights = ctnn::Conv<6, 6, 3, 1, 1, true, 3>::parameter_count;
static_assert(weights == 6 * 2 * 3 * 3 + 6);
#endif
