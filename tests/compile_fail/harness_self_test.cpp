// expect: static.assert.*harness self test message
// The compile-fail harness tests itself: without CTNN_SHOULD_FAIL this file compiles
// (compile_pass.harness_self_test); with it, the build fails with the message above
// (compile_fail.harness_self_test). A case for a real rule looks the same, e.g.
//   // expect: Conv<In=480, Out=.*>: receives 512 channels but was declared with In=480

#include <ctnn/error.hpp>   // ctnn::Error: any library header, to check the include path

#ifdef CTNN_SHOULD_FAIL
static_assert(sizeof(char) == 2, "harness self test message");
#else
static_assert(sizeof(char) == 1, "harness self test message");
#endif
