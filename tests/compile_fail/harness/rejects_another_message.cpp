// expect: the message this file does not produce
// The harness's own check (ctest compile_fail_harness.rejects_another_message, WILL_FAIL): the
// build fails, but with another message than the expect line's, so the harness must fail.

#ifdef CTNN_SHOULD_FAIL
static_assert(sizeof(char) == 2, "a different message");
#endif
