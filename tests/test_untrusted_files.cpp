// Hostile and careless inputs to the library: nothing lost, nothing silently wrong.
//   * io::read_regular_file refuses a FIFO, a device and a directory, without blocking
//   * io::write_file_atomically leaves no temporary file; remove_stale_temporaries removes those of
//     a write that was killed, and nothing else
//   * load_weights refuses NaN, infinities and negative BatchNorm running variances, naming the
//     tensor and changing nothing; LoadOptions{.check_values = false} loads them
//   * checkpoints carry a checksum: a changed byte in the tensors or the metadata is refused with
//     the file named; NaN in the optimizer's state is refused too
//   * a diverged Trainer run names the last good checkpoint, or says that there is none
//   * images are decoded strictly: JPEG data cut short (even with an end marker appended), a frame
//     header that claims more than the data holds, a PNG chunk with a wrong CRC; CMYK JPEGs come
//     out as PIL converts them
// The programs themselves are run with such inputs by tests/programs/test_programs.cpp.

#include <doctest/doctest.h>   // TEST_CASE, SUBCASE, CHECK, REQUIRE

#include <sys/stat.h>   // mkfifo
#include <unistd.h>     // geteuid

#include <zlib.h>   // crc32: PNG chunks made by hand

#include <algorithm>    // std::search, std::sort, std::fill_n
#include <cmath>        // std::isfinite
#include <cstdint>      // std::uint8_t, std::uint32_t, std::uint64_t
#include <cstring>      // std::memcpy
#include <filesystem>   // std::filesystem
#include <limits>       // std::numeric_limits
#include <span>         // std::span
#include <string>       // std::string
#include <vector>       // std::vector

#include <ctnn/ctnn.hpp>                      // ctnn::Model, layers, CPU kernels
#include <ctnn/data/fashion_mnist.hpp>        // ctnn::data::Dataset
#include <ctnn/io/file.hpp>                   // ctnn::io::*
#include <ctnn/io/image.hpp>                  // ctnn::image::decode, load
#include <ctnn/io/weights.hpp>                // ctnn::load_weights_from_memory, save_weights_to_memory
#include <ctnn/models/fashion_inception.hpp>  // ctnn::FashionInput
#include <ctnn/optim/sgd.hpp>                 // ctnn::optim::SGD
#include <ctnn/train/checkpoint.hpp>          // ctnn::train::save_checkpoint, load_checkpoint, checkpoint_checksum
#include <ctnn/train/trainer.hpp>             // ctnn::train::Trainer

#include "support/files.hpp"   // ctnn::test::TemporaryDirectory, file_bytes, write_file, set_float, with_new_checksum
#include "support/synthetic_set.hpp"   // ctnn::test::synthetic_set

#ifndef CTNN_TEST_DATA_DIR
#define CTNN_TEST_DATA_DIR "tests/data"
#endif

using namespace ctnn;
namespace fs = std::filesystem;
namespace st = ctnn::safetensors;

