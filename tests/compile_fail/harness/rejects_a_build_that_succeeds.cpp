// expect: this message is never printed
// The harness's own check (ctest compile_fail_harness.rejects_a_build_that_succeeds, WILL_FAIL):
// this file compiles with CTNN_SHOULD_FAIL defined, so the harness must fail.

#ifdef CTNN_SHOULD_FAIL
static_assert(sizeof(char) == 1, "this message is never printed");
#endif
