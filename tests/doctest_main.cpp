// The main() of every unit test executable: doctest's own, compiled once (ctnn_doctest_main).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>   // doctest: main(), TEST_CASE, CHECK
