#pragma once
// Files that come from users, read and written with care. Every error is a ctnn::Error whose
// subject is the path.
//
//   io::read_regular_file(path)             the bytes of a regular file. Anything else is refused
//                                           by what it is: a FIFO would block the reader for ever,
//                                           /dev/zero never ends, a directory is no data
//   io::InputFile::open(path)               the same check, for a reader that streams (zlib)
//   io::write_file_atomically(path, parts)  "<path>.tmp-<16 hex digits>", fsync, rename over path,
//                                           fsync of the directory: after a crash or a power cut the
//                                           path holds the old file or the new one, never a mix
//   io::remove_stale_temporaries(dir)       deletes the temporary files that a process killed in the
//                                           middle of write_file_atomically left in dir
//   io::check_writable_directory(dir)       creates dir if needed and proves a file can be made there
//
// POSIX: open, fstat, fsync, rename.

#include <fcntl.h>      // ::open, O_RDONLY, O_NONBLOCK, O_CLOEXEC, fcntl
#include <sys/stat.h>   // ::fstat, S_ISREG, S_ISFIFO, ...
#include <unistd.h>     // ::read, ::write, ::close, ::fsync

#include <cerrno>         // errno, EINTR, ENOENT
#include <cstddef>        // std::size_t
#include <cstdint>        // std::uint8_t, std::uint64_t
#include <cstdio>         // std::snprintf
#include <filesystem>     // std::filesystem::path, rename, remove, directory_iterator
#include <new>            // std::bad_alloc
#include <random>         // std::random_device: temporary file names
#include <span>           // std::span
#include <string>         // std::string
#include <string_view>    // std::string_view
#include <system_error>   // std::generic_category, std::error_code
#include <utility>        // std::exchange
#include <vector>         // std::vector

#include <ctnn/error.hpp>   // ctnn::Error

