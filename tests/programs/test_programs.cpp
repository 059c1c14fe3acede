// ctnn-classify and ctnn-train-fashion-mnist run as a user runs them, with the hostile and careless
// inputs that once went wrong, one test case per case (nothing lost, nothing silently wrong):
//
//   training again into an --out that holds a run     stops before training, naming --resume and --overwrite
//   NaN in a weight; infinite or negative running_var  refused, naming the tensor
//   --lr 1e30 (the loss becomes NaN)                   exit 2, saying that no checkpoint exists
//   --resume from a damaged or NaN checkpoint          refused, naming the file
//   a JPEG cut short with FF D9 appended; a JPEG       refused, at once and in little memory
//   whose frame header claims 16000 x 16000
//   a PNG with a bad chunk CRC                         refused
//   a FIFO or /dev/zero as an image (weights, ...)     a clear error, no hang
//   an existing but unwritable --out                   reported before the data is read
//   a process killed while writing a checkpoint        its temporary file goes at the next start;
//                                                      written files are synced before the rename
//   --threads 100000                                   refused, naming the limit
//   --top 0                                            a short message
//   --warmup nan, --time-limit -1, --train-subset -1   refused, as every other bad number
//   many images at the default batch size              memory does not grow with their number
//
// The programs' paths come from CMake (CTNN_CLASSIFY, CTNN_TRAIN_FASHION_MNIST); training runs on a
// tiny made-up data set of 64 + 32 images for one epoch, so each run takes a second or two.

#include <doctest/doctest.h>   // TEST_CASE, SUBCASE, CHECK, REQUIRE, MESSAGE

#include <sys/stat.h>   // mkfifo
#include <unistd.h>     // geteuid

#include <algorithm>    // std::search, std::count
#include <cstdint>      // std::uint8_t, std::uint32_t, std::uint64_t
#include <filesystem>   // std::filesystem
#include <fstream>      // std::ifstream: the strace log
#include <limits>       // std::numeric_limits
#include <map>          // std::map
#include <string>       // std::string
#include <vector>       // std::vector

#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader

#include "../support/files.hpp"         // ctnn::test::TemporaryDirectory, file_bytes, write_file, set_float, with_new_checksum
#include "../support/run_program.hpp"   // ctnn::test::run, Run, RunOptions

#ifndef CTNN_TEST_DATA_DIR
#define CTNN_TEST_DATA_DIR "tests/data"
#endif

namespace fs = std::filesystem;
namespace st = ctnn::safetensors;

namespace {

using ctnn::test::Bytes;
using ctnn::test::file_bytes;
using ctnn::test::set_float;
using ctnn::test::write_file;
using Scratch = ctnn::test::TemporaryDirectory;
using ctnn::test::run;
using ctnn::test::Run;
using ctnn::test::RunOptions;

const fs::path classify_program = CTNN_CLASSIFY;
const fs::path train_program = CTNN_TRAIN_FASHION_MNIST;
const fs::path source_dir = CTNN_SOURCE_DIR;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- A tiny Fashion-MNIST --------------------------------------------------------------------

void write_idx(const fs::path& path, const std::vector<std::uint32_t>& dimensions, const Bytes& values) {
  Bytes bytes{0, 0, 0x08, static_cast<std::uint8_t>(dimensions.size())};
  for (const std::uint32_t d : dimensions)
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<std::uint8_t>(d >> shift));
  bytes.insert(bytes.end(), values.begin(), values.end());
  write_file(path, bytes);
}

// 64 training and 32 test images (uncompressed IDX files), each class a brightness; made once, removed at exit.
fs::path tiny_fashion_mnist() {
  static const Scratch data("programs_data");
  static const bool written = [] {
    for (const auto& [prefix, count] : std::map<std::string, std::uint32_t>{{"train", 64}, {"t10k", 32}}) {
      Bytes images(std::size_t{count} * 784), labels(count);
      for (std::uint32_t i = 0; i < count; ++i) {
        labels[i] = static_cast<std::uint8_t>(i % 10);
        for (std::size_t p = 0; p < 784; ++p) images[i * 784 + p] = static_cast<std::uint8_t>(20 * (i % 10) + (p * 13 + i) % 40);
      }
      write_idx(data / (prefix + "-images-idx3-ubyte"), {count, 28, 28}, images);
      write_idx(data / (prefix + "-labels-idx1-ubyte"), {count}, labels);
    }
    return true;
  }();
  (void)written;
  return data.path();
}

