#pragma once
// ctnn::Error: the one exception type the library throws at run time.
//
// It carries what failed (`subject`: a file, a tensor, a CUDA call), why (`reason`) and where in the
// library it was raised, so a message reads e.g.
//   ctnn: weights.safetensors: tensor 'conv1.conv.weight': shape [64, 3, 7, 7] expected, file has [64, 3, 5, 5]

#include <stdexcept>         // std::runtime_error
#include <string>            // std::string

namespace ctnn {

class Error : public std::runtime_error {
 public:
  // __builtin_FILE/__builtin_LINE rather than std::source_location: clang 14 with libstdc++ 12
  // has no std::source_location, and both compilers evaluate these at the call site.
  Error(std::string subject, std::string reason, const char* file = __builtin_FILE(),
        unsigned line = __builtin_LINE())
      : std::runtime_error(compose(subject, reason)),
        subject_(std::move(subject)),
        reason_(std::move(reason)),
        file_(file),
        line_(line) {}

  // What failed: a file path, a tensor name, an API call such as "cudnnConvolutionForward".
  const std::string& subject() const noexcept { return subject_; }
  // Why it failed, in words.
  const std::string& reason() const noexcept { return reason_; }
  // The library source location that raised the error.
  const char* source_file() const noexcept { return file_; }
  unsigned source_line() const noexcept { return line_; }

 private:
  static std::string compose(const std::string& subject, const std::string& reason) {
    return subject.empty() ? "ctnn: " + reason : "ctnn: " + subject + ": " + reason;
  }
  std::string subject_;
  std::string reason_;
  const char* file_;
  unsigned line_;
};

}  // namespace ctnn
