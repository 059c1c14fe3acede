#pragma once
// Test support: running a program as a user runs it (its output, exit status and peak memory),
// for the tests of the example programs (tests/programs/).

#include <fcntl.h>          // open, O_WRONLY, O_CREAT, O_TRUNC, O_CLOEXEC
#include <sys/resource.h>   // rusage
#include <sys/wait.h>       // wait4, WIFEXITED, WEXITSTATUS
#include <unistd.h>         // fork, execvp, dup2, alarm, setuid, getpid

#include <doctest/doctest.h>   // REQUIRE

#include <cstdlib>      // setenv
#include <filesystem>   // std::filesystem
#include <string>       // std::string
#include <vector>       // std::vector

#include "files.hpp"   // ctnn::test::file_bytes, Bytes

namespace ctnn::test {

struct Run {
  int exit_code = -1;     // -1 if it did not exit (a signal, e.g. the alarm of a hang)
  int signal = 0;
  std::string output;     // stdout and stderr together
  long max_rss_kb = 0;    // the process's peak resident memory
};

struct RunOptions {
  bool as_nobody = false;   // drop root's rights first (root writes into any directory)
  unsigned timeout_s = 120;  // SIGALRM after this: a hang fails the test instead of blocking it
  std::vector<std::string> prefix{};  // e.g. strace and its arguments
};

// Runs `program` with `arguments`, as from a shell (one OpenMP thread), and waits for it.
inline Run run(const std::filesystem::path& program, const std::vector<std::string>& arguments,
               const RunOptions& options = {}) {
  static int counter = 0;
  const std::filesystem::path log =
      std::filesystem::temp_directory_path() /
      ("ctnn_programs_output_" + std::to_string(getpid()) + "_" + std::to_string(++counter));
  std::vector<std::string> words = options.prefix;
  words.push_back(program.string());
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);

  const int output = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(output >= 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    dup2(output, STDOUT_FILENO);
    dup2(output, STDERR_FILENO);
    setenv("OMP_WAIT_POLICY", "passive", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    alarm(options.timeout_s);
    if (options.as_nobody && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(125);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  ::close(output);
  int status = 0;
  rusage usage{};
  REQUIRE(wait4(child, &status, 0, &usage) == child);
  Run result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  const Bytes text = file_bytes(log);
  result.output.assign(text.begin(), text.end());
  result.max_rss_kb = usage.ru_maxrss;
  std::filesystem::remove(log);
  return result;
}

}  // namespace ctnn::test