// The arguments of a quick training run into `out`, then `extra`.
std::vector<std::string> quick_training(const fs::path& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> arguments{"--data", tiny_fashion_mnist().string(), "--out", out.string(), "--epochs", "1",
                                     "--batch", "32", "--threads", "1", "--augment", "none"};
  arguments.insert(arguments.end(), extra.begin(), extra.end());
  return arguments;
}

std::vector<std::string> classify_arguments(std::vector<std::string> extra) {
  std::vector<std::string> arguments{"--model", "fashion-mnist", "--threads", "1"};
  arguments.insert(arguments.end(), extra.begin(), extra.end());
  return arguments;
}

fs::path shipped(const std::string& name) { return source_dir / "examples" / "data" / name; }
fs::path test_image(const std::string& name) { return fs::path(CTNN_TEST_DATA_DIR) / "images" / name; }

// The first tensor whose name ends with `suffix`.
std::string tensor_ending_with(const Bytes& file, const std::string& suffix) {
  const st::Reader reader = st::Reader::from_bytes(file, "file");
  for (const st::TensorInfo& info : reader.tensors())
    if (info.name.ends_with(suffix)) return info.name;
  FAIL("no tensor ending with ", suffix);
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST_CASE("training again into an --out that holds a run stops before training, naming --resume and --overwrite") {
  Scratch scratch("programs_existing_run");
  const fs::path out = scratch / "run";
  const Run first = run(train_program, quick_training(out));
  CAPTURE(first.output);
  REQUIRE(first.exit_code == 0);
  const Bytes checkpoint = file_bytes(out / "checkpoint.safetensors");
  const Bytes weights = file_bytes(out / "fashion_inception.safetensors");
  REQUIRE(!checkpoint.empty());

  const Run again = run(train_program, quick_training(out));
  CAPTURE(again.output);
  CHECK(again.exit_code == 1);
  CHECK(contains(again.output, "holds a run (checkpoint.safetensors, metrics.csv, curves.png, fashion_inception.safetensors)"));
  CHECK(contains(again.output, "--resume"));
  CHECK(contains(again.output, "--overwrite"));
  CHECK_FALSE(contains(again.output, "epoch"));  // stopped before training
  CHECK(file_bytes(out / "checkpoint.safetensors") == checkpoint);
  CHECK(file_bytes(out / "fashion_inception.safetensors") == weights);

  const Run both = run(train_program, quick_training(out, {"--resume", "--overwrite"}));
  CHECK(both.exit_code != 0);
  CHECK(contains(both.output, "excludes"));

  const Run overwrite = run(train_program, quick_training(out, {"--overwrite", "--seed", "2"}));
  CAPTURE(overwrite.output);
  CHECK(overwrite.exit_code == 0);
  CHECK(contains(overwrite.output, "--overwrite: removed the run in"));
  CHECK(file_bytes(out / "checkpoint.safetensors") != checkpoint);  // another seed: another run
}

TEST_CASE("NaN in one weight tensor, infinite or negative running_var: ctnn-classify refuses the weights, naming the tensor") {
  Scratch scratch("programs_weights");
  const Bytes good = file_bytes(shipped("fashion_inception.safetensors"));
  const std::string weight = tensor_ending_with(good, "conv.weight");
  const std::string variance = tensor_ending_with(good, "running_var");
  const fs::path image = shipped("fashion_mnist_0_ankle_boot.png");
  struct Case {
    std::string tensor;
    float value;
    std::string reason;
  };
  for (const Case& bad : {Case{weight, std::numeric_limits<float>::quiet_NaN(), "holds NaN at element 3"},
                          Case{variance, std::numeric_limits<float>::infinity(), "holds +infinity at element 3"},
                          Case{variance, -0.25f, "holds the negative variance -0.250000 at element 3"}}) {
    CAPTURE(bad.reason);
    Bytes file = good;
    set_float(file, bad.tensor, 3, bad.value);
    const fs::path path = scratch / "bad.safetensors";
    write_file(path, file);
    const Run result = run(classify_program, classify_arguments({"--weights", path.string(), image.string()}));
    CAPTURE(result.output);
    CHECK(result.exit_code == 1);
    CHECK(contains(result.output, path.string() + ": tensor '" + bad.tensor + "': " + bad.reason));
    CHECK_FALSE(contains(result.output, "%"));  // nothing classified
  }
  const Run intact = run(classify_program, classify_arguments({image.string()}));
  CHECK(intact.exit_code == 0);
  CHECK(contains(intact.output, "Ankle boot"));
}

TEST_CASE("--lr 1e30: the run stops with exit status 2 and says that no checkpoint exists") {
  Scratch scratch("programs_diverge");
  const fs::path out = scratch / "run";
  const Run result = run(train_program, quick_training(out, {"--lr", "1e30"}));
  CAPTURE(result.output);
  CHECK(result.exit_code == 2);
  CHECK(contains(result.output, "stopped without saving"));
  CHECK(contains(result.output, "This run saved no checkpoint, so there is none to resume"));
  CHECK_FALSE(contains(result.output, "after epoch 0"));
  CHECK_FALSE(contains(result.output, "done"));
  CHECK_FALSE(fs::exists(out / "checkpoint.safetensors"));
  CHECK_FALSE(fs::exists(out / "fashion_inception.safetensors"));
}

TEST_CASE("--resume from a checkpoint with a flipped byte or NaN tensors is refused, naming the file") {
  Scratch scratch("programs_resume");
  const fs::path out = scratch / "run";
  // --time-limit stops after the first of the epoch's two batches, with a checkpoint (exit 3).
  const Run stopped = run(train_program, quick_training(out, {"--time-limit", "1e-9"}));
  CAPTURE(stopped.output);
  REQUIRE(stopped.exit_code == 3);
  const fs::path checkpoint = out / "checkpoint.safetensors";
  const Bytes saved = file_bytes(checkpoint);

  const std::string weight = tensor_ending_with(saved, "conv.weight");

  // A flipped byte.
  Bytes flipped = saved;
  flipped[ctnn::test::element_offset(saved, weight, 10)] ^= 0x20;
  write_file(checkpoint, flipped);
  const Run damaged = run(train_program, quick_training(out, {"--resume"}));
  CAPTURE(damaged.output);
  CHECK(damaged.exit_code == 1);
  CHECK(contains(damaged.output, checkpoint.string() + ": checksum mismatch"));
  CHECK_FALSE(contains(damaged.output, "epoch   1/1"));
  CHECK(file_bytes(checkpoint) == flipped);  // left for the user to look at

  // NaN in the weights and in the optimizer's state, under a checksum that fits.
  for (const std::string& tensor : {weight, std::string("optimizer.momentum_buffer")}) {
    CAPTURE(tensor);
    Bytes poisoned = saved;
    set_float(poisoned, tensor, 10, std::numeric_limits<float>::quiet_NaN());
    write_file(checkpoint, ctnn::test::with_new_checksum(poisoned));
    const Run result = run(train_program, quick_training(out, {"--resume"}));
    CAPTURE(result.output);
    CHECK(result.exit_code == 1);
    CHECK(contains(result.output, checkpoint.string() + ": tensor '" + tensor + "': holds NaN at element 10"));
  }

  // The intact checkpoint resumes and completes.
  write_file(checkpoint, saved);
  const Run resumed = run(train_program, quick_training(out, {"--resume"}));
  CAPTURE(resumed.output);
  CHECK(resumed.exit_code == 0);
  CHECK(contains(resumed.output, "resuming " + checkpoint.string() + ": epoch 1 (inside it)"));
}

TEST_CASE("a truncated JPEG with FF D9 appended and a JPEG whose SOF claims 16000x16000 are refused, in little memory") {
  Scratch scratch("programs_jpeg");
  const Bytes jpeg = file_bytes(test_image("synthetic_320x240.jpg"));
  Bytes cut(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() / 2));
  cut.insert(cut.end(), {0xFF, 0xD9});
  Bytes huge = jpeg;
  const Bytes sof0{0xFF, 0xC0};
  const auto at = std::search(huge.begin(), huge.end(), sof0.begin(), sof0.end());
  REQUIRE(at != huge.end());
  const auto sof = static_cast<std::size_t>(at - huge.begin());
  for (const std::size_t field : {sof + 5, sof + 7}) huge[field] = 16000 >> 8, huge[field + 1] = 16000 & 0xFF;
  write_file(scratch / "cut.jpg", cut);
  write_file(scratch / "huge.jpg", huge);
  const fs::path good = shipped("fashion_mnist_1_pullover.png");

  const Run result = run(classify_program, classify_arguments({(scratch / "cut.jpg").string(), (scratch / "huge.jpg").string(), good.string()}));
  CAPTURE(result.output);
  CHECK(result.exit_code == 1);
  CHECK(contains(result.output, (scratch / "cut.jpg").string() + ": corrupt JPEG: premature end of data segment"));
  CHECK(contains(result.output, (scratch / "huge.jpg").string() + ": corrupt JPEG"));
  CHECK(contains(result.output, "2 of 3 images could not be classified"));
  CHECK(contains(result.output, "Pullover"));  // the good one still is
  // 16000 x 16000 RGB would take 768 MB decoded: the hostile files cost next to nothing beside the
  // good image alone (whose run's memory is mostly the libraries loaded, CUDA's among them).
  const Run baseline = run(classify_program, classify_arguments({good.string()}));
  MESSAGE("peak memory: ", result.max_rss_kb / 1024, " MiB; the good image alone: ", baseline.max_rss_kb / 1024, " MiB");
  CHECK(result.max_rss_kb < baseline.max_rss_kb + 32 * 1024);
}

