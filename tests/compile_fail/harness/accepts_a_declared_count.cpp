// expect: the first of two messages
// errors: 2
// The harness's own check (ctest compile_fail_harness.accepts_a_declared_count): two errors where
// the file declares two pass.

#ifdef CTNN_SHOULD_FAIL
static_assert(sizeof(char) == 2, "the first of two messages");
static_assert(sizeof(char) == 3, "the second of two messages");
#endif
