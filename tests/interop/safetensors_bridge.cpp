// ctnn's side of ctest safetensors.python_package (test_safetensors_package.py drives it): reads
// and writes safetensors files with ctnn so the Python `safetensors` package can check them.
//
//   safetensors_bridge copy <in> <out> <values>   read <in> with safetensors::Reader, write its
//                                                  tensors and metadata again to <out>
//   safetensors_bridge save <out> <dtype> <values> save_weights of a small network (reference
//                                                  initialisation, seed 3) as F32/F16/BF16/F64
//   safetensors_bridge load <in> <values>          load_weights of that network from <in> (strict)
//
// <values> lists each tensor as ctnn sees it, one per line: "<name> <v0> <v1> ..." with every
// value printed exactly (%.17g; nan, inf). copy lists the file's tensors in file order (floating
// dtypes read as double, integers as int64); save and load list the network's tensors.

#include <cstdint>     // std::int64_t
#include <cstdio>      // std::fprintf, std::snprintf
#include <exception>   // std::exception
#include <filesystem>  // std::filesystem::path
#include <fstream>     // std::ofstream
#include <optional>    // std::optional
#include <span>        // std::span
#include <string>      // std::string
#include <vector>      // std::vector

#include <ctnn/ctnn.hpp>             // ctnn::Model, layers, ctnn::init, ctnn::named_tensors
#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader, serialize
#include <ctnn/io/weights.hpp>       // ctnn::save_weights, load_weights

namespace {

namespace st = ctnn::safetensors;

// A convolution with a batch norm (an I64 buffer) and a classifier: PyTorch's names
// conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var,
// bn.num_batches_tracked, fc.weight, fc.bias.
using Net = ctnn::Sequential<ctnn::Named<"conv", ctnn::Conv<3, 4, 3>>, ctnn::Named<"bn", ctnn::BatchNorm<4>>,
                             ctnn::ReLU, ctnn::Flatten, ctnn::Named<"fc", ctnn::Linear<36, 2>>>;
using Image = ctnn::Shape<3, 5, 5>;
using Network = ctnn::Model<Net, Image>;

void write_line(std::ofstream& out, const std::string& name, std::span<const double> values) {
  out << name;
  char text[64];
  for (double v : values) {
    std::snprintf(text, sizeof text, " %.17g", v);
    out << text;
  }
  out << '\n';
}

void write_model_values(const Network& model, const std::string& path) {
  std::ofstream out(path);
  for (const ctnn::NamedTensor& t : ctnn::named_tensors<Net, Image>()) {
    const auto storage = t.role == ctnn::TensorRole::parameter ? model.parameters() : model.buffers();
    const auto values = storage.subspan(t.offset, t.count);
    write_line(out, t.name, std::vector<double>(values.begin(), values.end()));
  }
}

void copy(const std::string& in, const std::string& out, const std::string& values_path) {
  const st::Reader reader = st::Reader::open(in);
  std::vector<st::TensorView> views;
  std::ofstream values(values_path);
  for (const st::TensorInfo& info : reader.tensors()) {
    views.push_back({info.name, info.dtype, info.shape, reader.raw(info)});
    std::vector<double> as_double(info.element_count());
    if (info.dtype == st::DType::F64 || info.dtype == st::DType::F32 || info.dtype == st::DType::F16 ||
        info.dtype == st::DType::BF16) {
      reader.read_as(info, std::span<double>(as_double));
    } else {
      std::vector<std::int64_t> integers(info.element_count());
      reader.read_as(info, std::span<std::int64_t>(integers));
      as_double.assign(integers.begin(), integers.end());
    }
    write_line(values, info.name, as_double);
  }
  st::write(out, views, reader.metadata());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 4 && args[0] == "copy") {
      copy(args[1], args[2], args[3]);
    } else if (args.size() == 4 && args[0] == "save") {
      Network model;
      ctnn::init::reference_uniform(model, 3);
      const std::optional<st::DType> dtype = st::dtype_from_name(args[2]);
      if (!dtype) throw ctnn::Error(args[2], "is no safetensors dtype");
      ctnn::save_weights(model, args[1], {.dtype = *dtype, .metadata = {{"written_by", "ctnn"}}});
      write_model_values(model, args[3]);
    } else if (args.size() == 3 && args[0] == "load") {
      Network model;
      ctnn::load_weights(model, std::filesystem::path(args[1]));
      write_model_values(model, args[2]);
    } else {
      std::fprintf(stderr, "usage: safetensors_bridge copy <in> <out> <values> | save <out> <dtype> <values> | load <in> <values>\n");
      return 2;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "safetensors_bridge: %s\n", error.what());
    return 1;
  }
  return 0;
}