TEST_CASE("a PNG with a bad chunk CRC is refused") {
  Scratch scratch("programs_png");
  Bytes png = file_bytes(shipped("fashion_mnist_2_trouser.png"));
  const Bytes idat{'I', 'D', 'A', 'T'};
  const auto at = std::search(png.begin(), png.end(), idat.begin(), idat.end());
  REQUIRE(at != png.end());
  const auto type = static_cast<std::size_t>(at - png.begin());
  const std::size_t length = (std::size_t{png[type - 4]} << 24) | (std::size_t{png[type - 3]} << 16) |
                             (std::size_t{png[type - 2]} << 8) | png[type - 1];
  png[type + 4 + length] ^= 0x01;  // the first byte of IDAT's CRC
  write_file(scratch / "bad_crc.png", png);
  const Run result = run(classify_program, classify_arguments({(scratch / "bad_crc.png").string()}));
  CAPTURE(result.output);
  CHECK(result.exit_code == 1);
  CHECK(contains(result.output, (scratch / "bad_crc.png").string() + ": corrupt PNG: IDAT: CRC error"));
}

TEST_CASE("a FIFO or /dev/zero as an image, weights, labels or data gets a clear error, no hang") {
  Scratch scratch("programs_fifo");
  const fs::path fifo = scratch / "fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0644) == 0);
  const std::string image = shipped("fashion_mnist_0_ankle_boot.png").string();

  const Run images = run(classify_program, classify_arguments({fifo.string(), "/dev/zero", image}), {.timeout_s = 60});
  CAPTURE(images.output);
  CHECK(images.exit_code == 1);  // not killed by the alarm
  CHECK(contains(images.output, fifo.string() + ": is a FIFO (named pipe), not a regular file"));
  CHECK(contains(images.output, "/dev/zero: is a character device, not a regular file"));
  CHECK(contains(images.output, "Ankle boot"));

  for (const std::string option : {"--weights", "--labels"}) {
    CAPTURE(option);
    const Run result = run(classify_program, classify_arguments({option, fifo.string(), image}), {.timeout_s = 60});
    CAPTURE(result.output);
    CHECK(result.exit_code == 1);
    CHECK(contains(result.output, "is a FIFO (named pipe), not a regular file"));
  }

  fs::create_directories(scratch / "data");
  for (const auto& entry : fs::directory_iterator(tiny_fashion_mnist())) fs::copy(entry.path(), scratch / "data");
  fs::remove(scratch / "data" / "train-images-idx3-ubyte");
  REQUIRE(mkfifo((scratch / "data" / "train-images-idx3-ubyte").c_str(), 0644) == 0);
  std::vector<std::string> arguments = quick_training(scratch / "run");
  arguments[1] = (scratch / "data").string();
  const Run data = run(train_program, arguments, {.timeout_s = 60});
  CAPTURE(data.output);
  CHECK(data.exit_code == 1);
  CHECK(contains(data.output, "train-images-idx3-ubyte: is a FIFO (named pipe), not a regular file"));
}

