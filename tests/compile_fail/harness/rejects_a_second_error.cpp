// expect: the first of two messages
// The harness's own check (ctest compile_fail_harness.rejects_a_second_error, WILL_FAIL): the
// expected message comes, but with a second error after it, and no "// errors: 2" line allows
// that, so the harness must fail.

#ifdef CTNN_SHOULD_FAIL
static_assert(sizeof(char) == 2, "the first of two messages");
static_assert(sizeof(char) == 3, "the second of two messages");
#endif