namespace ctnn::io {

namespace file_detail {

inline std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

// Appends rather than writes "'" + text: GCC 12 at -O3 warns falsely (-Wrestrict) about the latter.
inline std::string quoted(const std::filesystem::path& path) {
  std::string text(1, '\'');
  text += path.string();
  text += '\'';
  return text;
}

// What a file system entry is, for a refusal: "is a FIFO (named pipe), not a regular file".
inline std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

// A file descriptor closed on destruction.
class Descriptor {
 public:
  explicit Descriptor(int descriptor = -1) noexcept : descriptor_(descriptor) {}
  Descriptor(Descriptor&& other) noexcept : descriptor_(std::exchange(other.descriptor_, -1)) {}
  Descriptor& operator=(Descriptor&& other) noexcept {
    if (this != &other) {
      reset();
      descriptor_ = std::exchange(other.descriptor_, -1);
    }
    return *this;
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() { reset(); }

  int get() const noexcept { return descriptor_; }
  int release() noexcept { return std::exchange(descriptor_, -1); }
  // Closes now; returns close()'s errno, or 0.
  int close() noexcept {
    if (descriptor_ < 0) return 0;
    const int result = ::close(std::exchange(descriptor_, -1));
    return result == 0 ? 0 : errno;
  }

 private:
  void reset() noexcept {
    if (descriptor_ >= 0) ::close(descriptor_);
    descriptor_ = -1;
  }
  int descriptor_;
};

inline int open_retrying(const char* path, int flags, mode_t mode = 0) {
  int descriptor = -1;
  do {
    descriptor = ::open(path, flags, mode);
  } while (descriptor < 0 && errno == EINTR);
  return descriptor;
}

// The suffix of a temporary file: ".tmp-" and 16 hexadecimal digits.
inline constexpr std::string_view temporary_marker = ".tmp-";
inline constexpr std::size_t temporary_digits = 16;

inline bool is_temporary_name(std::string_view name) {
  if (name.size() <= temporary_marker.size() + temporary_digits) return false;
  const std::string_view tail = name.substr(name.size() - temporary_digits);
  const std::string_view marker = name.substr(name.size() - temporary_digits - temporary_marker.size(), temporary_marker.size());
  if (marker != temporary_marker) return false;
  for (const char c : tail)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// A new file next to `path`, named path + ".tmp-<random>", created exclusively (never through an
// existing file or symbolic link). Removed on destruction unless committed.
struct TemporaryFile {
  std::filesystem::path path;
  Descriptor descriptor;
  bool committed = false;

  TemporaryFile() = default;
  explicit TemporaryFile(const std::filesystem::path& target) {
    if (const int error = create(target); error != 0)
      throw Error(target.string(), "cannot create the temporary file " + quoted(path) + ": " + errno_text(error));
  }
  // Creates the file; returns 0, or the errno of the failure (`path` then names the last try).
  int create(const std::filesystem::path& target) {
    std::random_device entropy;
    for (int attempt = 0;; ++attempt) {
      const std::uint64_t random = (static_cast<std::uint64_t>(entropy()) << 32) ^ entropy();
      char suffix[temporary_digits + 1];
      std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(random));
      path = target;
      path += std::string(temporary_marker) + suffix;
      const int created = open_retrying(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
      const int error = errno;  // saved before anything else can change it
      if (created >= 0) {
        descriptor = Descriptor(created);
        return 0;
      }
      if (error != EEXIST || attempt == 8) {
        committed = true;  // nothing of ours to remove
        return error;
      }
    }
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    descriptor.close();
    if (!committed) {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  }
};

// Makes a rename in `directory` durable. File systems that cannot sync a directory say EINVAL.
inline void sync_directory(const std::filesystem::path& directory, const std::string& label) {
  Descriptor handle(open_retrying(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (handle.get() < 0) return;  // e.g. a directory we may write into but not read: nothing to sync through
  if (::fsync(handle.get()) != 0 && errno != EINVAL && errno != ENOTSUP) {
    const int error = errno;
    throw Error(label, "written, but its directory could not be synced to disk: " + errno_text(error));
  }
}

}  // namespace file_detail

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

// A regular file open for reading. Opening does not block: a FIFO is opened without waiting for
// a writer and then refused, like every other entry that is not a regular file.
class InputFile {
 public:
  static InputFile open(const std::filesystem::path& path) {
    const std::string label = path.string();
    file_detail::Descriptor descriptor(
        file_detail::open_retrying(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (descriptor.get() < 0) {
      const int error = errno;
      throw Error(label, error == ENOENT ? std::string("file not found") : "cannot open the file: " + file_detail::errno_text(error));
    }
    struct stat status {};
    if (::fstat(descriptor.get(), &status) != 0) {
      const int error = errno;
      throw Error(label, "cannot read the file's status: " + file_detail::errno_text(error));
    }
    if (!S_ISREG(status.st_mode)) throw Error(label, "is " + file_detail::kind_of(status.st_mode) + ", not a regular file");
    // Reads block as usual from here on; O_NONBLOCK only kept open() from waiting.
    const int flags = ::fcntl(descriptor.get(), F_GETFL);
    if (flags >= 0) ::fcntl(descriptor.get(), F_SETFL, flags & ~O_NONBLOCK);
    return InputFile(std::move(descriptor), label, static_cast<std::uint64_t>(status.st_size));
  }

  int descriptor() const noexcept { return descriptor_.get(); }
  // Hands the descriptor over (to gzdopen, which closes it).
  int release() noexcept { return descriptor_.release(); }
  // The size when the file was opened.
  std::uint64_t size() const noexcept { return size_; }
  const std::string& label() const noexcept { return label_; }

  // Reads up to `size` bytes; fewer only at the end of the file.
  std::size_t read(void* destination, std::size_t size) {
    auto* bytes = static_cast<std::uint8_t*>(destination);
    std::size_t total = 0;
    while (total < size) {
      const ::ssize_t got = ::read(descriptor_.get(), bytes + total, size - total);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        const int error = errno;
        throw Error(label_, "read error after " + std::to_string(total) + " bytes: " + file_detail::errno_text(error));
      }
      if (got == 0) break;
      total += static_cast<std::size_t>(got);
    }
    return total;
  }

 private:
  InputFile(file_detail::Descriptor descriptor, std::string label, std::uint64_t size)
      : descriptor_(std::move(descriptor)), label_(std::move(label)), size_(size) {}

  file_detail::Descriptor descriptor_;
  std::string label_;
  std::uint64_t size_ = 0;
};

// The whole of a regular file; files larger than `max_bytes` are refused before anything is read.
inline std::vector<std::uint8_t> read_regular_file(const std::filesystem::path& path,
                                                   std::uint64_t max_bytes = std::uint64_t{1} << 40) {
  InputFile file = InputFile::open(path);
  const std::uint64_t size = file.size();
  if (size > max_bytes)
    throw Error(file.label(), "the file's " + std::to_string(size) + " bytes exceed the limit of " + std::to_string(max_bytes));
  std::vector<std::uint8_t> bytes;
  try {
    bytes.resize(static_cast<std::size_t>(size));
  } catch (const std::bad_alloc&) {
    throw Error(file.label(), "the file's " + std::to_string(size) + " bytes do not fit in memory");
  }
  const std::size_t got = file.read(bytes.data(), bytes.size());
  std::uint8_t extra = 0;
  if (got != bytes.size() || file.read(&extra, 1) != 0)
    throw Error(file.label(), "the file changed size while it was read (" + std::to_string(size) + " bytes when opened)");
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

// Writes the concatenation of `parts` to `path` atomically and durably (see the top). On failure
// the temporary file is removed and an existing file at `path` is left as it was.
inline void write_file_atomically(const std::filesystem::path& path, std::span<const std::span<const std::uint8_t>> parts) {
  const std::string label = path.string();
  file_detail::TemporaryFile temporary(path);
  const auto fail = [&](const std::string& what, int error) {
    throw Error(label, what + " the temporary file " + file_detail::quoted(temporary.path) + ": " + file_detail::errno_text(error));
  };
  for (const std::span<const std::uint8_t> part : parts) {
    std::size_t written = 0;
    while (written < part.size()) {
      const ::ssize_t count = ::write(temporary.descriptor.get(), part.data() + written, part.size() - written);
      if (count < 0 && errno == EINTR) continue;
      if (count < 0) fail("cannot write", errno);
      written += static_cast<std::size_t>(count);
    }
  }
  if (::fsync(temporary.descriptor.get()) != 0) fail("cannot write", errno);  // a full disk may only show here
  if (const int error = temporary.descriptor.close(); error != 0) fail("cannot write", error);
  std::error_code error;
  std::filesystem::rename(temporary.path, path, error);
  if (error) throw Error(label, "cannot rename the temporary file " + file_detail::quoted(temporary.path) + " to it: " + error.message());
  temporary.committed = true;
  file_detail::sync_directory(path.parent_path(), label);
}

inline void write_file_atomically(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  const std::span<const std::uint8_t> parts[] = {bytes};
  write_file_atomically(path, parts);
}

// Removes the temporary files ("<name>.tmp-<16 hex digits>") that an interrupted
// write_file_atomically left in `directory`; returns how many. Call it when no other process
// writes there.
inline std::size_t remove_stale_temporaries(const std::filesystem::path& directory) {
  std::size_t removed = 0;
  std::error_code error;
  for (std::filesystem::directory_iterator entry(directory, error), end; !error && entry != end; entry.increment(error)) {
    std::error_code ignored;
    if (entry->is_regular_file(ignored) && file_detail::is_temporary_name(entry->path().filename().string()) &&
        std::filesystem::remove(entry->path(), ignored))
      ++removed;
  }
  return removed;
}

// Creates `directory` (and its parents) if needed and checks that files can be created in it, so
// that a run learns of an unwritable output directory at its start, not at its first save.
inline void check_writable_directory(const std::filesystem::path& directory) {
  const std::string label = directory.string();
  std::error_code error;
  if (std::filesystem::exists(directory, error) && !std::filesystem::is_directory(directory, error))
    throw Error(label, "exists and is not a directory");
  std::filesystem::create_directories(directory, error);
  if (error) throw Error(label, "cannot create the directory: " + error.message());
  file_detail::TemporaryFile probe;  // removed again at once
  if (const int failure = probe.create(directory / "write-check"); failure != 0)
    throw Error(label, "cannot create files in this directory: " + file_detail::errno_text(failure));
}

}  // namespace ctnn::io