TEST_CASE("an existing but unwritable --out is reported before the data is read") {
  Scratch scratch("programs_unwritable");
  const fs::path out = scratch / "locked";
  fs::create_directories(out);
  fs::permissions(out, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  const bool root = geteuid() == 0;  // root may write anywhere: run the program as 'nobody' then
  const Run result = run(train_program, quick_training(out), {.as_nobody = root});
  fs::permissions(out, fs::perms::owner_all);
  if (result.exit_code == 125) {
    MESSAGE("skipped: cannot run the program as 'nobody' here");
    return;
  }
  CAPTURE(result.output);
  CHECK(result.exit_code == 1);
  CHECK(contains(result.output, "--out " + out.string() + ": cannot create files in this directory: Permission denied"));
  CHECK_FALSE(contains(result.output, "data:"));  // before the data is read, let alone an epoch
}

TEST_CASE("a checkpoint write killed midway leaves a temporary file that the next start removes; writes are synced") {
  Scratch scratch("programs_killed");
  const fs::path out = scratch / "run";
  const Run stopped = run(train_program, quick_training(out, {"--time-limit", "1e-9"}));
  REQUIRE(stopped.exit_code == 3);
  // What a process killed between creating and renaming its temporary files leaves behind.
  const std::vector<std::string> stale{"checkpoint.safetensors.tmp-00112233445566ff", "metrics.csv.tmp-0123456789abcdef"};
  for (const std::string& name : stale) write_file(out / name, {1, 2, 3});
  write_file(out / "notes.txt", {1});

  RunOptions traced;
  const bool strace = run("strace", {"-o", "/dev/null", "true"}).exit_code == 0;
  if (strace) traced.prefix = {"strace", "-f", "-qq", "-e", "trace=fsync,rename,renameat,renameat2", "-o", (scratch / "trace").string()};
  const Run resumed = run(train_program, quick_training(out, {"--resume"}), traced);
  CAPTURE(resumed.output);
  CHECK(resumed.exit_code == 0);
  for (const std::string& name : stale) CHECK_FALSE(fs::exists(out / name));
  CHECK(fs::exists(out / "notes.txt"));

  if (!strace) {
    MESSAGE("strace cannot run here: the order fsync, rename, fsync of the directory is not checked");
    return;
  }
  // Each rename of a temporary file over checkpoint.safetensors is preceded by an fsync (of the
  // file) and followed by one (of the directory).
  std::ifstream trace(scratch / "trace");
  std::vector<std::string> calls;
  for (std::string line; std::getline(trace, line);) calls.push_back(line);
  std::size_t checked = 0;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (!contains(calls[i], "rename") || !contains(calls[i], "checkpoint.safetensors.tmp-")) continue;
    CAPTURE(calls[i]);
    CHECK((i > 0 && contains(calls[i - 1], "fsync(")));
    CHECK((i + 1 < calls.size() && contains(calls[i + 1], "fsync(")));
    ++checked;
  }
  CHECK(checked >= 1);
}