namespace {

using test::Bytes;
using test::file_bytes;
using test::set_float;
using test::TemporaryDirectory;
using test::write_file;

// The message of the ctnn::Error that `action` throws ("" and a failed check if none).
template <class Action>
std::string error_of(Action&& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  FAIL_CHECK("no ctnn::Error thrown");
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A network with BatchNorm (running_var) small enough to train in milliseconds.
struct TinyNet : Composed<Sequential<Named<"conv1", torchvision::BasicConv2d<1, 4, 3, 2, 1>>,  // 4 x 14 x 14
                                     Named<"pool", AdaptiveAvgPool<1, 1>>, Flatten, Named<"fc", Linear<4, 10>>>> {
  static constexpr std::string_view type_name = "TinyNet";
};
using TinyModel = Model<TinyNet, FashionInput>;

data::Dataset synthetic_dataset(std::size_t count, std::uint8_t shift) {
  return test::synthetic_set(
      count, [](std::size_t i) { return i % 10; },
      [&](std::size_t i, std::uint8_t label, std::span<std::uint8_t, 784> image) {
        for (std::size_t p = 0; p < image.size(); ++p)
          image[p] = static_cast<std::uint8_t>(20 * label + (p * 7 + i + shift) % 50);
      });
}

fs::path image_data(const std::string& name) { return fs::path(CTNN_TEST_DATA_DIR) / "images" / name; }

void put_big_endian(std::uint8_t* out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(value >> (24 - 8 * i));
}

// A PNG chunk: length, type, data, CRC of type and data (flipped in its lowest bit if !correct_crc).
Bytes png_chunk(const std::string& type, const Bytes& data, bool correct_crc = true) {
  Bytes chunk(12 + data.size());
  put_big_endian(chunk.data(), static_cast<std::uint32_t>(data.size()));
  std::memcpy(chunk.data() + 4, type.data(), 4);
  if (!data.empty()) std::memcpy(chunk.data() + 8, data.data(), data.size());
  const auto crc = static_cast<std::uint32_t>(crc32(0, chunk.data() + 4, static_cast<uInt>(4 + data.size())));
  put_big_endian(chunk.data() + 8 + data.size(), correct_crc ? crc : crc ^ 1u);
  return chunk;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

TEST_CASE("io::read_regular_file reads regular files only, and never blocks") {
  TemporaryDirectory directory("untrusted_regular");
  write_file(directory / "data", {1, 2, 3});
  CHECK(io::read_regular_file(directory / "data") == Bytes{1, 2, 3});
  write_file(directory / "empty", {});
  CHECK(io::read_regular_file(directory / "empty").empty());

  const fs::path fifo = directory / "fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  const std::string fifo_error = error_of([&] { (void)io::read_regular_file(fifo); });  // no writer: would block
  CHECK(contains(fifo_error, fifo.string() + ": is a FIFO (named pipe), not a regular file"));
  CHECK(contains(error_of([] { (void)io::read_regular_file("/dev/zero"); }), "/dev/zero: is a character device, not a regular file"));
  CHECK(contains(error_of([&] { (void)io::read_regular_file(directory.path()); }), "is a directory, not a regular file"));
  CHECK(contains(error_of([&] { (void)io::read_regular_file(directory / "absent"); }), "absent: file not found"));
  CHECK(contains(error_of([&] { (void)io::read_regular_file(directory / "data", 2); }), "3 bytes exceed the limit of 2"));

  // The readers of the library all go through it.
  CHECK(contains(error_of([&] { (void)st::Reader::open(fifo); }), "is a FIFO"));
  CHECK(contains(error_of([&] { (void)image::load(fifo); }), "is a FIFO"));
  CHECK(contains(error_of([&] { (void)image::load("/dev/zero"); }), "is a character device"));
  CHECK(contains(error_of([&] { (void)data::read_idx_labels(fifo); }), "is a FIFO"));
  CHECK(contains(error_of([] { (void)data::read_idx_images("/dev/zero"); }), "is a character device"));
}

TEST_CASE("io::write_file_atomically and remove_stale_temporaries") {
  TemporaryDirectory directory("untrusted_atomic");
  const fs::path target = directory / "file.bin";
  io::write_file_atomically(target, Bytes{1, 2});
  io::write_file_atomically(target, Bytes{3, 4, 5});
  CHECK(file_bytes(target) == Bytes{3, 4, 5});
  CHECK(directory.entries() == std::vector<std::string>{"file.bin"});

  // What a process killed between creating and renaming its temporary file leaves behind.
  write_file(directory / "file.bin.tmp-0123456789abcdef", {9});
  write_file(directory / "checkpoint.safetensors.tmp-fedcba9876543210", {9});
  write_file(directory / "notes.tmp-keep", {9});        // not the pattern: kept
  write_file(directory / "x.tmp-0123456789ABCDEF", {9});  // upper case: not ours, kept
  CHECK(io::remove_stale_temporaries(directory.path()) == 2);
  CHECK(directory.entries() == std::vector<std::string>{"file.bin", "notes.tmp-keep", "x.tmp-0123456789ABCDEF"});
  CHECK(io::remove_stale_temporaries(directory / "absent") == 0);
}

TEST_CASE("io::check_writable_directory creates the directory and proves it writable") {
  TemporaryDirectory directory("untrusted_writable");
  io::check_writable_directory(directory / "a/b");
  CHECK(fs::is_directory(directory / "a/b"));
  CHECK(fs::is_empty(directory / "a/b"));  // the probe file is gone
  write_file(directory / "file", {1});
  CHECK(contains(error_of([&] { io::check_writable_directory(directory / "file"); }), "exists and is not a directory"));
  CHECK(contains(error_of([&] { io::check_writable_directory(directory / "file/sub"); }), "cannot create the directory"));
  if (geteuid() != 0) {  // root writes anywhere
    fs::create_directories(directory / "locked");
    fs::permissions(directory / "locked", fs::perms::owner_read | fs::perms::owner_exec);
    CHECK(contains(error_of([&] { io::check_writable_directory(directory / "locked"); }), "cannot create files in this directory"));
    fs::permissions(directory / "locked", fs::perms::owner_all);
  }
}

// ---------------------------------------------------------------------------------------------
// Weights
// ---------------------------------------------------------------------------------------------

TEST_CASE("load_weights refuses NaN, infinities and negative running variances, naming the tensor") {
  TinyModel source;
  init::googlenet_seed(source, 3);
  const Bytes good = save_weights_to_memory(source);
  TinyModel target;
  init::googlenet_seed(target, 4);
  const std::vector<float> before(target.parameters().begin(), target.parameters().end());
  const auto unchanged = [&] { return std::equal(before.begin(), before.end(), target.parameters().begin()); };

  SUBCASE("NaN in a weight") {
    Bytes file = good;
    set_float(file, "conv1.conv.weight", 5, std::numeric_limits<float>::quiet_NaN());
    const std::string message = error_of([&] { load_weights_from_memory(target, file, {}, "w.safetensors"); });
    CHECK(contains(message, "w.safetensors: tensor 'conv1.conv.weight': holds NaN at element 5 of 36"));
    CHECK(contains(message, "check_values = false"));
    CHECK(unchanged());
    load_weights_from_memory(target, file, {.check_values = false});  // the caller's choice
    CHECK(std::isnan(target.parameters()[5]));
  }
  SUBCASE("infinite and negative running variances, all listed") {
    Bytes file = good;
    set_float(file, "conv1.bn.running_var", 1, std::numeric_limits<float>::infinity());
    set_float(file, "fc.bias", 2, -std::numeric_limits<float>::infinity());
    const std::string both = error_of([&] { load_weights_from_memory(target, file, {}, "w.safetensors"); });
    CHECK(contains(both, "2 tensors hold values no network can compute with"));
    CHECK(contains(both, "tensor 'conv1.bn.running_var': holds +infinity at element 1 of 4"));
    CHECK(contains(both, "tensor 'fc.bias': holds -infinity at element 2 of 10"));
    CHECK(unchanged());

    Bytes negative = good;
    set_float(negative, "conv1.bn.running_var", 3, -0.5f);
    CHECK(contains(error_of([&] { load_weights_from_memory(target, negative, {}, "w.safetensors"); }),
                   "tensor 'conv1.bn.running_var': holds the negative variance -0.500000 at element 3 of 4"));
    set_float(negative, "conv1.bn.running_var", 3, 0.0f);  // zero is a variance
    load_weights_from_memory(target, negative);
    set_float(negative, "conv1.bn.running_mean", 3, -0.5f);  // a negative mean is fine
    load_weights_from_memory(target, negative);
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------------------

TEST_CASE("Checkpoints carry a checksum: a changed byte or a NaN is refused, naming the file") {
  TemporaryDirectory directory("untrusted_checksum");
  TinyModel model;
  init::googlenet_seed(model, 5);
  optim::SGD<float> sgd(TinyModel::parameter_count, {.lr = 0.1, .momentum = 0.9});
  for (std::size_t i = 0; i < sgd.state_tensors()[0].values.size(); ++i) sgd.state_tensors()[0].values[i] = 0.01f * float(i % 7);
  train::TrainingState state;
  state.epoch = 3;
  state.optimizer = "sgd";
  state.dropout_generator = train::generator_state(model.generator());
  state.history = std::string(train::metrics_header) + "\n";
  const fs::path path = directory / "checkpoint.safetensors";
  train::save_checkpoint(path, model, sgd.state_tensors(), state);
  const Bytes saved = file_bytes(path);

  TinyModel other;
  optim::SGD<float> other_sgd(TinyModel::parameter_count, {.lr = 0.1, .momentum = 0.9});
  CHECK(train::load_checkpoint(path, other, other_sgd.state_tensors()).epoch == 3);
  init::googlenet_seed(other, 6);
  const std::vector<float> before(other.parameters().begin(), other.parameters().end());
  const auto refused = [&](const Bytes& bytes) {
    write_file(path, bytes);
    const std::string message = error_of([&] { (void)train::load_checkpoint(path, other, other_sgd.state_tensors()); });
    CHECK(contains(message, path.string()));
    CHECK(std::equal(before.begin(), before.end(), other.parameters().begin()));
    return message;
  };

  SUBCASE("a flipped bit in a tensor, in each tensor's first and last byte") {
    const st::Reader reader = st::Reader::from_bytes(saved, "saved");
    for (const st::TensorInfo& info : reader.tensors()) {
      CAPTURE(info.name);
      for (const std::size_t element : {std::size_t{0}, static_cast<std::size_t>(info.element_count() - 1)}) {
        Bytes flipped = saved;
        flipped[test::element_offset(saved, info.name, element)] ^= 0x04;
        CHECK(contains(refused(flipped), "checksum mismatch"));
      }
    }
  }
  SUBCASE("a changed metadata value") {
    Bytes changed = saved;
    const std::string key = "\"ctnn.train.epoch\":\"3\"";
    const auto at = std::search(changed.begin(), changed.end(), key.begin(), key.end());
    REQUIRE(at != changed.end());
    *(at + static_cast<std::ptrdiff_t>(key.size()) - 2) = '4';
    CHECK(contains(refused(changed), "checksum mismatch"));
  }
  SUBCASE("NaN in the optimizer's state or the weights, with a checksum that fits") {
    for (const std::string name : {"optimizer.momentum_buffer", "fc.weight"}) {
      CAPTURE(name);
      Bytes poisoned = saved;
      set_float(poisoned, name, 7, std::numeric_limits<float>::quiet_NaN());
      // With a checksum that fits: the values must be refused for what they are.
      const std::string message = refused(test::with_new_checksum(poisoned));
      CHECK(contains(message, "tensor '" + name + "': holds NaN at element 7"));
    }
  }
  SUBCASE("a checkpoint without a checksum") {
    CHECK(contains(refused(test::with_new_checksum(saved, /*checksum=*/false)), "has no checksum"));
  }
}

// ---------------------------------------------------------------------------------------------
// A run that diverges
// ---------------------------------------------------------------------------------------------

TEST_CASE("Trainer: a diverged run tells the truth about the checkpoint a user can go back to") {
  const data::Dataset train_set = synthetic_dataset(64, 0), test_set = synthetic_dataset(32, 5);
  TemporaryDirectory directory("untrusted_diverged");
  train::TrainerOptions options;
  options.epochs = 2;
  options.batch = 32;
  options.lr = 0.05;
  options.warmup_epochs = 0;
  options.eval_batch = 32;
  options.out = directory.path();
  options.log = nullptr;
  TinyModel model;
  train::Trainer<TinyModel> trainer(model, train_set, test_set, options);

  SUBCASE("before its first checkpoint: none exists") {
    trainer.start();
    model.parameters().back() = std::numeric_limits<float>::quiet_NaN();  // fc.bias: the first loss is NaN
    const train::RunResult result = trainer.run();
    CHECK(result.status == train::RunStatus::diverged);
    CHECK(contains(result.message, "the training loss became NaN at epoch 1, batch 1"));
    CHECK(contains(result.message, "This run saved no checkpoint, so there is none to resume"));
    CHECK_FALSE(contains(result.message, "after epoch 0"));
    CHECK_FALSE(fs::exists(trainer.checkpoint_path()));
  }
  SUBCASE("before its first checkpoint, with an earlier run's checkpoint in the directory") {
    write_file(trainer.checkpoint_path(), {1});
    trainer.start();
    model.parameters().back() = std::numeric_limits<float>::quiet_NaN();
    const train::RunResult result = trainer.run();
    CHECK(contains(result.message, "This run saved no checkpoint"));
    CHECK(contains(result.message, trainer.checkpoint_path().string() + " is from an earlier run"));
  }
  SUBCASE("after a checkpoint: it is named, with its position") {
    trainer.start();
    trainer.on_epoch = [&](const train::EpochMetrics&) { model.parameters().back() = std::numeric_limits<float>::quiet_NaN(); };
    const train::RunResult result = trainer.run();
    CHECK(result.status == train::RunStatus::diverged);
    CHECK(contains(result.message, "The last good checkpoint is " + trainer.checkpoint_path().string() + " (after epoch 1)"));
  }
  SUBCASE("finite weights whose evaluation is not finite: the test loss stops it") {
    trainer.start();
    // Training-mode batch norm does not read its running mean; the evaluation subtracts it, and
    // -3e38 makes activations that overflow to infinity further on.
    for (const NamedTensor& tensor : named_tensors<TinyNet, FashionInput>())
      if (tensor.name == "conv1.bn.running_mean") std::fill_n(model.buffers().begin() + tensor.offset, tensor.count, -3e38f);
    const train::RunResult result = trainer.run();
    CHECK(result.status == train::RunStatus::diverged);
    CAPTURE(result.message);
    CHECK(contains(result.message, "the test loss became NaN after epoch 1"));
    CHECK_FALSE(fs::exists(trainer.checkpoint_path()));
  }
}

// ---------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------

TEST_CASE("image::decode is strict about JPEG data") {
  const Bytes jpeg = file_bytes(image_data("synthetic_320x240.jpg"));
  REQUIRE(jpeg.size() > 1000);
  SUBCASE("data cut short, with an end-of-image marker appended") {
    Bytes cut(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() / 2));
    cut.insert(cut.end(), {0xFF, 0xD9});
    CHECK(contains(error_of([&] { (void)image::decode(cut, "cut.jpg"); }), "cut.jpg: corrupt JPEG: premature end of data segment"));
  }
  SUBCASE("a frame header that claims 16000 x 16000 pixels") {
    Bytes huge = jpeg;
    const Bytes sof0 = {0xFF, 0xC0};
    const auto at = std::search(huge.begin(), huge.end(), sof0.begin(), sof0.end());
    REQUIRE(at != huge.end());
    const auto position = static_cast<std::size_t>(at - huge.begin());
    for (const std::size_t field : {position + 5, position + 7}) huge[field] = 16000 >> 8, huge[field + 1] = 16000 & 0xFF;
    CHECK(contains(error_of([&] { (void)image::decode(huge, "huge.jpg"); }), "huge.jpg: corrupt JPEG"));
  }
  SUBCASE("entropy-coded data that does not decode") {
    // 256 bits set in a row ("FF 00" is a stuffed FF): no Huffman code is all ones. (JPEG carries no
    // checksum: corruption that still decodes, as most does, cannot be told from the picture.)
    Bytes scrambled = jpeg;
    for (std::size_t i = scrambled.size() / 2; i < scrambled.size() / 2 + 64; i += 2) scrambled[i] = 0xFF, scrambled[i + 1] = 0;
    CHECK(contains(error_of([&] { (void)image::decode(scrambled, "scrambled.jpg"); }), "scrambled.jpg: corrupt JPEG"));
  }
}

TEST_CASE("image::decode is strict about PNG chunks") {
  const Bytes png = file_bytes(image_data("gray_40x30.png"));
  constexpr std::size_t ihdr_end = 8 + 8 + 13 + 4;  // signature, IHDR length + type, data, CRC
  SUBCASE("a wrong CRC in a critical chunk") {
    Bytes bad = png;
    bad[ihdr_end - 1] ^= 0x01;
    CHECK(contains(error_of([&] { (void)image::decode(bad, "bad.png"); }), "bad.png: corrupt PNG: IHDR: CRC error"));
  }
  SUBCASE("a wrong CRC in an ancillary chunk") {
    Bytes bad(png.begin(), png.begin() + ihdr_end);
    const std::string comment = "Comment";
    Bytes text(comment.begin(), comment.end());
    text.push_back(0);
    const Bytes chunk = png_chunk("tEXt", text, /*correct_crc=*/false);
    bad.insert(bad.end(), chunk.begin(), chunk.end());
    bad.insert(bad.end(), png.begin() + ihdr_end, png.end());
    CHECK(contains(error_of([&] { (void)image::decode(bad, "bad.png"); }), "bad.png: corrupt PNG: tEXt: CRC error"));
    Bytes good(png.begin(), png.begin() + ihdr_end);
    const Bytes good_chunk = png_chunk("tEXt", text);
    good.insert(good.end(), good_chunk.begin(), good_chunk.end());
    good.insert(good.end(), png.begin() + ihdr_end, png.end());
    CHECK(image::decode(good, "good.png").pixels == image::decode(png, "png").pixels);
  }
  SUBCASE("a header claiming more pixels than the compressed data can hold") {
    Bytes header(png.begin() + 16, png.begin() + 29);  // IHDR data: width, height, ...
    header[0] = 0, header[1] = 0, header[2] = 0x3E, header[3] = 0x80;  // 16000
    header[4] = 0, header[5] = 0, header[6] = 0x3E, header[7] = 0x80;
    Bytes huge(png.begin(), png.begin() + 8);
    const Bytes ihdr = png_chunk("IHDR", header);
    huge.insert(huge.end(), ihdr.begin(), ihdr.end());
    huge.insert(huge.end(), png.begin() + ihdr_end, png.end());
    CHECK(contains(error_of([&] { (void)image::decode(huge, "huge.png"); }), "cannot hold a 16000 x 16000 image"));
  }
}

TEST_CASE("image::load decodes a CMYK JPEG to the RGB pixels PIL's convert('RGB') gives") {
  const image::Image image = image::load(image_data("jpeg_cmyk_29x21.jpg"), 0);
  CHECK(image.width == 29);
  CHECK(image.height == 21);
  REQUIRE(image.channels == 3);
  CHECK(image.pixels == file_bytes(image_data("jpeg_cmyk_29x21.pixels.bin")));
}