TEST_CASE("--threads 100000 is refused, naming the limit") {
  const Run classify = run(classify_program, {"--model", "fashion-mnist", "--threads", "100000", "x.png"});
  CHECK(classify.exit_code != 0);
  CHECK(contains(classify.output, "--threads: must be an integer from 0 to"));
  CHECK(contains(classify.output, "hardware threads"));
  Scratch scratch("programs_threads");
  const Run train = run(train_program, quick_training(scratch / "run", {"--threads", "100000"}));
  CHECK(train.exit_code != 0);
  CHECK(contains(train.output, "--threads: must be an integer from 0 to"));
  CHECK_FALSE(fs::exists(scratch / "run"));
}

TEST_CASE("--top 0 gets a short message") {
  const Run result = run(classify_program, {"--model", "fashion-mnist", "--top", "0", shipped("fashion_mnist_0_ankle_boot.png").string()});
  CAPTURE(result.output);
  CHECK(result.exit_code != 0);
  CHECK(contains(result.output, "--top: must be an integer from 1 to 1000, not '0'"));
  CHECK(result.output.size() < 200);
}

TEST_CASE("--warmup nan, --time-limit -1, --train-subset -1 and every other bad number are refused") {
  Scratch scratch("programs_numbers");
  struct Case {
    std::string option, value, message;
  };
  const Case training[] = {
      {"--warmup", "nan", "--warmup: must be a finite number of at least 0, not 'nan'"},
      {"--time-limit", "-1", "--time-limit: must be a finite number of at least 0, not '-1'"},
      {"--train-subset", "-1", "--train-subset: must be an integer of at least 0, not '-1'"},
      {"--train-subset", "65", "--train-subset 65: the training set holds only 64 images"},
      {"--lr", "nan", "--lr: must be a finite number above 0"},
      {"--lr", "inf", "--lr: must be a finite number above 0"},
      {"--lr", "0", "--lr: must be a finite number above 0"},
      {"--lr", "1e400", "--lr: must be a finite number above 0"},
      {"--epochs", "0", "--epochs: must be an integer from 1 to"},
      {"--epochs", "2.5", "--epochs: must be an integer from 1 to"},
      {"--batch", "0", "--batch: must be an integer from 1 to"},
      {"--weight-decay", "-0.1", "--weight-decay: must be a finite number of at least 0"},
      {"--seed", "-1", "--seed: must be an integer of at least 0"},
      {"--crop-padding", "0", "--crop-padding: must be an integer from 1 to 8"},
      {"--threads", "-1", "--threads: must be an integer from 0 to"},
  };
  for (const Case& bad : training) {
    CAPTURE(bad.option);
    CAPTURE(bad.value);
    const Run result = run(train_program, quick_training(scratch / "run", {bad.option, bad.value}));
    CAPTURE(result.output);
    CHECK(result.exit_code != 0);
    CHECK(contains(result.output, bad.message));
    CHECK_FALSE(contains(result.output, "epoch "));
  }
  const Case classifying[] = {
      {"--batch-size", "-1", "--batch-size: must be an integer from 0 to 4096, not '-1'"},
      {"--threads", "-2", "--threads: must be an integer from 0 to"},
      {"--top", "1e3", "--top: must be an integer from 1 to 1000, not '1e3'"},
  };
  for (const Case& bad : classifying) {
    CAPTURE(bad.option);
    const Run result = run(classify_program, classify_arguments({bad.option, bad.value, shipped("fashion_mnist_0_ankle_boot.png").string()}));
    CAPTURE(result.output);
    CHECK(result.exit_code != 0);
    CHECK(contains(result.output, bad.message));
  }
  const Run help = run(classify_program, {"--help"});
  CHECK(contains(help.output, "0, the default: as many as fit in 256 MiB of activations, at most 64"));
}

TEST_CASE("many images at the default batch size: memory does not grow with the number of images") {
  Scratch scratch("programs_many");
  const fs::path image = shipped("fashion_mnist_9_sneaker.png");
  std::vector<std::string> few, many;
  for (int i = 0; i < 640; ++i) {
    const fs::path link = scratch / ("image" + std::to_string(i) + ".png");
    fs::create_symlink(image, link);
    if (i < 64) few.push_back(link.string());
    many.push_back(link.string());
  }
  const Run small = run(classify_program, classify_arguments(few));
  const Run large = run(classify_program, classify_arguments(many));
  std::vector<std::string> all_at_once = many;
  all_at_once.insert(all_at_once.begin(), {"--batch-size", "640"});
  const Run one_batch = run(classify_program, classify_arguments(all_at_once));
  REQUIRE(small.exit_code == 0);
  REQUIRE(large.exit_code == 0);
  REQUIRE(one_batch.exit_code == 0);
  CHECK(std::count(large.output.begin(), large.output.end(), '%') == 640 * 5);  // every image, top 5
  MESSAGE("peak memory: 64 images ", small.max_rss_kb / 1024, " MiB; 640 images ", large.max_rss_kb / 1024,
          " MiB; 640 images in one batch ", one_batch.max_rss_kb / 1024, " MiB");
  CHECK(large.max_rss_kb < small.max_rss_kb + 32 * 1024);
  CHECK(one_batch.max_rss_kb > large.max_rss_kb + 100 * 1024);  // the check above would see growth
}
